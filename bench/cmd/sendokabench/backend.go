package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // Postgres driver for creating the throw-away database
)

// benchKey is the test key the server is started with (test keys only reach the sandbox).
const benchKey = "sok_test_benchbenchbenchbenchbench0000"

// runBackend starts the server on one database and runs every scenario against it.
func runBackend(ctx context.Context, o options, rep *report, name, dsn string, pg *pgbenchResult) error {
	dir, err := os.MkdirTemp("", "sendokabench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, o.bin, "serve")
	cmd.Env = append(os.Environ(),
		"SENDOKA_ADDR="+addr,
		"SENDOKA_DATA_DIR="+filepath.Join(dir, "data"),
		"SENDOKA_DATABASE_URL="+dsn,
		"SENDOKA_BOOTSTRAP_KEYS="+benchKey,
		"SENDOKA_LOG_LEVEL=warn",
		fmt.Sprintf("SENDOKA_WORKERS=%d", o.workers),
		"SENDOKA_FETCH_COOLDOWN="+o.cooldown.String(),
	)
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	base := "http://" + addr
	if err := waitReady(ctx, base); err != nil {
		b, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("%s server: %w\n%s", name, err, b)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.clients * 2, MaxConnsPerHost: o.clients * 2}}
	for _, sc := range scenarios() {
		if o.only != "" && !strings.Contains(sc.Name, o.only) {
			continue
		}
		res, err := drive(ctx, hc, base, sc, o)
		if err != nil {
			return fmt.Errorf("%s %s: %w", name, sc.Name, err)
		}
		res.Backend = name
		res.PG = pg
		if err := acceptToProvider(ctx, hc, base, sc, res); err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s %s: accept-to-provider not measured: %v", name, sc.Name, err))
		}
		rep.Results = append(rep.Results, res)
		fmt.Fprintf(os.Stderr, "%s %s: %.0f req/s, %.0f msg/s\n", name, sc.Name, res.ReqPerSec(), res.MsgPerSec())
	}
	if o.only == "" || strings.Contains("scheduled", o.only) { // batch.go
		if l, err := scheduledLateness(ctx, hc, base, 1000); err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: scheduled-send lateness not measured: %v", name, err))
		} else {
			rep.Notes = append(rep.Notes, l.note(name))
		}
	}
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
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
}

// pgbench runs a one-row insert with as many clients as the HTTP benchmark.
func pgbench(ctx context.Context, dsn string, o options) (*pgbenchResult, error) {
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
	fmt.Fprintln(script, `INSERT INTO pgbench_one_row (payload) VALUES ('{"from":"you@sandbox.sendoka.com","to":["user@example.com"],"subject":"Hello"}');`)
	script.Close()
	secs := int(o.duration.Seconds())
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
	return &pgbenchResult{TPS: tps, Command: fmt.Sprintf("pgbench -n -c %d -j 2 -T %d -f one_row_insert.sql", o.clients, secs)}, nil
}

// postJSON sends one request and returns the status and body.
func postJSON(ctx context.Context, hc *http.Client, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+benchKey)
	req.Header.Set("Content-Type", "application/json")
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchKey)
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}
