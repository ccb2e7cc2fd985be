package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/sendoka/sendoka/hosts/httpapi"
	"github.com/sendoka/sendoka/providers/sandbox"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
)

// ExampleNew mounts Sendoka's API under /mail/ in an application's own router.
func ExampleNew() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sendoka-example")
	defer os.RemoveAll(dir)
	db, err := bunstore.Open(ctx, "sqlite:"+filepath.Join(dir, "sendoka.db"), nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		panic(err)
	}
	if err := riverjobs.Migrate(ctx, db.SQLDB(), string(db.Dialect())); err != nil {
		panic(err)
	}
	queue, err := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{})
	if err != nil {
		panic(err)
	}
	sb := sandbox.New(sandbox.Options{})
	client, err := sendoka.New(sendoka.Config{Store: db, Queue: queue, SandboxEmail: sb, SandboxSMS: sb})
	if err != nil {
		panic(err)
	}
	boot, err := client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/mail/", http.StripPrefix("/mail", httpapi.New(client, httpapi.Options{})))

	body := `{"from":"you@sandbox.sendoka.com","to":["user@example.com"],"subject":"Hello","html":"<p>It works.</p>"}`
	req := httptest.NewRequest(http.MethodPost, "/mail/api/v1/emails", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+boot.NewKeys[0])
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, strings.HasPrefix(rec.Header().Get("X-Request-Id"), "req_"))
	// Output: 200 true
}
