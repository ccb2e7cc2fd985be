package smtpin_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/smtpin"
)

func TestParseMessage(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/reply.eml")
	require.NoError(t, err)
	m, err := smtpin.ParseMessage(raw, "ada@example.org", "support@in.example.com")
	require.NoError(t, err)
	require.Equal(t, "Re: café", m.Subject)
	require.Equal(t, []string{"support@in.example.com", `"B" <b@example.org>`}, m.To)
	require.Equal(t, []string{"c@example.org"}, m.Cc)
	require.Equal(t, "Merci, le café est arrivé.", strings.TrimSpace(m.Text), "quoted-printable, from Latin-1")
	require.Equal(t, "<p>Merci</p>", strings.TrimSpace(m.HTML))
	require.Equal(t, "<msg_01ABC@example.com>", m.InReplyTo)
	require.Len(t, m.Attachments, 2)
	require.Equal(t, "logo@example.org", m.Attachments[0].ContentID, "an inline image is an attachment with its Content-ID")
	require.Equal(t, "image/png", m.Attachments[0].ContentType)
	require.Equal(t, "résumé.pdf", m.Attachments[1].Filename)
	require.Equal(t, "%PDF-1.4\n", string(m.Attachments[1].Content), "base64 across lines")
	require.Equal(t, "Subject", m.Headers[3].Name)
	require.Equal(t, "Re: café", m.Headers[3].Value, "headers in order, decoded")
	require.Equal(t, int64(len(raw)), m.Size)

	_, err = smtpin.ParseMessage([]byte("no header here"), "", "x@in.example.com")
	require.Error(t, err)
	plain, err := smtpin.ParseMessage([]byte("Subject: hi\n\nJust text"), "", "x@in.example.com")
	require.NoError(t, err)
	require.Equal(t, "Just text", plain.Text)
}

// FuzzParseMessage: any bytes parse without a panic, and what comes out is bounded.
func FuzzParseMessage(f *testing.F) {
	raw, err := os.ReadFile("testdata/reply.eml")
	require.NoError(f, err)
	f.Add(raw)
	f.Add([]byte("Subject: x\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\r\n--b--"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := smtpin.ParseMessage(b, "", "x@in.example.com")
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(m.Attachments), 500)
		require.Equal(t, int64(len(b)), m.Size)
	})
}
