// Command library sends an email through Sendoka's Go API, with no HTTP involved: it opens
// an embedded server (SQLite in a temporary directory, sandbox providers), sends, and waits
// until the sandbox reports the message delivered.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/sendoka"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "sendoka-library-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	srv, err := server.Open(ctx, server.Config{DataDir: dir})
	if err != nil {
		return err
	}
	defer srv.Close(context.Background())
	if err := srv.Start(ctx); err != nil {
		return err
	}
	boot, err := srv.Client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	if err != nil {
		return err
	}

	// A principal stands for the caller; library code that does not use API keys makes one.
	caller := sendoka.SystemPrincipal(boot.Org.ID, sendoka.ModeTest)
	msg, err := srv.Client.SendEmail(ctx, caller, &sendoka.EmailRequest{
		From:    "you@sandbox.sendoka.com",
		To:      []string{"user@example.com"},
		Subject: "Hello from Sendoka",
		HTML:    "<p>It works.</p>",
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "accepted:", msg.Status)

	for {
		m, err := srv.Client.GetMessage(ctx, caller, sendoka.ChannelEmail, msg.ID)
		if err != nil {
			return err
		}
		if m.Status.Terminal() {
			fmt.Fprintln(out, "final:", m.Status)
			for _, ev := range m.Events {
				fmt.Fprintln(out, "event:", ev.Type)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("message still %s: %w", m.Status, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
