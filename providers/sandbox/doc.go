// Package sandbox is the simulated provider: it takes every message sent with a test key
// (sok_test_…) and all mail from the sandbox domain, delivers nothing, and reports the outcome
// a real provider would, so an integration can be tested end to end without a mailbox or a
// phone. The core records the send as sent, then applies the simulated outcomes it returns
// in SendResult.Events as it applies any provider's report.
//
// # Email
//
// The outcome depends on the recipient. Magic addresses at the sandbox domain (Options.Domain,
// sandbox.sendoka.com by default) and the Amazon SES mailbox simulator's addresses behave as
// follows; every other address is delivered.
//
//	recipient                                  outcome
//	delivered@sandbox.sendoka.com              delivered
//	bounced@sandbox.sendoka.com                bounced: 550 5.1.1 mailbox does not exist
//	complained@sandbox.sendoka.com             delivered, then a spam complaint
//	suppressed@sandbox.sendoka.com             bounced: address is on the suppression list
//	success@simulator.amazonses.com            delivered
//	bounce@simulator.amazonses.com             bounced: 550 5.1.1 user unknown
//	complaint@simulator.amazonses.com          delivered, then a spam complaint
//	ooto@simulator.amazonses.com               delivered, with an out-of-office auto-reply noted
//	                                           in the event data ("auto_reply")
//	suppressionlist@simulator.amazonses.com    bounced: address is on the suppression list
//	anything else                              delivered
//
// The local part is matched without case, and a +label is ignored: bounced+signup-42@… bounces.
// As with a real provider, the core suppresses an address that bounced or complained, so a
// second send to it is refused; give each test its own label to keep tests independent.
//
// Every recipient (to, cc and bcc, each address once) gets its own events, with Recipient
// set. The message's status then follows the core's status machine: the first outcome
// applied wins and later ones are recorded as events without changing it, so a message to
// delivered@ and bounced@ ends delivered or bounced depending on which report the core
// applies first. Send to one magic address to test one outcome.
//
// # SMS
//
// Magic numbers, in the style of Twilio's test credentials (+1 500 555 is not a real range):
//
//	recipient      outcome
//	+15005550001   delivered
//	+15005550002   failed: 30003 unreachable destination handset
//	+15005550003   bounced: 30005 unknown destination handset
//	+15005550004   failed: 30007 message filtered by the carrier
//	+15005550006   delivered, then the recipient replies STOP: the core suppresses the number
//	               for the org (and tenant) of the sender, and the next send to it is
//	               refused with ALL_SUPPRESSED until it replies START
//	anything else  delivered
//
// The core suppresses a number that bounced, like an address. The STOP reply reaches the core
// through Options.Inbound, which hosts/server wires to Client.HandleInboundSMS.
//
// The sandbox is also the provisioning step of long codes and toll-free numbers registered
// while it is the SMS provider: they are active at once, except two magic numbers:
//
//	number         provisioning
//	+15005550008   stays pending (sending from it is refused)
//	+15005550009   fails (rejected by the carrier)
//
// # Latency
//
// The sandbox answers at once. Options.Latency (SENDOKA_SANDBOX_LATENCY in the server) makes
// every email and SMS hand-off take that long, as a real provider's API call does, for
// benchmarks and development: delivery throughput with a 100 ms provider shows whether enough
// workers run. A hand-off whose context ends first fails as transient, like any abandoned one.
//
// # Deduplication
//
// The sandbox is stateless and deterministic: the provider message id derives from the
// message id, and the same message always gets the same outcome. A repeated hand-off of one
// message is therefore harmless, and Deduplicates reports true.
package sandbox
