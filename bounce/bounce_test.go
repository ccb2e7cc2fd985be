package bounce_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/bounce"
)

// dsn builds a DSN for one recipient, as Postfix writes them.
func dsn(action, status, diag string) []byte {
	return []byte(strings.ReplaceAll(fmt.Sprintf(`Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: bounces+abc@bounce.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Mon, 1 Dec 2026 10:00:00 +0000

Final-Recipient: rfc822; ada@example.org
Original-Recipient: rfc822;Ada@Example.org
Action: %s
Status: %s
Remote-MTA: dns; mx1.example.org
Diagnostic-Code: smtp; %s
 (continued)

--B1
Content-Type: text/rfc822-headers

From: hello@example.com
To: ada@example.org
Message-ID: <msg_01ABC@example.com>
Subject: Hi

--B1--
`, action, status, diag), "\n", "\r\n"))
}

func TestParseDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, action, status, diag string
		kind                       bounce.Kind
		reason                     string
	}{
		{"hard", "failed", "5.1.1", "550 5.1.1 <ada@example.org>: Recipient address rejected: User unknown", bounce.Hard, bounce.ReasonUserUnknown},
		{"permanent policy", "failed", "5.7.1", "554 5.7.1 Service unavailable; client host blocked", bounce.Hard, bounce.ReasonBlocked},
		{"transient", "failed", "4.2.2", "452 4.2.2 Mailbox full", bounce.Soft, bounce.ReasonMailboxFull},
		{"delayed", "delayed", "4.4.1", "connect to mx1.example.org: Connection timed out", bounce.Delayed, bounce.ReasonNetworkError},
		{"delivered", "delivered", "2.0.0", "250 2.0.0 Ok", bounce.Delivered, bounce.ReasonDeliveredOK},
		{"4xx but no such user", "failed", "4.0.0", "450 no such user here", bounce.Hard, bounce.ReasonUserUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := bounce.Parse(dsn(tc.action, tc.status, tc.diag), nil)
			require.NoError(t, err)
			require.Equal(t, bounce.FormatDSN, r.Format)
			require.Equal(t, "mx.example.net", r.ReportingMTA)
			require.Equal(t, "msg_01ABC@example.com", r.OriginalMessageID)
			require.Len(t, r.Recipients, 1)
			rc := r.Recipients[0]
			require.Equal(t, "ada@example.org", rc.Address)
			require.Equal(t, "ada@example.org", rc.OriginalRecipient)
			require.Equal(t, tc.kind, rc.Kind)
			require.Equal(t, tc.reason, rc.Reason)
			require.Equal(t, tc.status, rc.Status)
			require.Equal(t, tc.action, rc.Action)
			require.Equal(t, "mx1.example.org", rc.RemoteMTA)
			require.Equal(t, tc.diag+" (continued)", rc.Diagnostic, "folded lines are unfolded")
		})
	}
}

const arf = `From: feedback@mail.example.net
To: bounces+tok@bounce.example.com
Subject: FW: Hi
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="part1"

--part1
Content-Type: text/plain

This is an email abuse report.

--part1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounces+tok@bounce.example.com>
Source-IP: 192.0.2.1
Reported-Domain: example.com

--part1
Content-Type: message/rfc822

From: hello@example.com
To: redacted@example.org
Message-ID: <msg_01XYZ@example.com>
Subject: Hi

Hello
--part1--
`

func TestParseARF(t *testing.T) {
	t.Parallel()
	r, err := bounce.Parse([]byte(arf), nil)
	require.NoError(t, err)
	require.Equal(t, bounce.FormatARF, r.Format)
	require.Equal(t, "abuse", r.FeedbackType)
	require.Equal(t, "SomeGenerator/1.0", r.UserAgent)
	require.Equal(t, "bounces+tok@bounce.example.com", r.OriginalMailFrom)
	require.Equal(t, "msg_01XYZ@example.com", r.OriginalMessageID)
	require.Len(t, r.Recipients, 1)
	require.Equal(t, bounce.Complaint, r.Recipients[0].Kind)
	require.Equal(t, "redacted@example.org", r.Recipients[0].Address, "the quoted To, when no Original-Rcpt-To")
}

func TestParseNonStandard(t *testing.T) {
	t.Parallel()
	raw := []byte("From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+x@bounce.example.com\r\nSubject: failure notice\r\n\r\n" +
		"Hi. This is the qmail-send program at mx.example.net.\r\n\r\n<gone@example.org>:\r\n" +
		"192.0.2.3 does not like recipient.\r\nRemote host said: 550 5.1.1 <gone@example.org>: Recipient address rejected\r\n" +
		"\r\n--- Below this line is a copy of the message.\r\n\r\nFrom: hello@example.com\r\nTo: gone@example.org\r\nMessage-ID: <msg_1@example.com>\r\n\r\nHi\r\n")
	r, err := bounce.Parse(raw, nil)
	require.NoError(t, err)
	require.Equal(t, bounce.FormatNonStd, r.Format)
	require.Len(t, r.Recipients, 1, "addresses of the copied message are not recipients")
	require.Equal(t, "gone@example.org", r.Recipients[0].Address)
	require.Equal(t, bounce.Hard, r.Recipients[0].Kind)
	require.Equal(t, "5.1.1", r.Recipients[0].Status)
	require.Equal(t, "550", r.Recipients[0].SMTPCode)
	require.Equal(t, "msg_1@example.com", r.OriginalMessageID)
}

func TestParseNotAReport(t *testing.T) {
	t.Parallel()
	reply := []byte("From: Ada <ada@example.org>\r\nTo: support@example.com\r\nSubject: Re: your order\r\n\r\nThanks!\r\n")
	_, err := bounce.Parse(reply, nil)
	require.ErrorIs(t, err, bounce.ErrNotReport)
	ooo := []byte("From: ada@example.org\r\nTo: bounces+x@bounce.example.com\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\nI am away.\r\n")
	r, err := bounce.Parse(ooo, &bounce.Options{NullSender: true})
	require.NoError(t, err)
	require.Equal(t, bounce.FormatAutoReply, r.Format)
	require.Empty(t, r.Recipients)
	_, err = bounce.Parse([]byte("\x00not a header"), nil)
	require.ErrorIs(t, err, bounce.ErrMalformed)
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"550 5.1.1 The email account that you tried to reach does not exist.": bounce.ReasonUserUnknown,
		"Host or domain name not found. Name service error":                   bounce.ReasonHostUnknown,
		"552 5.2.2 Mailbox full":                                              bounce.ReasonMailboxFull,
		"421 Too many connections, try again later":                           bounce.ReasonRateLimited,
		"nothing to see": bounce.ReasonUndetermined,
	} {
		require.Equal(t, want, bounce.Classify("", "", text), text)
	}
	require.Equal(t, bounce.ReasonUserUnknown, bounce.Classify("5.1.1", "550", ""), "the status alone")
	require.True(t, bounce.IsHard(bounce.ReasonHostUnknown))
	require.False(t, bounce.IsHard(bounce.ReasonMailboxFull))
}

// FuzzParse feeds Parse arbitrary messages: it must never panic, and what it returns must
// be consistent (a report always has a format; recipients have a kind).
func FuzzParse(f *testing.F) {
	f.Add(dsn("failed", "5.1.1", "550 user unknown"))
	f.Add([]byte(arf))
	seeds, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.eml"))
	for i, s := range seeds {
		if i%25 == 0 {
			b, err := os.ReadFile(s)
			require.NoError(f, err)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := bounce.Parse(raw, &bounce.Options{NullSender: len(raw)%2 == 0})
		if err != nil {
			require.Nil(t, r)
			return
		}
		require.NotEmpty(t, r.Format)
		for _, rc := range r.Recipients {
			require.NotEmpty(t, rc.Kind)
		}
	})
}
