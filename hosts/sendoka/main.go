// Command sendoka runs Sendoka: the HTTP API and the delivery workers.
//
//	sendoka serve     HTTP API and workers (the default command)
//	sendoka worker    workers only
//	sendoka migrate   apply database migrations and exit
//	sendoka keys      create | list | revoke API keys
//	sendoka version   print the version
//
// Configuration comes from SENDOKA_* environment variables (see config.go and the README);
// flags of the same name override them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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

// run executes one command; ctx ends on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr, true)
	case "worker":
		return serve(ctx, args, stdout, stderr, false)
	case "migrate":
		return migrate(ctx, args, stdout, stderr)
	case "keys":
		return keys(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "sendoka", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage: sendoka <command> [flags]

commands:
  serve     run the HTTP API and the delivery workers (default)
  worker    run the delivery workers only
  migrate   apply database migrations and exit
  keys      create | list | revoke API keys
  version   print the version

Run "sendoka <command> -h" for the flags of a command.
`
