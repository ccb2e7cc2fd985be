package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// cluster is a throw-away Postgres cluster: its own data directory under the scenario's
// directory, its own free port on 127.0.0.1 and its own socket directory, so starting and
// stopping it never touches another server (the machine's own on 5432 included).
type cluster struct {
	bin  string // directory of initdb, pg_ctl and postgres
	dir  string // the cluster's directory: data/, socket, log
	port int
	run  []string // prefix that runs a command as the cluster's owner (runuser as root)
}

// pgOwner is the unprivileged user that owns the clusters when the suite runs as root:
// Postgres refuses to run as root.
const pgOwner = "postgres"

// startCluster creates and starts a cluster under parent; cl stops it and removes it.
func startCluster(ctx context.Context, parent string, cl *cleanups) (*cluster, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, dir: filepath.Join(parent, "pg")}
	if err := os.Mkdir(c.dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(pgOwner)
		if err != nil {
			return nil, fmt.Errorf("running as root, Postgres needs an unprivileged owner: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// The owner must reach its directory: the scenario's directory is root's.
		if err := os.Chmod(parent, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return nil, err
		}
		c.run = runAsPrefix(pgOwner)
	}
	if out, err := c.cmd(ctx, "initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if c.port, err = freePort(); err != nil {
		return nil, err
	}
	cl.add(c.destroy)
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// postgresBin finds the directory of initdb: on PATH, or the newest /usr/lib/postgresql/*/bin.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), nil
	}
	return "", errors.New("no Postgres server binaries (initdb, pg_ctl): install postgresql")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// runAsPrefix is the command prefix that runs a program as user u.
func runAsPrefix(u string) []string {
	if p, err := exec.LookPath("runuser"); err == nil {
		return []string{p, "-u", u, "--"}
	}
	return []string{"setpriv", "--reuid=" + u, "--regid=" + u, "--init-groups", "--"}
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

// cmd is the Postgres program name with args, run as the cluster's owner.
func (c *cluster) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, c.run...), filepath.Join(c.bin, name)), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = ownGroup()
	return cmd
}

// start starts the server and waits until it accepts connections. fsync is off: the suite
// never crashes Postgres itself (it stops it cleanly), and its disk is shared.
func (c *cluster) start(ctx context.Context) error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", c.port, c.dir)
	out, err := c.cmd(ctx, "pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "postgres.log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, tail(filepath.Join(c.dir, "postgres.log"), 2000))
	}
	return nil
}

// stop shuts the server down (fast: open connections are cut).
func (c *cluster) stop(ctx context.Context) error {
	out, err := c.cmd(ctx, "pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// destroy stops the server if it runs. Its files go with the scenario's directory.
func (c *cluster) destroy() {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.cmd(ctx, "pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop").Run(); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: stopping the cluster in %s: %v\n", c.dir, err)
	}
}

// url is the cluster's database URL for Sendoka and the suite's own reads.
func (c *cluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// postgresVersion is the version of the Postgres server binaries, for the report.
func postgresVersion(ctx context.Context) string {
	bin, err := postgresBin()
	if err != nil {
		return "none found"
	}
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
