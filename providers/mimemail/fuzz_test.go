package mimemail_test

import (
	"errors"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/mimemail"
	"github.com/sendoka/sendoka/sendoka"
)

// FuzzBuild proves that no input reaches the message as a header of its own: whatever the
// subject, display name, file name, extra header name and value, Build either refuses the
// email (ErrInvalid) or writes a message whose top-level header fields are exactly the
// expected ones, each value decoding back to the input. Seeds: testdata/fuzz/FuzzBuild.
func FuzzBuild(f *testing.F) {
	f.Add("Hello", "Ada", "a.txt", "X-Campaign", "spring", "body")
	f.Fuzz(func(t *testing.T, subject, name, filename, hname, hvalue, text string) {
		to := (&mail.Address{Name: name, Address: "b@example.com"}).String()
		m := &sendoka.OutboundEmail{
			MessageID: "msg_fuzz", From: "a@example.com", To: []string{to}, Subject: subject, Text: text,
			Headers:     map[string]string{hname: hvalue},
			Attachments: []sendoka.Attachment{{Filename: filename, ContentType: "text/plain", Content: []byte(text)}},
		}
		raw, err := mimemail.Build(m, nil)
		if err != nil {
			require.True(t, errors.Is(err, mimemail.ErrInvalid), "%v", err)
			require.False(t, clean(subject) && cleanName(name) && clean(filename) && validName(hname) && clean(hvalue) &&
				strings.TrimSpace(hvalue) != "" && utf8.ValidString(text), "a clean email was refused: %v", err)
			return
		}
		p := parse(t, raw)
		keys := headerKeys(p.header)
		require.ElementsMatch(t, []string{"Date", "From", "Subject", "Message-Id", "Mime-Version", "Content-Type",
			textproto.CanonicalMIMEHeaderKey(hname)}, keys, "an input became a header")
		require.Equal(t, subject, decodeHeader(t, p.header.Get("Subject")))
		require.Equal(t, hvalue, decodeHeader(t, p.header.Get(hname)))
		want, err := mail.ParseAddress(to)
		require.NoError(t, err)
		require.Equal(t, []mail.Address{*want}, addresses(t, p.header, "To"))
		require.Len(t, p.attachments, 1)
		require.Equal(t, filename, p.attachments[0].Filename)
		require.Equal(t, []byte(text), p.attachments[0].Content)
		require.Equal(t, crlf(text), p.text)
	})
}

func clean(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// cleanName: a display name Build must accept once net/mail has formatted it.
func cleanName(s string) bool { return clean(s) }

func validName(s string) bool {
	if s == "" || len(s) > 76 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	switch l := strings.ToLower(s); {
	case strings.HasPrefix(l, "content-"):
		return false
	default:
		switch l {
		case "date", "from", "sender", "to", "cc", "bcc", "reply-to", "subject", "message-id", "mime-version",
			"return-path", "received", "dkim-signature":
			return false
		}
	}
	return true
}
