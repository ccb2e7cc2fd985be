package providertest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// perRecipient: a provider that sends per recipient (Features.SendsPerRecipient) hands the
// peer the same message once per envelope, each time with the envelope's return path and
// its one recipient, and reports each envelope's answer; given only some envelopes (what a
// retry gives), it sends to those only. Any other provider must not claim to.
func (s *emailSuite) perRecipient(t *testing.T) {
	st := s.setup(t)
	p, ok := st.Sender.(sendoka.PerRecipientSender)
	if !s.h.Features.SendsPerRecipient {
		require.False(t, ok && p.SendsPerRecipient(), "the provider sends per recipient but Features.SendsPerRecipient is false")
		return
	}
	require.True(t, ok && p.SendsPerRecipient(), "Features.SendsPerRecipient needs sendoka.PerRecipientSender reporting true")
	require.NotNil(t, st.Received, "Features.SendsPerRecipient needs EmailSetup.Received")
	m := s.message()
	tok := token()
	m.Cc = []string{"cc-" + tok + "@example.com"}
	m.Bcc = []string{"bcc-" + tok + "@example.com"}
	for i, r := range append(append(append([]string{}, m.To...), m.Cc...), m.Bcc...) {
		m.Envelopes = append(m.Envelopes, sendoka.Envelope{Recipient: bareAddress(r),
			ReturnPath: fmt.Sprintf("bounces+%d%s@bounce.example.com", i, tok)})
	}
	res := s.send(t, st, m)
	require.Len(t, res.Recipients, len(m.Envelopes), "an answer per envelope")
	for i, r := range res.Recipients {
		require.Equal(t, m.Envelopes[i].Recipient, r.Recipient, "answers in envelope order")
		require.NoError(t, r.Err)
	}
	got := st.Received(t, m.MessageID)
	require.Len(t, got, len(m.Envelopes), "one hand-off per envelope")
	for _, env := range m.Envelopes {
		var match *ReceivedEmail
		for i := range got {
			if len(got[i].EnvelopeTo) == 1 && bareAddress(got[i].EnvelopeTo[0]) == env.Recipient {
				require.Nil(t, match, "%s got the message twice", env.Recipient)
				match = &got[i]
			}
		}
		require.NotNil(t, match, "no hand-off to %s alone", env.Recipient)
		require.Equal(t, env.ReturnPath, match.ReturnPath, "the envelope's return path")
		require.Equal(t, addressKey(t, m.From), addressKey(t, match.From), "from")
		require.ElementsMatch(t, addressKeys(t, m.To), addressKeys(t, match.To), "to: the headers name every recipient")
		require.ElementsMatch(t, addressKeys(t, m.Cc), addressKeys(t, match.Cc), "cc")
		require.Equal(t, m.Subject, match.Subject)
		requireSameText(t, m.Text, match.Text, "text body")
	}

	// What a retry hands over: the envelopes left.
	left := cloneEmail(m)
	left.MessageID = newMessageID()
	left.Envelopes = m.Envelopes[2:]
	res = s.send(t, st, left)
	require.Len(t, res.Recipients, 1)
	got = st.Received(t, left.MessageID)
	require.Len(t, got, 1)
	require.Equal(t, []string{left.Envelopes[0].Recipient}, bareAddresses(got[0].EnvelopeTo))
}
