package sendoka

import (
	"context"
	"sync"
	"time"
)

// Defaults of GroupCommitConfig.
const (
	DefaultGroupCommitWindow      = time.Millisecond
	DefaultGroupCommitMaxMessages = 100
	DefaultGroupCommitMaxInFlight = 4
)

// GroupCommitConfig tunes group commit: concurrent single sends (SendEmail, SendSMS) share
// one suppression lookup and one transaction, with multi-row inserts, the way a batch send
// does. Each send still returns only after the transaction holding its message has
// committed, with its own result: a send refused (its recipients suppressed, its WithinTx
// work failing) never fails the others. The zero value is every default.
type GroupCommitConfig struct {
	// Window is the longest the first send of a group waits for others to join it. It
	// waits only while another group is being written, so a lone send never waits.
	// Default: 1ms. Negative: no grouping, every send has a transaction of its own.
	Window time.Duration
	// MaxMessages bounds a group; a full group is written at once. Default: 100.
	MaxMessages int
	// MaxInFlight bounds the groups being written at once. While that many are, new sends
	// gather in the next group, which grows instead of adding a transaction: the database
	// does the same work in fewer, larger statements. Default: 4.
	MaxInFlight int
}

func (g GroupCommitConfig) withDefaults() GroupCommitConfig {
	if g.Window == 0 {
		g.Window = DefaultGroupCommitWindow
	}
	if g.MaxMessages <= 0 {
		g.MaxMessages = DefaultGroupCommitMaxMessages
	}
	if g.MaxInFlight <= 0 {
		g.MaxInFlight = DefaultGroupCommitMaxInFlight
	}
	return g
}

// groupCommitter gathers concurrent single sends into groups. A send that finds no group
// forming starts one and leads it: it waits (at most the window, only while another group
// is in flight) for others to join, then for a free slot (MaxInFlight), then writes the
// group and hands every member its result. Until the leader has its slot, the group keeps
// taking members.
type groupCommitter struct {
	cfg   GroupCommitConfig
	slots chan struct{} // a token per group being written

	mu       sync.Mutex
	forming  *acceptGroup // open to new members; nil when none is
	inflight int          // groups being written
	waiting  int          // sends whose group is not being written yet
}

func newGroupCommitter(cfg GroupCommitConfig) groupCommitter {
	cfg = cfg.withDefaults()
	return groupCommitter{cfg: cfg, slots: make(chan struct{}, cfg.MaxInFlight)}
}

type acceptGroup struct {
	calls []*acceptCall
	full  chan struct{} // closed when the group reaches MaxMessages
}

// acceptCall is one single send waiting in a group.
type acceptCall struct {
	ctx  context.Context
	o    sendOptions
	msg  *Message
	err  error
	done chan struct{} // closed once err is set
}

// acceptSingle accepts one validated message whose suppression check is still to be done
// (prepareEmail/prepareSMS with a batchCache), sharing a transaction with concurrent sends.
func (c *Client) acceptSingle(ctx context.Context, o sendOptions, m *Message) error {
	call := &acceptCall{ctx: ctx, o: o, msg: m, done: make(chan struct{})}
	g := &c.group
	if g.cfg.Window < 0 {
		c.commitGroup([]*acceptCall{call})
		return call.err
	}
	g.mu.Lock()
	grp := g.forming
	leader := grp == nil
	if leader {
		grp = &acceptGroup{full: make(chan struct{})}
		g.forming = grp
	}
	grp.calls = append(grp.calls, call)
	g.waiting++
	if len(grp.calls) >= g.cfg.MaxMessages {
		g.forming = nil
		close(grp.full)
	}
	wait := g.inflight > 0
	g.mu.Unlock()
	if !leader {
		<-call.done
		return call.err
	}
	if wait {
		t := time.NewTimer(g.cfg.Window)
		select {
		case <-t.C:
		case <-grp.full:
		}
		t.Stop()
	}
	g.slots <- struct{}{}
	g.mu.Lock()
	if g.forming == grp {
		g.forming = nil
	}
	g.inflight++
	calls := grp.calls
	g.waiting -= len(calls)
	g.mu.Unlock()

	c.commitGroup(calls)

	g.mu.Lock()
	g.inflight--
	g.mu.Unlock()
	<-g.slots
	return call.err
}

// commitGroup writes the messages of calls in one transaction and sets every call's
// result. If the transaction fails, each call is tried again in a transaction of its own,
// so one member's failure (its WithinTx work, say) is its alone.
func (c *Client) commitGroup(calls []*acceptCall) {
	defer func() {
		for _, call := range calls {
			close(call.done)
		}
	}()
	ctx, cancel := groupContext(calls)
	defer cancel()

	msgs := make([]*Message, len(calls))
	for i, call := range calls {
		msgs[i] = call.msg
	}
	problems, err := c.checkSuppressedBatch(ctx, msgs)
	if err != nil {
		for _, call := range calls {
			call.err = err
		}
		return
	}
	live := calls[:0:0]
	for _, call := range calls {
		if err := problems[call.msg]; err != nil {
			call.err = err
			continue
		}
		live = append(live, call)
	}
	if len(live) == 0 {
		return
	}
	msgs = msgs[:0]
	for _, call := range live {
		msgs = append(msgs, call.msg)
	}
	a := c.stamp(msgs)
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		if err := c.acceptTx(ctx, tx, acceptance{msgs: a.msgs, jobs: a.jobs, events: a.events}, sendOptions{}); err != nil {
			return err
		}
		// The idempotency keys of the group's sends, in one statement.
		var held []*idemCommit
		var recs []*IdempotencyRecord
		var resps []StoredResponse
		for i, call := range live {
			if ic := call.o.idem; ic != nil && ic.call.inTx {
				resp, err := ic.render(a.msgs[i : i+1])
				if err != nil {
					return err
				}
				held, resps = append(held, ic), append(resps, resp)
				recs = append(recs, ic.call.record(resp))
			}
		}
		if len(recs) > 0 {
			ok, err := tx.InsertCompletedIdempotencyRecords(ctx, recs...)
			if err != nil {
				return err
			}
			if !ok {
				return errIdempotencyTaken // one of the keys exists: each send on its own
			}
			for i, ic := range held {
				ic.call.setCommitted(&resps[i])
			}
		}
		for i, call := range live {
			o := call.o
			if o.idem != nil && o.idem.call.inTx {
				o.idem = nil // stored above
			}
			if err := runWithinTx(ctx, tx, o, a.msgs[i:i+1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		return
	}
	if len(live) == 1 {
		live[0].err = err
		return
	}
	// One transaction each, with the ids already given: if the group's commit did land
	// (an error that came after the database committed), a message's id is already taken,
	// and the conflict tells it is stored.
	for i, call := range live {
		one := acceptance{msgs: a.msgs[i : i+1], jobs: a.jobs[i : i+1], events: a.events[i : i+1]}
		call.err = c.inTx(call.ctx, func(ctx context.Context, tx Tx) error {
			return c.acceptTx(ctx, tx, one, call.o)
		})
		if call.err != nil && AsError(call.err).Code == CodeConflict && c.messageStored(call.ctx, call.msg.ID) {
			call.err = nil
		}
	}
}

// messageStored reports whether a message with id is in the store.
func (c *Client) messageStored(ctx context.Context, id string) bool {
	err := c.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		_, err := tx.GetMessage(ctx, id)
		return err
	})
	return err == nil
}

// groupContext is the context a group is written under: the first member's values, no
// member's cancellation (one caller leaving must not fail the others), and the latest of
// the members' deadlines, if every member has one.
func groupContext(calls []*acceptCall) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(calls[0].ctx)
	var latest time.Time
	for _, call := range calls {
		d, ok := call.ctx.Deadline()
		if !ok {
			return context.WithCancel(base)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(base, latest)
}
