package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // Postgres driver: throw-away databases, backlog counts
	_ "modernc.org/sqlite"             // SQLite driver: backlog counts in the server's file
)

// benchKey is the test key the server is started with (test keys only reach the sandbox).
const benchKey = "sok_test_benchbenchbenchbenchbench0000"

// Backends.
const (
	sqliteBackend   = "sqlite"
	postgresBackend = "postgres"
)

// backend is one kind of database the rows run on.
type backend struct {
	name     string
	adminURL string         // Postgres: where throw-away databases are created
	pg       *pgbenchResult // Postgres: the yardstick of this run, nil if pgbench failed
}

// database is one row's throw-away database: every row starts its server processes on a
// fresh one, so rows do not inherit each other's backlog or table sizes.
type database struct {
	backend string
	url     string // SENDOKA_DATABASE_URL; empty for SQLite in dataDir
	dataDir string
	conn    *sql.DB // opened on first count
	drop    func()
}

// newDatabase creates a database for one row.
func (b *backend) newDatabase(ctx context.Context) (*database, error) {
	dir, err := os.MkdirTemp("", "sendokabench-*")
	if err != nil {
		return nil, err
	}
	d := &database{backend: b.name, dataDir: dir, drop: func() { os.RemoveAll(dir) }}
	if b.name == postgresBackend {
		dsn, drop, err := createDatabase(ctx, b.adminURL)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		d.url = dsn
		d.drop = func() { drop(); os.RemoveAll(dir) }
	}
	return d, nil
}

func (d *database) close() {
	if d.conn != nil {
		d.conn.Close()
	}
	d.drop()
}

// count returns how many messages are in status. It reads the database directly: the
// workers-only role has no API, and the API cannot count.
func (d *database) count(ctx context.Context, status string) (int, error) {
	// status is one of the bench's constants; a literal reads the same on both drivers.
	return d.countRows(ctx, "SELECT count(*) FROM messages WHERE status = '"+status+"'")
}

// countRows runs a count query of the bench's own (no parameters) on the row's database.
func (d *database) countRows(ctx context.Context, query string) (int, error) {
	if d.conn == nil {
		var err error
		if d.backend == postgresBackend {
			d.conn, err = sql.Open("pgx", d.url)
		} else {
			// The server's file, in WAL mode: this reader does not block its writer.
			d.conn, err = sql.Open("sqlite", filepath.Join(d.dataDir, "sendoka.db")+"?_pragma=busy_timeout(10000)")
		}
		if err != nil {
			return 0, err
		}
		d.conn.SetMaxOpenConns(1)
	}
	var n int
	err := d.conn.QueryRowContext(ctx, query).Scan(&n)
	return n, err
}

// waitDrained polls until no message is queued, or until limit passes.
func (d *database) waitDrained(ctx context.Context, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		n, err := d.count(ctx, "queued")
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return time.Since(start), nil
		}
		if time.Since(start) > limit {
			return 0, fmt.Errorf("%d messages still queued after %s", n, limit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Server roles, as `sendoka` runs them.
const (
	roleServe  = "serve"             // API and workers in one process
	roleAPI    = "serve -no-workers" // the API only
	roleWorker = "worker"            // the workers only
)

// process is one running sendoka server.
type process struct {
	role string
	cmd  *exec.Cmd
	log  string
	base string // http://addr, for the roles with the API
	done chan struct{}
}

// start runs the binary in role on db, with env added to the bench's settings, and waits
// until its API is ready (the workers-only role has none: it returns once started).
func start(ctx context.Context, o options, db *database, role string, env ...string) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, o.bin, strings.Fields(role)...)
	cmd.Env = append(os.Environ(),
		"SENDOKA_ADDR="+addr,
		"SENDOKA_DATA_DIR="+db.dataDir,
		"SENDOKA_DATABASE_URL="+db.url,
		"SENDOKA_BOOTSTRAP_KEYS="+benchKey,
		"SENDOKA_LOG_LEVEL=warn",
		"SENDOKA_SHUTDOWN_TIMEOUT=10s",
		// Limits stay on (their cost is measured) but must not throttle the load: the one
		// bench key makes thousands of requests a second.
		`SENDOKA_PLANS=[{"name":"enterprise","burst_per_minute":1000000000}]`,
	)
	if o.workers > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("SENDOKA_WORKERS=%d", o.workers))
	}
	if o.cooldown > 0 {
		cmd.Env = append(cmd.Env, "SENDOKA_FETCH_COOLDOWN="+o.cooldown.String())
	}
	if _, domain, _ := strings.Cut(o.from, "@"); domain != "" && domain != "sandbox.sendoka.com" {
		cmd.Env = append(cmd.Env, "SENDOKA_BOOTSTRAP_DOMAINS="+domain)
	}
	cmd.Env = append(cmd.Env, env...) // later entries win
	p := &process{role: role, cmd: cmd, log: filepath.Join(db.dataDir, strings.ReplaceAll(role, " ", "")+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { cmd.Wait(); close(p.done) }()
	if role == roleWorker {
		return p, nil
	}
	p.base = "http://" + addr
	if err := p.waitReady(ctx); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: %w\n%s", role, err, p.tail())
	}
	return p, nil
}

func (p *process) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		res, err := http.Get(p.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return errors.New("exited")
		case <-ctx.Done():
			return fmt.Errorf("not ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// alive reports an error if the process has exited.
func (p *process) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %s\n%s", p.role, p.cmd.ProcessState, p.tail())
	default:
		return nil
	}
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes; read it before stop.
func (p *process) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// stop interrupts the process and waits for it, killing it if it takes too long.
func (p *process) stop() {
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// tail is the end of the process's log, for error messages.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// createDatabase makes a throw-away database on the Postgres server of adminURL.
func createDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("sendoka_bench_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, err
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}

// pgbenchResult is pgbench's figure for a one-row insert on the same server.
type pgbenchResult struct {
	TPS     float64
	Command string
	Script  string
}

// pgbenchScript is the one-row insert pgbench repeats: a row the size of a small send.
const pgbenchScript = `INSERT INTO pgbench_one_row (payload) VALUES ('{"from":"you@sandbox.sendoka.com","to":["user@example.com"],"subject":"Hello"}');`

// pgbench runs a one-row insert with as many clients as the HTTP benchmark.
func pgbench(ctx context.Context, adminURL string, o options) (*pgbenchResult, error) {
	dsn, drop, err := createDatabase(ctx, adminURL)
	if err != nil {
		return nil, err
	}
	defer drop()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS pgbench_one_row (id bigserial primary key, payload text not null, created_at timestamptz not null default now())`); err != nil {
		return nil, err
	}
	script, err := os.CreateTemp("", "pgbench-*.sql")
	if err != nil {
		return nil, err
	}
	defer os.Remove(script.Name())
	fmt.Fprintln(script, pgbenchScript)
	script.Close()
	secs := max(int(o.duration.Seconds()), 1)
	args := []string{"-n", "-c", fmt.Sprint(o.clients), "-j", "2", "-T", fmt.Sprint(secs), "-f", script.Name(), dsn}
	out, err := exec.CommandContext(ctx, "pgbench", args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var tps float64
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "tps = ") {
			fmt.Sscanf(line, "tps = %f", &tps)
		}
	}
	if tps == 0 {
		return nil, fmt.Errorf("no tps in pgbench output: %s", out)
	}
	return &pgbenchResult{TPS: tps, Script: pgbenchScript,
		Command: fmt.Sprintf("pgbench -n -c %d -j 2 -T %d -f one_row_insert.sql", o.clients, secs)}, nil
}

// newClient is an HTTP client with enough keep-alive connections for the bench's clients.
func newClient(o options) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.clients * 2, MaxConnsPerHost: o.clients * 2}}
}

// openClient is an HTTP client for open-loop load: as many connections as requests in
// flight.
func openClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
}

// postJSON sends one request and returns the status and body.
func postJSON(ctx context.Context, hc *http.Client, url string, body []byte) (int, []byte, error) {
	return postJSONKey(ctx, hc, url, body, "")
}

// postJSONKey is postJSON with an Idempotency-Key, unless key is "".
func postJSONKey(ctx context.Context, hc *http.Client, url string, body []byte, key string) (int, []byte, error) {
	return postAs(ctx, hc, benchKey, url, body, key)
}

// postAs is postJSONKey with apiKey instead of the bench's test key.
func postAs(ctx context.Context, hc *http.Client, apiKey, url string, body []byte, key string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(res.Body)
	return res.StatusCode, buf.Bytes(), err
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	_, err := getAs(ctx, hc, benchKey, url, v)
	return err
}

// getAs reads url with apiKey into v and returns the response's headers.
func getAs(ctx context.Context, hc *http.Client, apiKey, url string, v any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return res.Header, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return res.Header, json.NewDecoder(res.Body).Decode(v)
}
