// Command sendoka runs Sendoka: the HTTP API and the delivery workers.
//
//	sendoka serve     HTTP API and workers
//	sendoka worker    workers only
//	sendoka migrate   apply database migrations and exit
//	sendoka keys      create | list | revoke API keys
//	sendoka users     create | list | link dashboard users
//	sendoka config    print the effective configuration, or the reference table
//	sendoka version   print the version
//
// Configuration comes from SENDOKA_* environment variables (settings.go, config.go and the
// README's table); flags of the same name override them. `sendoka CMD -h` lists a command's
// settings by group.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sendoka:", err)
		os.Exit(1)
	}
}

// command is one of sendoka's commands.
type command struct {
	name, summary string
	// groups are the settings the command takes (none: all).
	groups []group
	run    func(ctx context.Context, c *config, s *settings, args []string, stdout, stderr io.Writer) error
}

// workerGroups are the settings of the processes that deliver: all but the HTTP server's.
var workerGroups = []group{groupDatabase, groupEmail, groupSMS, groupInbound, groupQueue, groupLimits, groupData, groupProcess}

var commands = []command{
	{"serve", "run the HTTP API and the delivery workers", nil, func(ctx context.Context, c *config, _ *settings, _ []string, stdout, stderr io.Writer) error {
		return serve(ctx, c, stdout, stderr, true)
	}},
	{"worker", "run the delivery workers only", workerGroups, func(ctx context.Context, c *config, _ *settings, _ []string, stdout, stderr io.Writer) error {
		return serve(ctx, c, stdout, stderr, false)
	}},
	{"migrate", "apply database migrations and exit", []group{groupDatabase, groupProcess}, migrate},
	{"keys", "create | list | revoke API keys", []group{groupDatabase, groupLimits, groupProcess}, nil},                                                     // keys.go parses its own
	{"users", "create | list | link dashboard users (prints a one-time sign-in link)", []group{groupServer, groupDatabase, groupLimits, groupProcess}, nil}, // users.go parses its own
	{"backup", "copy the SQLite database to DEST while the server runs (Postgres: use pg_dump)", []group{groupDatabase, groupProcess}, backup},
	{"healthcheck", "exit 0 if the server on SENDOKA_ADDR answers /readyz with 200 (a container's HEALTHCHECK)", []group{groupServer}, healthcheck},
	{"config", "print the effective configuration and where each value came from (-reference: the README's table)", nil, printConfig},
}

// run executes one command; ctx ends on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage())
		return nil
	}
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return nil
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "sendoka", version)
		return nil
	case "keys":
		err := keys(ctx, args, stdout, stderr)
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	case "users":
		err := users(ctx, args, stdout, stderr)
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	for _, cmd := range commands {
		if cmd.name != name {
			continue
		}
		var c config
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		s := newSettings(fs, cmd.groups...)
		c.flags(s)
		var reference *bool
		if name == "config" {
			reference = fs.Bool("reference", false, "print the README's table of every setting, as Markdown")
		}
		if err := s.parse(args, stdout, fmt.Sprintf("usage: sendoka %s [flags]\n\n%s%s.", name, strings.ToUpper(cmd.summary[:1]), cmd.summary[1:])); err != nil {
			if errors.Is(err, errHelp) {
				return nil
			}
			return err
		}
		if reference != nil && *reference {
			s.markdown(stdout)
			return nil
		}
		return cmd.run(ctx, &c, s, fs.Args(), stdout, stderr)
	}
	return fmt.Errorf("unknown command %q\n%s", name, usage())
}

// usage is the command list.
func usage() string {
	var b []byte
	b = fmt.Appendf(b, "usage: sendoka <command> [flags]\n\ncommands:\n")
	for _, cmd := range commands {
		b = fmt.Appendf(b, "  %-8s  %s\n", cmd.name, cmd.summary)
	}
	b = fmt.Appendf(b, "  %-8s  %s\n  %-8s  %s\n", "version", "print the version (also --version)", "help", "print this list (also --help)")
	b = fmt.Appendf(b, "\nRun \"sendoka <command> -h\" for the settings of a command.\n")
	return string(b)
}

// printConfig prints every setting of serve: its value (secrets masked) and its source.
func printConfig(_ context.Context, _ *config, s *settings, _ []string, stdout, _ io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE")
	for _, g := range groupOrder {
		for _, st := range s.list {
			if st.group == g {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", st.env, s.value(st), s.source(st.flag))
			}
		}
	}
	return tw.Flush()
}

// healthcheck asks the server on the listen address whether it is ready.
func healthcheck(ctx context.Context, c *config, _ *settings, _ []string, stdout, _ io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, defaultPublicURL(c.addr)+"/readyz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s", res.Status)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}

// backup copies the SQLite database to the path given (sendoka backup DEST).
func backup(ctx context.Context, c *config, _ *settings, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: sendoka backup [flags] DEST")
	}
	srv, _, _, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	if err := srv.DB.Backup(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "backed up to", args[0])
	return nil
}
