package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/httpapi"
	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestHostile runs a brief attack in process, on SQLite (and Postgres when configured):
// three requests per operation and the slow clients, against the handler the binary
// serves behind an http.Server with the binary's kinds of timeouts. The full attack is
// `make hostile`; this one keeps `make test` catching regressions.
func TestHostile(t *testing.T) {
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			dsn := bunstoretest.DSN(t, d)
			const bodyRead = time.Second
			var handler http.Handler
			hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				handler.ServeHTTP(w, r)
			}))
			base := "http://" + hs.Listener.Addr().String()
			srv, err := server.Open(ctx, server.Config{DatabaseURL: dsn, DisableLimits: true,
				Inbound:  sendoka.InboundConfig{Domains: []string{"in.example.com"}, BounceDomain: "bounces.example.com"},
				Tracking: sendoka.TrackingConfig{BaseURL: base},
				HTTP:     httpapi.Options{BodyReadTimeout: bodyRead}})
			require.NoError(t, err)
			t.Cleanup(func() { _ = srv.Close(context.Background()) })
			live, test := sendoka.NewKeyPlaintext(sendoka.ModeLive), sendoka.NewKeyPlaintext(sendoka.ModeTest)
			_, err = srv.Client.Bootstrap(ctx, sendoka.BootstrapOptions{Keys: []string{live, test}})
			require.NoError(t, err)
			handler = srv.Handler

			tg := &target{base: base, addr: hs.Listener.Addr().String(), dsn: dsn, live: live, test: test,
				readHeaderTimeout: 2 * time.Second, bodyReadTimeout: bodyRead, writeTimeout: 10 * time.Second,
				idleTimeout: 2 * time.Second, maxBody: httpapi.DefaultMaxBodyBytes}
			hs.Config.ReadHeaderTimeout = tg.readHeaderTimeout
			hs.Config.ReadTimeout = tg.writeTimeout
			hs.Config.WriteTimeout = tg.writeTimeout
			hs.Config.IdleTimeout = tg.idleTimeout
			hs.Start()
			t.Cleanup(hs.Close)

			seed := uint64(time.Now().UnixNano())
			rep, err := run(ctx, tg, options{perRoute: 3, seed: seed})
			require.NoError(t, err)
			var out strings.Builder
			rep.print(&out, true)
			require.Zero(t, rep.violations(), "seed %d:\n%s", seed, out.String())
			require.Empty(t, rep.problems, "every fixture is made through the API")
			require.Positive(t, rep.wrote, "the write watch saw the accepted requests write")
			require.Greater(t, len(rep.routes), 80, "every operation of the document, and the probes")
		})
	}
}
