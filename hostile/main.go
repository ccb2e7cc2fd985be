// Command hostile attacks a real Sendoka server with hostile requests and checks it keeps
// the docs' promises.
//
// It builds the sendoka binary (./hosts/sendoka), starts `sendoka serve` on a fresh SQLite
// data directory (or, with -database-url or SENDOKA_HOSTILE_DATABASE_URL, on a fresh schema
// of that Postgres database), makes API keys and a resource of every kind through the API,
// reads the OpenAPI document the server serves, and sends every operation in it -n hostile
// requests: no key, bad, revoked and under-scoped keys, path traversal and very long ids,
// garbage cursors and wrong-typed query parameters, bodies that are not JSON, wrong types,
// huge and deeply nested values, NUL, invalid UTF-8 and CRLF in every string, unknown and
// duplicate fields, oversized bodies, broken framing, odd headers, templates that repeat a
// large variable 100,000 times, and other keys' tenants and domains. Then it attacks the
// server itself: headers and bodies sent a byte at a time, idle and oversized clients.
//
// Every answer must be: never a 5xx (but a documented 503), never later than the server's
// write timeout, a documented status with a body of its documented schema, and for an error
// the docs' envelope (Resend's error on the drop-in) with a code of the docs' table and the
// request id of X-Request-Id. Racing clients (the same name created, the same
// Idempotency-Key sent, by eight at once) must get one success and documented refusals. A
// refused request must write nothing to the database (the record of a refused
// Idempotency-Key aside). Requests malformed as HTTP may be answered by Go's net/http
// itself (a plain-text 400, 431, 501 or 505), as the README says.
//
// It prints a table (route, requests, violations, slowest answer, statuses seen) and the
// violations with the request that found each, and exits 1 if there is any (2 if the attack
// could not run).
//
//	go run ./hostile            # 40 requests per route (make hostile)
//	go run ./hostile -short     # the CI's run: fewer, no multi-megabyte bodies
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sendoka/sendoka/hosts/httpapi"
	"github.com/sendoka/sendoka/sendoka"
)

// The server's limits during an attack: short, so slow clients are cut off quickly.
const (
	readHeaderTimeout = 2 * time.Second
	bodyReadTimeout   = 2 * time.Second
	writeTimeout      = 15 * time.Second
	idleTimeout       = 4 * time.Second
)

func main() {
	n := flag.Int("n", 40, "hostile requests per route")
	short := flag.Bool("short", false, "the CI's run: 25 requests per route and no multi-megabyte bodies")
	seed := flag.Uint64("seed", 0, "seed of the request generator; 0 = a random one (printed)")
	dbURL := flag.String("database-url", os.Getenv("SENDOKA_HOSTILE_DATABASE_URL"), "a Postgres database to run on (in a schema of its own, dropped after); empty = SQLite")
	bin := flag.String("bin", "", "a sendoka binary to attack; empty = build ./hosts/sendoka")
	verbose := flag.Bool("v", false, "print every route as it is attacked, and every violation")
	flag.Parse()
	if *short {
		*n = min(*n, 25)
	}
	if *seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, c := range b {
			*seed = *seed<<8 | uint64(c)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := runAttack(ctx, *n, *seed, !*short, *dbURL, *bin, *verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func runAttack(ctx context.Context, n int, seed uint64, big bool, dbURL, bin string, verbose bool) (int, error) {
	dir, err := os.MkdirTemp("", "sendoka-hostile-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "sendoka")
		fmt.Fprintln(os.Stderr, "hostile: building ./hosts/sendoka")
		root, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil || strings.TrimSpace(string(root)) == "" {
			return 0, fmt.Errorf("run it inside the sendoka module: go env GOMOD: %v", err)
		}
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./hosts/sendoka")
		build.Dir = filepath.Dir(strings.TrimSpace(string(root)))
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return 0, fmt.Errorf("build: %w", err)
		}
	}
	dsn := "sqlite:" + filepath.Join(dir, "data", "sendoka.db")
	if dbURL != "" {
		var drop func()
		if dsn, drop, err = freshSchema(ctx, dbURL); err != nil {
			return 0, err
		}
		defer drop()
	}
	live, test := sendoka.NewKeyPlaintext(sendoka.ModeLive), sendoka.NewKeyPlaintext(sendoka.ModeTest)
	srv, err := startServer(ctx, bin, dir, dsn, live, test)
	if err != nil {
		return 0, err
	}
	defer srv.stop()
	fmt.Fprintf(os.Stderr, "hostile: attacking %s (%s), %d requests per route, seed %d\n", srv.base, dialectOf(dsn), n, seed)
	t := &target{base: srv.base, addr: strings.TrimPrefix(srv.base, "http://"), dsn: dsn, live: live, test: test,
		readHeaderTimeout: readHeaderTimeout, bodyReadTimeout: bodyReadTimeout, writeTimeout: writeTimeout,
		idleTimeout: idleTimeout, maxBody: httpapi.DefaultMaxBodyBytes}
	o := options{perRoute: n, seed: seed, big: big}
	if verbose {
		o.log = os.Stderr
	}
	rep, err := run(ctx, t, o)
	if err != nil {
		return 0, err
	}
	if err := srv.stop(); err != nil {
		return 0, fmt.Errorf("the server did not stop cleanly: %w (log: %s)", err, srv.logPath)
	}
	rep.print(os.Stdout, verbose)
	if panics := srv.panics(); len(panics) > 0 {
		fmt.Printf("\nthe server logged %d panics, the first: %s\n", len(panics), clip(panics[0], 500))
		return 1, nil
	}
	if rep.violations() > 0 {
		fmt.Printf("(seed %d reproduces this run)\n", seed)
		return 1, nil
	}
	return 0, nil
}

func dialectOf(dsn string) string {
	if strings.HasPrefix(dsn, "sqlite:") {
		return "SQLite"
	}
	return "Postgres"
}

// freshSchema makes a schema of its own on the Postgres database at base, and returns the
// URL that puts the server in it and what drops it.
func freshSchema(ctx context.Context, base string) (string, func(), error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "sendoka_hostile_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	// schema is our own hex name: safe to splice into the statement.
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// process is a running sendoka serve.
type process struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	done    chan error
	stopped bool
	err     error
}

// startServer runs `sendoka serve` on a free port of the loopback interface, with the
// attack's timeouts, limits off (a burst limit would answer most of the attack 429) and no
// workers (nothing is delivered, so only requests write), and waits until it listens.
func startServer(ctx context.Context, bin, dir, dsn, live, test string) (*process, error) {
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	db := []string{"-database-url", dsn}
	if strings.HasPrefix(dsn, "sqlite:") {
		db = []string{"-data-dir", filepath.Join(dir, "data")} // the server makes the directory
	}
	cmd := exec.Command(bin, append(append([]string{"serve", "-addr", "127.0.0.1:0"}, db...),
		"-bootstrap-keys", live+","+test, "-no-workers", "-limits", "off",
		"-read-header-timeout", readHeaderTimeout.String(), "-body-read-timeout", bodyReadTimeout.String(),
		"-read-timeout", (writeTimeout+bodyReadTimeout).String(), "-write-timeout", writeTimeout.String(),
		"-idle-timeout", idleTimeout.String(),
		"-smtp-inbound-domains", "in.example.com", "-smtp-inbound-bounce-domain", "bounces.example.com",
		"-log-format", "json", "-log-level", "info")...)
	// Only the flags configure it: none of the caller's SENDOKA_* settings.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SENDOKA_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout = logFile
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, logPath: logPath, done: make(chan error, 1)}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				select {
				case listening <- rec.Addr:
				default:
				}
			}
			_, _ = logFile.Write(append(line, '\n'))
		}
		_, _ = io.Copy(logFile, stderr)
	}()
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	select {
	case addr := <-listening:
		p.base = addr
		return p, nil
	case err := <-p.done:
		p.stopped = true
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("sendoka serve exited: %v\n%s", err, clip(string(log), 4000))
	case <-time.After(2 * time.Minute):
		p.stop()
		return nil, errors.New("sendoka serve did not listen within 2 minutes")
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop asks the server to shut down (SIGTERM) and waits; it kills it after 30 seconds.
func (p *process) stop() error {
	if p.stopped {
		return p.err
	}
	p.stopped = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.err = err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.err = errors.New("killed after 30 s")
	}
	return p.err
}

// panics returns the panics the server logged.
func (p *process) panics() []string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && strings.Contains(rec.Msg, "panic") {
			out = append(out, sc.Text())
		}
	}
	return out
}
