package smtpemail_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/mimemail"
	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
	"github.com/sendoka/sendoka/sendoka"
)

var _ sendoka.PerRecipientSender = (*smtpemail.Sender)(nil)

// envelopes gives m one envelope per recipient (to, cc, bcc), each with its own return
// path.
func envelopes(m *sendoka.OutboundEmail) *sendoka.OutboundEmail {
	for i, r := range []string{"ada@example.com", "cc@example.com", "secret@example.com"} {
		m.Envelopes = append(m.Envelopes, sendoka.Envelope{Recipient: r, ReturnPath: "bounces+r" + string(rune('0'+i)) + "@bounce.acme.test"})
	}
	return m
}

// TestOneTransactionPerRecipient: with Envelopes, the same message goes out once per
// recipient on one connection, each time with the envelope's return path and its one
// recipient, and each recipient's answer is reported.
func TestOneTransactionPerRecipient(t *testing.T) {
	t.Parallel()
	srv := smtpemailtest.Start(t, smtpemailtest.Options{})
	s := plain(t, srv, smtpemail.Options{})
	require.True(t, s.SendsPerRecipient())
	m := envelopes(email("msg_01JPERRCPT"))
	res, err := s.SendEmail(ctx(t), m)
	require.NoError(t, err)
	require.Equal(t, "msg_01JPERRCPT@acme.test", res.ProviderMessageID)
	require.Equal(t, []sendoka.RecipientResult{{Recipient: "ada@example.com"}, {Recipient: "cc@example.com"}, {Recipient: "secret@example.com"}}, res.Recipients)

	got := srv.WaitFor(t, 3)
	require.Len(t, got, 3)
	for i, g := range got {
		require.Equal(t, m.Envelopes[i].ReturnPath, g.From)
		require.Equal(t, []string{m.Envelopes[i].Recipient}, g.To, "one RCPT TO per transaction")
		require.Equal(t, []string{"MAIL FROM:<" + m.Envelopes[i].ReturnPath + "> BODY=8BITMIME", "RCPT TO:<" + m.Envelopes[i].Recipient + ">"}, g.Envelope)
		require.True(t, bytes.Equal(got[0].Data, g.Data), "the very same bytes each time")
		require.Equal(t, 1, srv.ReceivedFor(mimemail.MessageID(m), m.Envelopes[i].Recipient))
	}
	require.Contains(t, string(got[0].Data), "To: \"Ada\" <ada@example.com>")
	require.Contains(t, string(got[0].Data), "Cc: cc@example.com", "the headers name every recipient")
	require.NotContains(t, string(got[0].Data), "secret@example.com", "bcc never in the message")
	require.Equal(t, 1, srv.Connections())

	// An envelope without a return path goes with the sender's address.
	m = email("msg_01JPERRCPT2")
	m.Envelopes = []sendoka.Envelope{{Recipient: "ada@example.com"}, {Recipient: "cc@example.com"}}
	_, err = s.SendEmail(ctx(t), m)
	require.NoError(t, err)
	require.Equal(t, "hello@acme.test", srv.WaitFor(t, 5)[4].From)
}

// TestPerRecipientAnswers: a refusal of one recipient is its answer and the others still
// go; throttling, an unknown outcome or a lost connection stop the send, and the envelopes
// not tried are not reported.
func TestPerRecipientAnswers(t *testing.T) {
	t.Parallel()
	refuseCC := func(err error) func(string) error {
		return func(to string) error {
			if to == "cc@example.com" {
				return err
			}
			return nil
		}
	}
	cases := []struct {
		name   string
		server smtpemailtest.Options
		// kinds is the answer per envelope tried ("" for taken).
		kinds []sendoka.ProviderErrorKind
		stop  sendoka.ProviderErrorKind // "" when every envelope was tried
		// delivered are the recipients whose message the relay accepted.
		delivered []string
	}{
		{"5xx refuses one", smtpemailtest.Options{Rcpt: refuseCC(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"})},
			[]sendoka.ProviderErrorKind{"", sendoka.Permanent, ""}, "", []string{"ada@example.com", "secret@example.com"}},
		{"4xx refuses one", smtpemailtest.Options{Rcpt: refuseCC(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Mailbox busy"})},
			[]sendoka.ProviderErrorKind{"", sendoka.Transient, ""}, "", []string{"ada@example.com", "secret@example.com"}},
		{"5xx after the data", smtpemailtest.Options{Data: func(m smtpemailtest.Message) error {
			if slices.Contains(m.To, "cc@example.com") {
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Rejected"}
			}
			return nil
		}}, []sendoka.ProviderErrorKind{"", sendoka.Permanent, ""}, "", []string{"ada@example.com", "secret@example.com"}},
		{"throttling stops", smtpemailtest.Options{Rcpt: refuseCC(&smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many messages, slow down"})},
			[]sendoka.ProviderErrorKind{"", sendoka.Throttled}, sendoka.Throttled, []string{"ada@example.com"}},
		{"no reply stops", smtpemailtest.Options{Data: func(m smtpemailtest.Message) error {
			if slices.Contains(m.To, "cc@example.com") {
				return smtpemailtest.ErrHangUp
			}
			return nil
		}}, []sendoka.ProviderErrorKind{"", sendoka.Unknown}, sendoka.Unknown, []string{"ada@example.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := smtpemailtest.Start(t, tc.server)
			s := plain(t, srv, smtpemail.Options{})
			m := envelopes(email("msg_01JANSWERS"))
			res, err := s.SendEmail(ctx(t), m)
			if tc.stop == "" {
				require.NoError(t, err)
			} else {
				requireKind(t, tc.stop, err)
			}
			require.Len(t, res.Recipients, len(tc.kinds))
			for i, k := range tc.kinds {
				require.Equal(t, m.Envelopes[i].Recipient, res.Recipients[i].Recipient)
				if k == "" {
					require.NoError(t, res.Recipients[i].Err)
				} else {
					requireKind(t, k, res.Recipients[i].Err)
				}
			}
			var delivered []string
			for _, g := range srv.Messages() {
				delivered = append(delivered, g.To...)
			}
			require.Equal(t, tc.delivered, delivered)
			for _, r := range []string{"ada@example.com", "cc@example.com", "secret@example.com"} {
				require.LessOrEqual(t, srv.ReceivedFor(mimemail.MessageID(m), r), 1, r)
			}
		})
	}
}
