package sendoka_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/sendoka/sendokatest"
	"github.com/sendoka/sendoka/storage/bunstore"
)

// A Client is built from a Store and a Queue on one database, and the providers it hands
// messages to; here SQLite in memory, River, and one in-memory fake for every provider.
// The queue's workers deliver what the Client accepts.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The Store: Sendoka's tables, and River's beside them in the same database.
	db, err := bunstore.Open(ctx, "sqlite::memory:", nil) // or "sqlite:./sendoka.db", "postgres://…"
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	if err := riverjobs.Migrate(ctx, db.SQLDB(), string(db.Dialect())); err != nil {
		log.Fatal(err)
	}

	// The Queue: River on the same *sql.DB, so a message and its job commit together.
	queue, err := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{})
	if err != nil {
		log.Fatal(err)
	}

	// The providers: providers/sesemail, smtpemail or snssms for live sends, and
	// providers/sandbox for test keys; here memsend for all of them.
	fake := memsend.New()
	client, err := sendoka.New(sendoka.Config{
		Store: db, Queue: queue,
		Email: fake, SMS: fake, SandboxEmail: fake, SandboxSMS: fake,
	})
	if err != nil {
		log.Fatal(err)
	}

	// Deliver: the workers call client.Deliver for every accepted message.
	if err := queue.Start(ctx, client); err != nil {
		log.Fatal(err)
	}
	defer queue.Stop(context.Background())

	// Send, as an org's principal (or authenticate an API key with client.Authenticate).
	boot, err := client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	if err != nil {
		log.Fatal(err)
	}
	caller := sendoka.SystemPrincipal(boot.Org.ID, sendoka.ModeLive)
	msg, err := client.SendEmail(ctx, caller, &sendoka.EmailRequest{
		From:    "hello@sandbox.sendoka.com",
		To:      []string{"ada@example.com"},
		Subject: "Welcome",
		Text:    "Hi Ada",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted:", msg.Status)

	if err := fake.WaitFor(ctx, 1); err != nil {
		log.Fatal(err)
	}
	fmt.Println("handed to the provider:", fake.Sent()[0].Email.Subject)
	// Output:
	// accepted: queued
	// handed to the provider: Welcome
}

// Several email providers: SES first, an SMTP relay when SES refuses a message without
// taking it (here it throttles) or its breaker is open; the message records both attempts.
func ExampleConfig_failover() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := bunstore.Open(ctx, "sqlite::memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	if err := riverjobs.Migrate(ctx, db.SQLDB(), string(db.Dialect())); err != nil {
		log.Fatal(err)
	}
	queue, err := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{})
	if err != nil {
		log.Fatal(err)
	}

	// Stand-ins for sesemail and smtpemail senders; SES is rate limiting us.
	ses, relay := memsend.New(), memsend.New()
	ses.Outage(sendoka.Throttled)
	client, err := sendoka.New(sendoka.Config{
		Store: db, Queue: queue,
		EmailProviders: []sendoka.EmailProvider{{Name: "ses", Sender: ses}, {Name: "smtp", Sender: relay}},
		Breaker:        sendoka.BreakerConfig{Failures: 5, OpenFor: 30 * time.Second},
		// Receipts always go through the relay.
		Routes:          []sendoka.Route{{Channel: sendoka.ChannelEmail, Tag: "receipt", Providers: []string{"smtp"}}},
		VerifiedDomains: []string{"example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := queue.Start(ctx, client); err != nil {
		log.Fatal(err)
	}
	defer queue.Stop(context.Background())

	boot, err := client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	if err != nil {
		log.Fatal(err)
	}
	caller := sendoka.SystemPrincipal(boot.Org.ID, sendoka.ModeLive)
	msg, err := client.SendEmail(ctx, caller, &sendoka.EmailRequest{
		From: "hello@example.com", To: []string{"ada@example.com"}, Subject: "Welcome", Text: "Hi Ada",
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := relay.WaitFor(ctx, 1); err != nil {
		log.Fatal(err)
	}
	tick := time.NewTicker(10 * time.Millisecond) // the record follows the hand-off
	defer tick.Stop()
	for {
		m, err := client.GetMessage(ctx, caller, sendoka.ChannelEmail, msg.ID)
		if err != nil {
			log.Fatal(err)
		}
		if m.Status == sendoka.StatusSent {
			for _, a := range m.DeliveryAttempts {
				fmt.Println(a.Provider, a.Result, "failed over:", a.FailedOver)
			}
			break
		}
		select {
		case <-ctx.Done():
			log.Fatal(ctx.Err())
		case <-tick.C:
		}
	}
	// Output:
	// ses throttled failed over: true
	// smtp sent failed over: false
}

// SendEmail accepts the email durably and returns at once; a worker hands it to the
// provider. sendokatest runs the whole of Sendoka with a fake provider, as a test would.
func ExampleClient_SendEmail() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := sendokatest.Open(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close(ctx)

	msg, err := env.Client.SendEmail(ctx, env.Test, &sendoka.EmailRequest{
		From:    "Acme <hello@sandbox.sendoka.com>",
		To:      []string{"ada@example.com"},
		Cc:      []string{"ADA@example.com", "grace@example.com"}, // Ada is already in To
		Subject: "Your receipt",
		HTML:    "<p>Thanks for your order.</p>",
		Tags:    []string{"receipt"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msg.Channel, msg.Status)

	if err := env.Fake.WaitFor(ctx, 1); err != nil {
		log.Fatal(err)
	}
	sent := env.Fake.Sent()[0].Email
	fmt.Println("from:", sent.From)
	fmt.Println("to:", sent.To, "cc:", sent.Cc)
	fmt.Println("subject:", sent.Subject)
	// Output:
	// email queued
	// from: "Acme" <hello@sandbox.sendoka.com>
	// to: [ada@example.com] cc: [grace@example.com]
	// subject: Your receipt
}

// GetMessage shows a message as it is now: its status, provider and event timeline.
func ExampleClient_GetMessage() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := sendokatest.Open(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close(ctx)

	msg, err := env.Client.SendEmail(ctx, env.Live, &sendoka.EmailRequest{
		From: "hello@sandbox.sendoka.com", To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hi Ada",
	})
	if err != nil {
		log.Fatal(err)
	}
	// Wait until a worker has handed it over, as GetMessage would show it then.
	if _, err := env.WaitStatusContext(ctx, sendoka.ChannelEmail, msg.ID, sendoka.StatusSent); err != nil {
		log.Fatal(err)
	}

	m, err := env.Client.GetMessage(ctx, env.Live, sendoka.ChannelEmail, msg.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Status, "by", m.Provider, "after", m.Attempts, "attempt")
	for _, ev := range m.Events {
		fmt.Println(ev.Type)
	}

	// An id the caller cannot see is not found, whoever it belongs to.
	_, err = env.Client.GetMessage(ctx, env.Live, sendoka.ChannelSMS, msg.ID)
	fmt.Println(sendoka.ErrorCode(err))
	// Output:
	// sent by memsend after 1 attempt
	// message.queued
	// message.sent
	// NOT_FOUND
}

// An SMS goes out from a registered sender of the org. The fake has no provisioning step, so
// a number is active as soon as it is registered (as it is with the sandbox).
func ExampleClient_SendSMS() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := sendokatest.Open(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close(ctx)

	number, err := env.Client.CreatePhoneNumber(ctx, env.Test, &sendoka.PhoneNumberRequest{
		Kind: sendoka.SenderLongCode, PhoneNumber: "+15551234567", ISOCountry: "US",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(number.PhoneNumber, number.Status)

	msg, err := env.Client.SendSMS(ctx, env.Test, &sendoka.SMSRequest{
		From: "+15551234567", To: "+15559876543", Body: "Your code is 1234",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msg.Channel, msg.Status, msg.SMS.Segments, "segment")

	if err := env.Fake.WaitFor(ctx, 1); err != nil {
		log.Fatal(err)
	}
	sent := env.Fake.Sent()[0].SMS
	fmt.Println(sent.From, "->", sent.To+":", sent.Body)
	// Output:
	// +15551234567 active
	// sms queued 1 segment
	// +15551234567 -> +15559876543: Your code is 1234
}

// ListMessages pages through a channel's messages, newest first; NextCursor asks for the
// page after.
func ExampleClient_ListMessages() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := sendokatest.Open(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close(ctx)

	for _, name := range []string{"Ada", "Grace", "Edsger"} {
		_, err := env.Client.SendEmail(ctx, env.Test, &sendoka.EmailRequest{
			From: "hello@sandbox.sendoka.com", To: []string{name + "@example.com"},
			Subject: "Welcome, " + name, Text: "Hi", Tags: []string{"signup"},
		})
		if err != nil {
			log.Fatal(err)
		}
	}

	params := sendoka.ListParams{Limit: 2, Tag: "signup"}
	for page := 1; ; page++ {
		list, err := env.Client.ListMessages(ctx, env.Test, sendoka.ChannelEmail, params)
		if err != nil {
			log.Fatal(err)
		}
		for _, m := range list.Messages {
			fmt.Println(page, m.Email.Subject)
		}
		if !list.HasMore {
			break
		}
		params.Cursor = list.NextCursor
	}
	// Output:
	// 1 Welcome, Edsger
	// 1 Welcome, Grace
	// 2 Welcome, Ada
}
