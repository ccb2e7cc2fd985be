package riverjobs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
)

// Example wires the queue between the store and the client: the store's *sql.DB carries
// River's tables too, the client enqueues through the queue, and the queue's workers call
// the client back.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "riverjobs-example")
	if err != nil {
		panic(err)
	}
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

	q, err := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{})
	if err != nil {
		panic(err)
	}
	fake := memsend.New() // stands in for every provider
	client, err := sendoka.New(sendoka.Config{Store: db, Queue: q, SandboxEmail: fake, SandboxSMS: fake})
	if err != nil {
		panic(err)
	}
	boot, err := client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	if err != nil {
		panic(err)
	}

	if err := q.Start(ctx, client); err != nil {
		panic(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = q.Stop(stopCtx) // waits for running deliveries
	}()

	m, err := client.SendEmail(ctx, sendoka.SystemPrincipal(boot.Org.ID, sendoka.ModeTest), &sendoka.EmailRequest{
		From: "hello@sandbox.sendoka.com", To: []string{"ada@example.com"}, Subject: "Welcome", Text: "Hi Ada",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("accepted:", m.Status)

	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := fake.WaitFor(waitCtx, 1); err != nil {
		panic(err)
	}
	fmt.Println("handed to the provider:", fake.Count(m.ID), "time")
	// Output:
	// accepted: queued
	// handed to the provider: 1 time
}
