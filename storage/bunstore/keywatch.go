package bunstore

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sendoka/sendoka/sendoka"
)

// keyChannel is the Postgres channel of API key changes: InsertAPIKey and RevokeAPIKey send
// the key's hash on it (pg_notify, delivered at commit), and every DB that watches keys
// listens on it. A channel is database-wide: installations in other schemas of the same
// database hear each other's hashes, which only costs them a lookup.
const keyChannel = "sendoka_api_keys"

// The key listener's timing. It pings its connection every keyPingInterval: each answered
// ping confirms that every notification sent before it was received (Postgres delivers them
// ahead of the answer), which is what KeysSynced reports. A ping unanswered within
// keyPingTimeout, or any error, drops the connection; it is opened again after
// keyRetryMin, doubling up to keyRetryMax while it keeps failing.
const (
	keyPingInterval = 250 * time.Millisecond
	keyPingTimeout  = 2 * time.Second
	keyRetryMin     = 100 * time.Millisecond
	keyRetryMax     = 5 * time.Second
)

var _ sendoka.KeyInvalidations = (*DB)(nil)

// keyWatch is a DB's one key listener and the watchers it reports to.
type keyWatch struct {
	mu       sync.Mutex
	watchers map[*keyWatcher]struct{}
	stop     context.CancelFunc // ends the listener; nil until it starts
	done     chan struct{}      // closed when the listener has ended
	closed   bool
}

// keyWatcher is one WatchAPIKeys registration (the same watcher may register twice).
type keyWatcher struct {
	ctx context.Context
	w   sendoka.KeyWatcher
}

// WatchAPIKeys reports API key changes to w until ctx is done or the DB is closed. On
// Postgres it starts the DB's key listener if it is not running yet: a goroutine with a
// connection of its own (outside the pool) that LISTENs on keyChannel, and reconnects with
// backoff when the connection fails, reporting KeysLost meanwhile. On SQLite, which has no
// feed (and one process per file in practice), it returns false.
func (db *DB) WatchAPIKeys(ctx context.Context, w sendoka.KeyWatcher) bool {
	if db.unbounded == nil {
		return false
	}
	kw := &db.keys
	kw.mu.Lock()
	defer kw.mu.Unlock()
	if kw.closed {
		return false
	}
	reg := &keyWatcher{ctx: ctx, w: w}
	if kw.watchers == nil {
		kw.watchers = map[*keyWatcher]struct{}{}
	}
	kw.watchers[reg] = struct{}{}
	if kw.stop == nil {
		lctx, stop := context.WithCancel(context.Background())
		kw.stop, kw.done = stop, make(chan struct{})
		go db.listenKeys(lctx)
	}
	context.AfterFunc(ctx, func() {
		kw.mu.Lock()
		defer kw.mu.Unlock()
		delete(kw.watchers, reg)
	})
	return true
}

// each calls fn for every watcher whose context is not done, outside the lock (a watcher
// may take its own).
func (kw *keyWatch) each(fn func(sendoka.KeyWatcher)) {
	kw.mu.Lock()
	regs := make([]*keyWatcher, 0, len(kw.watchers))
	for reg := range kw.watchers {
		regs = append(regs, reg)
	}
	kw.mu.Unlock()
	for _, reg := range regs {
		// The registration goes once its context is done; until then this check keeps a
		// watch that ended from hearing more.
		if reg.ctx.Err() == nil {
			fn(reg.w)
		}
	}
}

// stopKeyWatch ends the key listener and waits for it (Close).
func (db *DB) stopKeyWatch() {
	kw := &db.keys
	kw.mu.Lock()
	kw.closed = true
	stop, done := kw.stop, kw.done
	kw.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// listenKeys runs the key listener until ctx ends, reconnecting with backoff.
func (db *DB) listenKeys(ctx context.Context) {
	kw := &db.keys
	defer close(kw.done)
	retry := keyRetryMin
	for {
		listened, err := db.listenKeysOnce(ctx)
		kw.each(func(w sendoka.KeyWatcher) { w.KeysLost() })
		if ctx.Err() != nil {
			return
		}
		if listened {
			retry = keyRetryMin
		}
		db.log.WarnContext(ctx, "api key listener down; cached keys live at most 1 s until it is back",
			"error", err, "retry_in", retry)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, keyRetryMax)
	}
}

// listenKeysOnce opens a connection, LISTENs and reports until something fails; listened
// tells whether the LISTEN took effect.
func (db *DB) listenKeysOnce(ctx context.Context) (listened bool, _ error) {
	kw := &db.keys
	cfg := db.unbounded.Config.Copy()
	// Called on this goroutine, as each message is read (during a ping too), so a
	// notification is reported before the ping that follows it is.
	cfg.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) {
		if n.Channel == keyChannel {
			kw.each(func(w sendoka.KeyWatcher) { w.KeyChanged(n.Payload) })
		}
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if err := conn.Exec(ctx, "LISTEN "+keyChannel).Close(); err != nil {
		return false, err
	}
	for {
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, keyPingTimeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			return true, err
		}
		lag := time.Since(start)
		kw.each(func(w sendoka.KeyWatcher) { w.KeysSynced(lag) })
		// Notifications arrive (through OnNotification) while we wait for the next ping.
		wctx, cancel := context.WithDeadline(ctx, start.Add(keyPingInterval))
		for err == nil {
			err = conn.WaitForNotification(wctx)
		}
		due := wctx.Err() != nil // the wait ended at its deadline; a broken connection fails the ping
		cancel()
		if ctx.Err() != nil || !due {
			return true, err
		}
	}
}
