// Package sendoka is the core of Sendoka: transactional email and SMS behind one API.
//
// A *Client validates requests, applies the rules (scopes, senders, limits, the status
// machine) and records every message and its events through a Store. It never talks to a
// database, a queue or a provider directly; it uses the small ports declared here:
//
//   - Store and Tx (store.go): persistence; one Tx is one database transaction.
//   - Queue (queue.go): durable jobs that join the caller's Tx (the outbox invariant).
//   - EmailSender and SMSSender (provider.go): the providers that hand messages on.
//   - Clock (clock.go): time, injected so schedules and retries are tested without sleeping.
//
// The packages under storage/, queue/, providers/ and hosts/ implement or use these ports;
// the core imports none of them.
package sendoka
