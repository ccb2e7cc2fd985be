package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// parseConfig parses serve's settings from args (and the environment).
func parseConfig(t *testing.T, args ...string) *config {
	t.Helper()
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := newSettings(fs)
	c.flags(s)
	require.NoError(t, s.parse(args, io.Discard, "serve"))
	return &c
}

// TestHelpAndVersion: the command list and each command's settings print to stdout and
// exit 0; a command's help shows only its own settings, by group.
func TestHelpAndVersion(t *testing.T) {
	ctx := context.Background()
	call := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, &out, &errOut)
		require.Empty(t, errOut.String(), "%v: nothing on stderr", args)
		return out.String(), err
	}
	for _, args := range [][]string{nil, {"help"}, {"--help"}, {"-h"}} {
		out, err := call(args...)
		require.NoError(t, err, "%v exits 0", args)
		for _, cmd := range []string{"serve", "worker", "migrate", "keys", "config", "version"} {
			require.Contains(t, out, "\n  "+cmd+" ", "%v lists %s", args, cmd)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		out, err := call(args...)
		require.NoError(t, err)
		require.Equal(t, "sendoka dev\n", out, "%v", args)
	}

	out, err := call("serve", "--help")
	require.NoError(t, err)
	for _, want := range []string{"\nserver:\n", "\ndatabase:\n", "\nemail provider:\n", "\nSMS provider:\n", "\nqueue:\n",
		"-addr  (SENDOKA_ADDR)", "-smtp-host  (SENDOKA_SMTP_HOST)", "-no-workers  (SENDOKA_NO_WORKERS)\n      serve the API only; run sendoka worker elsewhere\n"} {
		require.Contains(t, out, want)
	}
	require.Less(t, strings.Index(out, "\nserver:"), strings.Index(out, "\nqueue:"), "groups in order")

	out, err = call("migrate", "-h")
	require.NoError(t, err)
	require.Contains(t, out, "-database-url")
	require.NotContains(t, out, "smtp-host", "migrate takes no provider settings")
	require.NotContains(t, out, "  -addr  (", "nor the server's")
	_, err = call("migrate", "-smtp-host", "x")
	require.ErrorContains(t, err, "flag provided but not defined: -smtp-host")

	out, err = call("worker", "-h")
	require.NoError(t, err)
	require.Contains(t, out, "-workers  (SENDOKA_WORKERS)")
	require.NotContains(t, out, "-no-workers")

	out, err = call("keys", "create", "-h")
	require.NoError(t, err)
	require.Contains(t, out, "\noptions:\n  -allowed-cidrs\n")
	require.Contains(t, out, "-default-plan  (SENDOKA_DEFAULT_PLAN)", "a first start through keys creates the org on its plan")
}

// TestSettingsSources: a variable sets a value, a flag wins over it, a variable that does not
// parse is an error naming it, and `sendoka config` says where each value came from and masks
// secrets.
func TestSettingsSources(t *testing.T) {
	t.Setenv("SENDOKA_WORKERS", "7")
	t.Setenv("SENDOKA_ADDR", "127.0.0.1:9999")
	t.Setenv("SENDOKA_SMTP_PASSWORD", "hunter2hunter2")
	t.Setenv("SENDOKA_DATABASE_URL", "postgres://sendoka:s3cret@db.example:5432/sendoka")
	c := parseConfig(t, "-addr", "127.0.0.1:7000")
	require.Equal(t, 7, c.workers, "from the environment")
	require.Equal(t, "127.0.0.1:7000", c.addr, "the flag wins")
	require.Equal(t, "text", c.logFormat, "the default")

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"config", "-addr", "127.0.0.1:7000"}, &out, io.Discard))
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) == 3 {
			lines[f[0]] = f[1] + " " + f[2]
		}
	}
	require.Equal(t, "127.0.0.1:7000 flag", lines["SENDOKA_ADDR"])
	require.Equal(t, "7 env", lines["SENDOKA_WORKERS"])
	require.Equal(t, "******** env", lines["SENDOKA_SMTP_PASSWORD"])
	require.Equal(t, "text default", lines["SENDOKA_LOG_FORMAT"])
	require.NotContains(t, out.String(), "hunter2")
	require.NotContains(t, out.String(), "s3cret")
	require.Contains(t, lines["SENDOKA_DATABASE_URL"], "db.example", "the URL shows, its password does not")

	t.Setenv("SENDOKA_WORKERS", "many")
	err := run(context.Background(), []string{"config"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, `SENDOKA_WORKERS="many"`, "a variable that does not parse is refused, not ignored")
}

// TestConfigReferenceInREADME: the README's settings table is `sendoka config -reference`,
// so a new setting without its row fails here. Regenerate the table between the markers with
// `go run ./hosts/sendoka config -reference`.
func TestConfigReferenceInREADME(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SENDOKA_") {
			t.Setenv(name, "") // defaults, whatever the environment holds
		}
	}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"config", "-reference"}, &out, io.Discard))
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	const begin, end = "<!-- settings:begin (go run ./hosts/sendoka config -reference) -->\n", "<!-- settings:end -->"
	_, rest, ok := strings.Cut(string(readme), begin)
	require.True(t, ok, "README has the begin marker")
	table, _, ok := strings.Cut(rest, end)
	require.True(t, ok, "README has the end marker")
	require.Equal(t, out.String(), table, "README's settings table is out of date: go run ./hosts/sendoka config -reference")
	require.Contains(t, table, "| `SENDOKA_SMTP_HOST` | `-smtp-host` |")
}
