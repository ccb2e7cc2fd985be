package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Keys every server is started with (SENDOKA_BOOTSTRAP_KEYS): a live key, whose mail goes
// to the configured provider, and a test key, whose mail goes to the sandbox.
const (
	liveKey = "sok_live_chaoschaoschaoschaoschaos01"
	testKey = "sok_test_chaoschaoschaoschaoschaos01"
)

// senderDomain is the verified domain of the servers' org (SENDOKA_BOOTSTRAP_DOMAINS), so a
// live key may send from it at once, without a warmup cap.
const senderDomain = "chaos.test"

// server is one `sendoka serve` process, started again on the same address after a kill.
type server struct {
	name string
	bin  string
	env  []string
	addr string
	base string // http://addr
	log  string

	cmd  *exec.Cmd
	done chan struct{}
	runs int
}

// newServer prepares a server named name that runs bin with env on top of the suite's
// defaults; start starts it. cl kills it if it still runs when the scenario ends.
func newServer(e *env, name string, env ...string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{name: name, bin: e.bin, addr: "127.0.0.1:" + strconv.Itoa(port)}
	s.base = "http://" + s.addr
	s.log = filepath.Join(e.dir, name+".log")
	s.env = append([]string{
		"SENDOKA_ADDR=" + s.addr,
		"SENDOKA_DATA_DIR=" + filepath.Join(e.dir, "data"),
		"SENDOKA_BOOTSTRAP_KEYS=" + liveKey + "," + testKey,
		"SENDOKA_BOOTSTRAP_DOMAINS=" + senderDomain,
		"SENDOKA_DASHBOARD=false",
		"SENDOKA_LOG_LEVEL=warn",
		"SENDOKA_PUBLIC_URL=off",
		"SENDOKA_SHUTDOWN_TIMEOUT=5s",
		// Limits stay on, but the one key of each scenario sends hundreds a second.
		`SENDOKA_PLANS=[{"name":"enterprise","burst_per_minute":100000000}]`,
		// Recovery after a kill in seconds rather than a minute (see recoverySettings).
		"SENDOKA_CLAIM_LEASE=" + claimLease.String(),
		"SENDOKA_RECOVERY_INTERVAL=1s",
		"SENDOKA_SLOT_WAIT=5s",
	}, env...)
	e.cl.add(s.kill)
	return s, nil
}

// claimLease is the servers' SENDOKA_CLAIM_LEASE: a message whose hand-off a kill cut
// short is settled this long after the kill (plus River's leader election), not 30 s.
const claimLease = 6 * time.Second

// start runs the process and waits until /readyz answers 200.
func (s *server) start(ctx context.Context) error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.runs++
	fmt.Fprintf(logf, "=== chaos: start #%d at %s\n", s.runs, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = ownGroup()
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL // a suite killed itself leaves no server behind
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.kill()
		return fmt.Errorf("%s: %w\n%s", s.name, err, tail(s.log, 3000))
	}
	return nil
}

func (s *server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: time.Second}
	for {
		res, err := hc.Get(s.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return errors.New("exited before it was ready")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", limit, err)
		}
	}
}

// running reports whether the process runs.
func (s *server) running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits until it is gone.
func (s *server) kill() {
	if !s.running() {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// ownGroup puts a child in a process group of its own, so a Ctrl-C in the terminal reaches
// the suite, which stops its children in order, rather than every child at once.
func ownGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
