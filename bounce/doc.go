// Package bounce reads the reports that come back to a sender: delivery status
// notifications (DSNs, RFC 3464: multipart/report; report-type=delivery-status), abuse
// feedback reports (ARF, RFC 5965: multipart/report; report-type=feedback-report), and the
// many bounces that follow no standard (qmail, old Exim and Sendmail, webmail providers).
//
// Parse takes the raw message and returns a Report: one Recipient per address it reports
// on, each with its Kind (Hard, Soft, Delayed, Delivered, Complaint), its RFC 3463 status,
// the SMTP reply code, the diagnostic text and the remote MTA, plus the Message-ID of the
// original message when the report quotes it. The package knows nothing of Sendoka: the
// inbound SMTP listener (hosts/smtpin) turns a Report into events on the message it
// concerns.
//
// # Classification
//
// A standard DSN says what happened: Action: failed with a 5.x.x Status is Hard, failed with
// a 4.x.x Status is Soft, delayed is Delayed, delivered, relayed and expanded are Delivered.
// An Action of failed whose diagnostic names an address that does not exist (Classify) is
// Hard whatever its status class, since the reporting MTA gave up on an address that will
// never work.
//
// Everything else goes through Classify, the package's own fallback classifier (the
// maintained classifier, sisimai, has a Go port, but it is not available as a module here):
// an ordered table of phrases, RFC 3463 status codes and SMTP reply codes, each naming a
// Reason (user_unknown, host_unknown, mailbox_full, blocked, ...). Reasons that say the
// address itself is bad (user_unknown, host_unknown, has_moved, not_accept) are Hard;
// a permanent status (5.x.x) or reply (5xx) with any other reason is Hard as well, as
// RFC 3464 would have it; the rest is Soft, or Delayed when the text says the sender is
// still trying. The table is tested against a corpus of real bounces from the sisimai
// project's set-of-emails (testdata/corpus, BSD 2-Clause, with its licence), where at least
// 95 % of the bounces sisimai itself calls hard must come out Hard.
package bounce
