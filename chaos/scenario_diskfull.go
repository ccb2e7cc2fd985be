package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// runDiskFull is scenario 8, on the embedded default (SQLite in the data dir, which is a
// small tmpfs of its own): during a steady stream of sends, another process first holds
// the database's write lock for a while, then the disk fills up (a ballast file takes every
// free byte) for a while before the space returns. Requests must fail fast with 503
// SERVICE_UNAVAILABLE in the error envelope, never 500 and never hang; nothing accepted may
// be lost; and the server must recover by itself.
func runDiskFull(e *env) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: it mounts a tmpfs under the data dir to fill it")
	}
	n, stream := sized(e, 1500, 340), sized(e, 60*time.Second, 18*time.Second)
	// The lock outlasts the API's database timeout (4 s), so requests meet it whole.
	lockAt, lockFor := sized(e, 8*time.Second, 2*time.Second), sized(e, 8*time.Second, 6*time.Second)
	fullAt, fullFor := sized(e, 25*time.Second, 10*time.Second), sized(e, 15*time.Second, 5*time.Second)
	data := filepath.Join(e.dir, "data")
	if err := mountTmpfs(e, data, "64m"); err != nil {
		return err
	}
	rec, err := startSMTPRecorder(e, nil)
	if err != nil {
		return err
	}
	srv, err := newServer(e, "serve", append(rec.env(), "SENDOKA_SMTP_MAX_CONNS="+itoa(relayConns))...)
	if err != nil {
		return err
	}
	if err := srv.start(e.ctx); err != nil {
		return err
	}
	file := filepath.Join(data, "sendoka.db")
	db, err := openSQLite(e, file)
	if err != nil {
		return err
	}

	var mu sync.Mutex
	var slowest time.Duration
	var badAnswers []string
	unavailable := 0
	ld := &load{n: n, clients: 16, client: newAPIClient(liveKey, 15*time.Second), rate: float64(n) / stream.Seconds(),
		url:  func(int, int) string { return srv.base },
		body: func(i int) any { return emailBody("8", i) },
		key:  func(i int) string { return fmt.Sprintf("chaos-8-%d", i) },
		observe: func(i int, a answer) {
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, a.took)
			switch {
			case a.err != nil:
				badAnswers = append(badAnswers, fmt.Sprintf("send %d: no answer after %s: %v", i, a.took.Round(time.Millisecond), a.err))
			case a.status == http.StatusServiceUnavailable:
				unavailable++
				if code, ok := a.errorCode(); !ok || code != "SERVICE_UNAVAILABLE" || a.header.Get("Retry-After") == "" {
					badAnswers = append(badAnswers, fmt.Sprintf("send %d: 503 not in the envelope with Retry-After: %s", i, a.body))
				}
			case a.status != http.StatusOK:
				badAnswers = append(badAnswers, fmt.Sprintf("send %d: %d %s", i, a.status, a.body))
			}
		},
	}
	loaded := make(chan *loadResult, 1)
	go func() { loaded <- ld.run(e.ctx) }()

	// 1. Another process holds the write lock.
	if err := e.sleep(lockAt); err != nil {
		return err
	}
	mu.Lock()
	unavailableBefore := unavailable
	mu.Unlock()
	if err := holdWriteLock(e, file, lockFor); err != nil {
		return err
	}
	mu.Lock()
	lockedOut := unavailable - unavailableBefore
	mu.Unlock()
	e.log.printf("write lock held %s: %d requests answered 503", lockFor, lockedOut)

	// 2. The disk fills up.
	if err := e.sleep(fullAt - lockAt - lockFor); err != nil {
		return err
	}
	ballast := filepath.Join(data, "ballast")
	filled, err := fillDisk(ballast)
	if err != nil {
		return err
	}
	e.log.printf("disk full (ballast %d MiB)", filled>>20)
	if err := e.sleep(fullFor); err != nil {
		return err
	}
	if err := os.Remove(ballast); err != nil {
		return err
	}
	mu.Lock()
	fullOut := unavailable - unavailableBefore - lockedOut
	mu.Unlock()
	e.log.printf("space back: %d requests answered 503 while full", fullOut)

	res := <-loaded
	e.log.printf("load done: %s", res.summary())
	if err := db.waitSettled(e, sized(e, 3*time.Minute, 90*time.Second)); err != nil {
		e.r.fail("%v", err)
	}
	rows, err := db.messages(e.ctx)
	if err != nil {
		return err
	}
	tally(e.r, res.ids, rows, rec.counts())
	e.r.check(len(res.refused) == 0, "requests refused for good: %s", sample(res.refused))
	e.r.check(srv.runs == 1 && srv.running(), "the server had to be restarted:\n%s", tail(srv.log, 2000))
	e.r.check(lockedOut > 0, "no request met the held lock")
	e.r.check(fullOut > 0, "no request met the full disk")
	e.r.check(slowest <= answerBound, "a request took %s: more than %s", slowest.Round(time.Millisecond), answerBound)
	e.r.check(len(badAnswers) == 0, "%d answers that are not 200 or a prompt 503 in the envelope: %s", len(badAnswers), sample(badAnswers))
	e.r.note("SQLite (the embedded default) in a data dir on a 64 MiB tmpfs; %d sends over %s from 16 clients (%s)", n, stream, res.summary())
	e.r.note("another process held the write lock (BEGIN IMMEDIATE) for %s from %s in: %d requests answered 503; then a ballast file took every free byte (%d MiB) for %s: %d requests answered 503", lockFor, lockAt, lockedOut, filled>>20, fullFor, fullOut)
	e.r.note("every refusal was 503 SERVICE_UNAVAILABLE in the envelope with Retry-After, the slowest answer took %s; the server recovered without a restart", slowest.Round(time.Millisecond))
	return nil
}

// mountTmpfs mounts a tmpfs of size at dir (created); cl unmounts it.
func mountTmpfs(e *env, dir, size string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if out, err := exec.CommandContext(e.ctx, "mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount a tmpfs at %s: %v: %s", dir, err, out)
	}
	e.cl.add(func() {
		if err := exec.Command("umount", dir).Run(); err != nil {
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return nil
}

// holdWriteLock holds the SQLite database's write lock for d, as another process writing
// to it would.
func holdWriteLock(e *env, file string, d time.Duration) error {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(e.ctx, d+30*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("take the write lock: %w", err)
	}
	sleepErr := e.sleep(d)
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		return err
	}
	return sleepErr
}

// fillDisk writes zeros to path until the file system is full and returns how much it
// wrote.
func fillDisk(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	var n int64
	for size := len(chunk); size >= 4096; size /= 16 {
		for {
			k, err := f.Write(chunk[:size])
			n += int64(k)
			if errors.Is(err, syscall.ENOSPC) {
				break // then smaller writes, down to a page
			}
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
