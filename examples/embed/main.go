// Command embed mounts Sendoka's HTTP API under /mail/ in an ordinary net/http application,
// next to the application's own routes.
//
//	go run ./examples/embed            # listens on 127.0.0.1:8090
//	curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8090/mail/api/v1/emails
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"

	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/sendoka"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	app, closeApp, err := newApp(ctx, "./sendoka-embed-data", os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer closeApp()
	hs := &http.Server{Addr: "127.0.0.1:8090", Handler: app}
	go func() { <-ctx.Done(); hs.Close() }()
	fmt.Println("listening on http://127.0.0.1:8090 (Sendoka under /mail/)")
	if err := hs.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
	}
}

// newApp builds the application's router with Sendoka mounted under /mail/, and prints the
// keys made on first start.
func newApp(ctx context.Context, dataDir string, out io.Writer) (http.Handler, func(), error) {
	srv, err := server.Open(ctx, server.Config{DataDir: dataDir})
	if err != nil {
		return nil, nil, err
	}
	if err := srv.Start(ctx); err != nil {
		srv.Close(ctx)
		return nil, nil, err
	}
	boot, err := srv.Client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	if err != nil {
		srv.Close(ctx)
		return nil, nil, err
	}
	for _, k := range boot.NewKeys {
		fmt.Fprintln(out, "key:", k)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "my app; mail API under /mail/")
	})
	mux.Handle("/mail/", http.StripPrefix("/mail", srv.Handler))
	return mux, func() { srv.Close(context.Background()) }, nil
}
