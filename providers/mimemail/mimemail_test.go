package mimemail_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/mimemail"
	"github.com/sendoka/sendoka/sendoka"
)

var date = time.Date(2026, 4, 22, 10, 14, 22, 0, time.FixedZone("", 2*3600))

func build(t testing.TB, m *sendoka.OutboundEmail) (*parsed, []byte) {
	t.Helper()
	raw, err := mimemail.Build(m, &mimemail.Options{Date: date})
	require.NoError(t, err)
	return parse(t, raw), raw
}

func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func TestBuildRoundTrip(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + strings.Repeat("\x00\xff", 300))
	pdf := bytes.Repeat([]byte("%PDF-1.7\n\x00\x01\x02\xfe"), 5000)
	many := make([]string, 50)
	for i := range many {
		many[i] = fmt.Sprintf(`"Recipient Number %d" <r%d@example.com>`, i, i)
	}
	longSubject := strings.Repeat("Ünïcode subject, with 'quotes' and = signs _ ? ", 18) + "end"
	bigHTML := "<html><body>" + strings.Repeat("<p>"+strings.Repeat("x", 2000)+"</p>\n", 500) + "</body></html>"

	cases := []struct {
		name        string
		m           *sendoka.OutboundEmail
		shape       string
		wantText    string // "" means m.Text
		attachments []parsedAttachment
	}{
		{
			name:  "text only",
			m:     &sendoka.OutboundEmail{From: "a@example.com", To: []string{"b@example.com"}, Subject: "Hi", Text: "Hello\nthere\n"},
			shape: "text/plain",
		},
		{
			name:     "html only gets a derived text part",
			m:        &sendoka.OutboundEmail{From: "a@example.com", To: []string{"b@example.com"}, Subject: "Hi", HTML: `<h1>Welcome</h1><p>Read <a href="https://example.com/docs">the docs</a>.</p>`},
			shape:    "alternative[text/plain,text/html]",
			wantText: "Welcome\r\n\r\nRead the docs (https://example.com/docs).",
		},
		{
			name:  "text and html",
			m:     &sendoka.OutboundEmail{From: "a@example.com", To: []string{"b@example.com"}, Subject: "Hi", Text: "plain\r\nline \t\r\n", HTML: "<p>html</p>"},
			shape: "alternative[text/plain,text/html]",
		},
		{
			name: "inline images and attachments",
			m: &sendoka.OutboundEmail{
				MessageID: "msg_01JTEST", From: `"Acme Café" <hello@Acme.example>`, To: []string{"b@example.com"}, Subject: "Receipt",
				Text: "See the receipt.", HTML: `<p><img src="cid:logo@acme"> See the receipt.</p>`,
				Attachments: []sendoka.Attachment{
					{Filename: "receipt façade ü.pdf", ContentType: "application/pdf", Content: pdf},
					{Filename: "logo.png", ContentType: "image/png", ContentID: "logo@acme", Content: png},
					{Filename: "notes.txt", ContentType: "text/plain; charset=utf-8", Content: []byte("a\nb")},
					{Filename: "empty.bin", ContentType: "application/octet-stream", Content: []byte{}},
				},
			},
			shape: "mixed[alternative[text/plain,related[text/html,image/png]],application/pdf,text/plain,application/octet-stream]",
			attachments: []parsedAttachment{
				{Filename: "logo.png", ContentType: "image/png", ContentID: "logo@acme", Disposition: "inline", Content: png},
				{Filename: "receipt façade ü.pdf", ContentType: "application/pdf", Disposition: "attachment", Content: pdf},
				{Filename: "notes.txt", ContentType: "text/plain; charset=utf-8", Disposition: "attachment", Content: []byte("a\nb")},
				{Filename: "empty.bin", ContentType: "application/octet-stream", Disposition: "attachment", Content: []byte{}},
			},
		},
		{
			name: "inline image without html is attached",
			m: &sendoka.OutboundEmail{From: "a@example.com", To: []string{"b@example.com"}, Subject: "x", Text: "t",
				Attachments: []sendoka.Attachment{{Filename: "a.png", ContentType: "image/png", ContentID: "a", Content: png}}},
			shape:       "mixed[text/plain,image/png]",
			attachments: []parsedAttachment{{Filename: "a.png", ContentType: "image/png", ContentID: "a", Disposition: "inline", Content: png}},
		},
		{
			name: "non-ASCII everywhere, 50 recipients, long headers",
			m: &sendoka.OutboundEmail{
				From: `"Zoë \"Z\" Ünïcode" <zoe@example.com>`, To: many,
				Cc: []string{`"Grüße aus Köln, GmbH" <k@example.com>`, "plain@example.com"}, Bcc: []string{"hidden@example.com"},
				ReplyTo: []string{`"Support; Team" <s@example.com>`}, Subject: longSubject,
				Text: "日本語のテキスト。\n二行目。", HTML: "<p>日本語のテキスト。</p>",
				Headers: map[string]string{
					"X-Campaign": "Spring  sale  ", "List-Unsubscribe": "<https://example.com/u?id=1>, <mailto:u@example.com>",
					"X-Long": strings.Repeat("word ", 150), "X-Emoji": "🚀 launch",
				},
			},
			shape: "alternative[text/plain,text/html]",
		},
		{
			name:  "large body",
			m:     &sendoka.OutboundEmail{From: "a@example.com", To: []string{"b@example.com"}, Subject: "big", Text: "t", HTML: bigHTML},
			shape: "alternative[text/plain,text/html]",
		},
		{
			name:  "bcc only",
			m:     &sendoka.OutboundEmail{From: "a@example.com", Bcc: []string{"b@example.com", "c@example.com"}, Subject: "x", Text: "=?utf-8?q?not_a_word?= =3D"},
			shape: "text/plain",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.m.MessageID == "" {
				tc.m.MessageID = "msg_" + strings.Map(func(r rune) rune {
					if r >= 'a' && r <= 'z' {
						return r
					}
					return '_'
				}, tc.name)
			}
			p, raw := build(t, tc.m)
			require.Equal(t, tc.shape, p.shape)

			h := p.header
			got, err := h.Date()
			require.NoError(t, err)
			require.True(t, got.Equal(date), got)
			require.Equal(t, []mail.Address{*mustParse(t, tc.m.From)}, addresses(t, h, "From"))
			if len(tc.m.To)+len(tc.m.Cc) == 0 {
				require.Equal(t, "undisclosed-recipients:;", h.Get("To"))
			} else {
				require.Equal(t, mustParseList(t, tc.m.To), addresses(t, h, "To"))
			}
			require.Equal(t, mustParseList(t, tc.m.Cc), addresses(t, h, "Cc"))
			require.Equal(t, mustParseList(t, tc.m.ReplyTo), addresses(t, h, "Reply-To"))
			require.Empty(t, h["Bcc"], "Bcc never appears in the message")
			for _, b := range tc.m.Bcc {
				require.NotContains(t, string(raw), mustParse(t, b).Address)
			}
			require.Equal(t, tc.m.Subject, decodeHeader(t, h.Get("Subject")))
			require.Equal(t, "<"+mimemail.MessageID(tc.m)+">", h.Get("Message-Id"))
			require.Equal(t, "1.0", h.Get("Mime-Version"))
			for k, v := range tc.m.Headers {
				require.Equal(t, v, decodeHeader(t, h.Get(k)), k)
			}
			wantKeys := []string{"Date", "From", "Subject", "Message-Id", "Mime-Version", "Content-Type"}
			for k := range tc.m.Headers {
				wantKeys = append(wantKeys, textproto.CanonicalMIMEHeaderKey(k))
			}
			require.ElementsMatch(t, wantKeys, headerKeys(h), "no header more, none less")

			wantText := tc.wantText
			if wantText == "" {
				wantText = crlf(tc.m.Text)
			}
			require.Equal(t, wantText, p.text)
			require.Equal(t, crlf(tc.m.HTML), p.html)
			require.Equal(t, tc.attachments, p.attachments)
		})
	}
}

// headerKeys lists the top-level header keys, leaving out the address and transfer-encoding
// fields whose presence depends on the case.
func headerKeys(h mail.Header) []string {
	var out []string
	for k := range h {
		switch k {
		case "To", "Cc", "Reply-To", "Content-Transfer-Encoding":
			continue
		}
		out = append(out, k)
	}
	return out
}

func mustParse(t testing.TB, s string) *mail.Address {
	t.Helper()
	a, err := mail.ParseAddress(s)
	require.NoError(t, err)
	return a
}

func mustParseList(t testing.TB, list []string) []mail.Address {
	t.Helper()
	if len(list) == 0 {
		return nil
	}
	out := make([]mail.Address, len(list))
	for i, s := range list {
		out[i] = *mustParse(t, s)
	}
	return out
}

func TestBuildFoldsHeaders(t *testing.T) {
	t.Parallel()
	many := make([]string, 50)
	for i := range many {
		many[i] = fmt.Sprintf("user%d@example.com", i)
	}
	_, raw := build(t, &sendoka.OutboundEmail{From: "a@example.com", To: many, Subject: strings.Repeat("word ", 60) + "end", Text: "x"})
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		require.LessOrEqual(t, len(line), 78, "header line %q", line)
	}
}

func TestBuildRefusesInjection(t *testing.T) {
	t.Parallel()
	ok := func() *sendoka.OutboundEmail {
		return &sendoka.OutboundEmail{From: "a@example.com", To: []string{"b@example.com"}, Subject: "Hi", Text: "x"}
	}
	cases := map[string]func(m *sendoka.OutboundEmail){
		"subject":         func(m *sendoka.OutboundEmail) { m.Subject = "Hi\r\nBcc: x@evil.test" },
		"subject lone LF": func(m *sendoka.OutboundEmail) { m.Subject = "Hi\nBcc: x@evil.test" },
		"encoded name": func(m *sendoka.OutboundEmail) {
			m.To = []string{"=?utf-8?q?x=0D=0ABcc=3A_e=40evil=2Etest?= <b@example.com>"}
		},
		"header value":    func(m *sendoka.OutboundEmail) { m.Headers = map[string]string{"X-A": "v\r\nBcc: x@evil.test"} },
		"header name":     func(m *sendoka.OutboundEmail) { m.Headers = map[string]string{"X-A: v\r\nBcc": "x"} },
		"reserved header": func(m *sendoka.OutboundEmail) { m.Headers = map[string]string{"bcc": "x@evil.test"} },
		"content header":  func(m *sendoka.OutboundEmail) { m.Headers = map[string]string{"Content-Type": "text/html"} },
		"filename":        func(m *sendoka.OutboundEmail) { m.Attachments = []sendoka.Attachment{{Filename: "a\r\nX: y.txt"}} },
		"content type": func(m *sendoka.OutboundEmail) {
			m.Attachments = []sendoka.Attachment{{Filename: "a", ContentType: "text/plain\r\nX: y"}}
		},
		"content id": func(m *sendoka.OutboundEmail) {
			m.Attachments = []sendoka.Attachment{{Filename: "a", ContentID: "a>\r\nX: <y"}}
		},
		"invalid utf-8":    func(m *sendoka.OutboundEmail) { m.Subject = "\xff" },
		"bad from":         func(m *sendoka.OutboundEmail) { m.From = "nope" },
		"no recipient":     func(m *sendoka.OutboundEmail) { m.To = nil },
		"address with bcc": func(m *sendoka.OutboundEmail) { m.Cc = []string{"b@example.com>\r\nBcc: <x@evil.test"} },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := ok()
			mod(m)
			_, err := mimemail.Build(m, nil)
			require.True(t, errors.Is(err, mimemail.ErrInvalid), "%v", err)
		})
	}
}

func TestEnvelope(t *testing.T) {
	t.Parallel()
	from, rcpts, err := mimemail.Envelope(&sendoka.OutboundEmail{
		From: `"A" <a@example.com>`, To: []string{`"B" <b@example.com>`}, Cc: []string{"c@example.com"}, Bcc: []string{"d@example.com"},
	})
	require.NoError(t, err)
	require.Equal(t, "a@example.com", from)
	require.Equal(t, []string{"b@example.com", "c@example.com", "d@example.com"}, rcpts)
	_, _, err = mimemail.Envelope(&sendoka.OutboundEmail{From: "a@example.com"})
	require.ErrorIs(t, err, mimemail.ErrInvalid)
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	require.Equal(t, "msg_01J@example.com", mimemail.MessageID(&sendoka.OutboundEmail{MessageID: "msg_01J", From: `"X" <x@EXAMPLE.com>`}))
	id := mimemail.MessageID(&sendoka.OutboundEmail{From: "x@example.com"})
	require.Regexp(t, `^[0-9a-f]{32}@example\.com$`, id, "random when Sendoka gave none")
}

func TestTextFromHTML(t *testing.T) {
	t.Parallel()
	cases := []struct{ html, text string }{
		{`<p>Hello   <b>world</b></p><p>Second&nbsp;para &amp; more</p>`, "Hello world\n\nSecond para & more"},
		{`<html><head><title>T</title><style>p{}</style></head><body><script>x()</script><h1>Title</h1>Text<br>next</body></html>`, "Title\n\nText\nnext"},
		{`<ul><li>one</li><li>two <a href="https://e.com/x">link</a></li></ul>`, "- one\n- two link (https://e.com/x)"},
		{`<a href="https://e.com/">https://e.com/</a> <a href="mailto:a@e.com">a@e.com</a> <a href="#x">anchor</a>`, "https://e.com/ a@e.com anchor"},
		{`<a href="https://e.com/"><img src="x.png" alt="Logo"></a>`, "Logo (https://e.com/)"},
		{`<a href="https://e.com/"><img src="x.png"></a>`, "https://e.com/"},
		{`<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>`, "a b\nc"},
		{"<pre>keep\n  this</pre>after", "keep\n  this\n\nafter"},
		{`<div>one</div><div>two</div>`, "one\ntwo"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.text, mimemail.TextFromHTML(tc.html), tc.html)
	}
}
