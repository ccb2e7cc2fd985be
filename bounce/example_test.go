package bounce_test

import (
	"fmt"

	"github.com/sendoka/sendoka/bounce"
)

// Parse reads a DSN; each recipient comes with its kind, status and diagnostic.
func ExampleParse() {
	raw := []byte("From: MAILER-DAEMON@mx.example.net\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.example.net\r\n\r\n" +
		"Final-Recipient: rfc822; ada@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"Remote-MTA: dns; mx1.example.org\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n" +
		"--B--\r\n")
	r, err := bounce.Parse(raw, nil)
	if err != nil {
		panic(err)
	}
	for _, rc := range r.Recipients {
		fmt.Println(r.Format, rc.Address, rc.Kind, rc.Status, rc.SMTPCode, rc.Reason, rc.RemoteMTA)
	}
	// Output: dsn ada@example.org hard 5.1.1 550 user_unknown mx1.example.org
}

// Classify names the reason of a failure from whatever a bounce says.
func ExampleClassify() {
	fmt.Println(bounce.Classify("", "", "552 Requested mail action aborted: mailbox full"))
	fmt.Println(bounce.Classify("5.1.1", "550", ""))
	// Output:
	// mailbox_full
	// user_unknown
}
