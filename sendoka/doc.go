// Package sendoka is the core of Sendoka: transactional email and SMS behind one API. A
// *Client is all of Sendoka without HTTP: the HTTP API, the binary and your own code call
// the same methods.
//
// # Build a Client
//
// A Client needs a Store and a Queue on one database, and the providers it hands messages
// to. storage/bunstore is the Store (Postgres or SQLite) and queue/riverjobs the Queue
// (River, on the same *sql.DB):
//
//	db, err := bunstore.Open(ctx, "sqlite:./sendoka.db", nil) // or "postgres://…"
//	err = db.Migrate(ctx)
//	err = riverjobs.Migrate(ctx, db.SQLDB(), string(db.Dialect()))
//	queue, err := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{})
//	sb := sandbox.New(sandbox.Options{}) // providers/sandbox: test keys, the sandbox domain
//	client, err := sendoka.New(sendoka.Config{
//		Store: db, Queue: queue,
//		Email: ses, // live mail: providers/sesemail or providers/smtpemail
//		SandboxEmail: sb, SandboxSMS: sb,
//	})
//
// # Send
//
// The methods that act for a caller take its *Principal: the org, the mode (live or test)
// and the permissions.
// Client.Authenticate turns an API key into one; code that uses no keys makes one with
// SystemPrincipal. SendEmail and SendSMS (and the batch forms) validate the request and, in
// one transaction, store the message, its first event and the job that will deliver it: the
// Message they return is durable, queued (or scheduled), and has its id. Single sends made at
// the same time share that transaction (Config.GroupCommit), each with its own result.
//
//	caller := sendoka.SystemPrincipal(orgID, sendoka.ModeLive)
//	msg, err := client.SendEmail(ctx, caller, &sendoka.EmailRequest{
//		From: "hello@example.com", To: []string{"ada@example.com"}, Subject: "Welcome", Text: "Hi Ada",
//	})
//
// A live principal's mail goes to Config.Email (SMS to Config.SMS); a test principal's
// messages, and all mail from the sandbox domain, go to SandboxEmail and SandboxSMS, never
// to a live provider.
//
// # Several providers
//
// Config.EmailProviders and Config.SMSProviders list several named providers per channel
// instead. Config.Routes pick them per message by tenant, tag or stream (provider_route.go);
// each has a circuit breaker (Config.Breaker, breaker.go) that skips it after consecutive
// failures and lets one message probe it later. Within its one claim on a message, a delivery
// moves it to the next provider only when the previous one refused it without taking it
// (transient, throttled) or was skipped, never after an unknown outcome, so no message is
// sent by two providers. Every provider tried is a DeliveryAttempt on the message.
//
// # Sending domains
//
// Mail comes from the sandbox domain or from a domain of the caller's org (or tenant):
// CreateDomain adds one with the DNS records to publish, VerifyDomain checks them (through
// Config.DNS) and makes it verified. A test principal may send from any domain it added, a
// live principal only from a verified one; live mail from a verified domain is DKIM-signed
// (OutboundEmail.DKIM). Config.VerifiedDomains makes domains verified at Bootstrap, for
// scripted installs.
//
// # Deliver
//
// The queue's workers run the jobs: queue.Start(ctx, client) starts them, and each calls
// Client.Deliver, which claims the message, hands it to its provider at most once, and
// records the outcome (retrying transient failures as Config.Delivery says). Start them in
// every process that should deliver; queue.Stop lets running deliveries finish. With a VERP
// bounce domain (Config.Inbound), an email with several recipients goes to a provider that
// can (PerRecipientSender: SMTP) in one transaction per recipient, and the at-most-once rule
// holds per recipient: each attempt records every recipient's answer, and a retry sends only
// to the recipients not yet settled (deliver_recipients.go).
//
// # Read
//
// GetMessage returns a message with its status, delivery attempts and event timeline;
// ListMessages pages through a channel's messages, newest first. Errors are *Error values
// with a Code (ErrorCode, AsError) that the HTTP API maps to its statuses.
//
// # Mail that comes back
//
// With Config.Inbound.BounceDomain set, mail leaves with a signed VERP return path
// (ReturnPath), and the inbound SMTP listener, hosts/smtpin, hands what comes back to
// HandleDeliveryReport (DSNs, free-text bounces and ARF complaints, parsed by package
// bounce): a hard bounce makes the message bounced and suppresses the address, a complaint
// records message.complained and suppresses it. Mail to an InboundRoute becomes an
// InboundEmail (ReceiveInboundEmail), with an email.received webhook event.
//
// # Platform mode
//
// An org that runs its own SaaS on Sendoka makes each of its customers a Tenant
// (CreateTenant). A principal with a TenantID (a tenant-bound key) sees and writes that
// tenant's data only; a platform-root principal (no TenantID) sees every tenant's, and acts
// as one with ForTenant, which the TenantID fields of the requests and list parameters call.
// DeleteTenant stops a tenant at once and leaves the deletion of its data to a job
// (PurgeTenant).
//
// # Tests and servers
//
// sendoka/sendokatest builds all of the above for a test, with the providers/memsend fake as
// every provider, so a test sees each message it sends. hosts/server assembles the whole
// server (database, queue, providers, Client and HTTP handler); hosts/httpapi serves the HTTP
// API on any Client.
//
// # Ports
//
// The core imports no database, queue, HTTP library or provider SDK. It uses small ports,
// declared here, whose comments state each contract:
//
//   - Store and Tx (store.go): persistence; one Tx is one database transaction.
//   - Queue (queue.go): durable jobs that join the caller's Tx (the outbox invariant).
//   - EmailSender and SMSSender (provider.go): the providers, with optional extras found by
//     type assertion (Namer, ConcurrencyLimiter, SenderProvisioner, DomainProvisioner).
//   - DNSResolver (domain.go): the DNS lookups that verify a domain; net.DefaultResolver.
//   - Clock (clock.go): time, injected so schedules and retries are tested without sleeping.
package sendoka
