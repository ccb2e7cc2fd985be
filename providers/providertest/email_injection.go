package providertest

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// headerInjection hands over values that carry a line break into a header: the subject, a
// display name (as an RFC 2047 encoded word that decodes to CRLF), a file name, an extra
// header's value. The core refuses all of them, but a provider must not rely on it: it
// either refuses the message as Permanent or sends it with no header added at the peer.
func (s *emailSuite) headerInjection(t *testing.T) {
	cases := []struct {
		name    string
		feature bool
		mod     func(m *sendoka.OutboundEmail, marker string)
	}{
		{"Subject", true, func(m *sendoka.OutboundEmail, marker string) {
			m.Subject = "Hello\r\nX-Injected: " + marker
		}},
		{"LoneLF", true, func(m *sendoka.OutboundEmail, marker string) {
			m.Subject = "Hello\nX-Injected: " + marker
		}},
		{"DisplayName", true, func(m *sendoka.OutboundEmail, marker string) {
			m.To = []string{"=?utf-8?q?Eve=0D=0AX-Injected=3A_" + marker + "?= <eve-" + marker + "@example.com>"}
		}},
		{"Filename", s.h.Features.Attachments, func(m *sendoka.OutboundEmail, marker string) {
			m.Attachments = []sendoka.Attachment{{Filename: "a\r\nX-Injected: " + marker + ".txt", ContentType: "text/plain", Content: []byte("x"), Size: 1}}
		}},
		{"HeaderValue", s.h.Features.Headers, func(m *sendoka.OutboundEmail, marker string) {
			m.Headers = map[string]string{"X-Campaign": "spring\r\nX-Injected: " + marker}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if !c.feature {
				t.Skip("the provider does not send this field")
			}
			st := s.setup(t)
			m := s.message()
			marker := token()
			c.mod(m, marker)
			_, err := st.Sender.SendEmail(t.Context(), m)
			if err != nil {
				var pe *sendoka.ProviderError
				require.True(t, errors.As(err, &pe), "got %T: %v", err, err)
				require.Equal(t, sendoka.Permanent, pe.Kind, "an unsafe message is refused for good, not retried: %v", err)
				if st.Received != nil {
					require.Empty(t, st.Received(t, m.MessageID), "a refused message must not reach the peer")
				}
				return
			}
			if st.Received == nil {
				return
			}
			for _, got := range st.Received(t, m.MessageID) {
				require.Empty(t, got.Header["X-Injected"], "a value became a header of its own")
				for k := range got.Header {
					require.False(t, strings.Contains(k, marker), "a value became header %q", k)
				}
			}
		})
	}
}
