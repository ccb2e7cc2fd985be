package sendoka

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestEmailRequestContract(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	p := SystemPrincipal("org_1", ModeTest)
	ok := func() *EmailRequest {
		return &EmailRequest{From: "you@sandbox.sendoka.com", To: []string{"user@example.com"}, Subject: "Hi", HTML: "<p>x</p>"}
	}
	pe := make([]byte, 0x80)
	copy(pe, "MZ")
	binary.LittleEndian.PutUint32(pe[0x3c:], 0x40)
	copy(pe[0x40:], "PE\x00\x00")
	fifty := func(prefix string) []string {
		out := make([]string, 30)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d@example.com", prefix, i)
		}
		return out
	}
	att := func(a AttachmentRequest) func(r *EmailRequest) {
		return func(r *EmailRequest) { r.Attachments = []AttachmentRequest{a} }
	}
	cases := []struct {
		name  string
		mod   func(r *EmailRequest)
		paths [][]any
	}{
		{"bad item keeps its index", func(r *EmailRequest) {
			r.To = []string{"a@example.com", "b@example.com", "c@example.com", "not an address"}
		}, [][]any{{"to", 3}}},
		{"display name with an encoded line break", func(r *EmailRequest) {
			r.To = []string{"=?utf-8?q?Eve=0D=0ABcc=3A_x=40evil=2Etest?= <eve@example.com>"}
		}, [][]any{{"to", 0}}},
		{"raw line break in an address", func(r *EmailRequest) { r.Cc = []string{"a@example.com\r\nBcc: x@evil.test"} }, [][]any{{"cc", 0}}},
		{"quoted local part", func(r *EmailRequest) { r.Bcc = []string{`"a b"@example.com`} }, [][]any{{"bcc", 0}}},
		{"ip literal", func(r *EmailRequest) { r.To = []string{"a@[127.0.0.1]"} }, [][]any{{"to", 0}}},
		{"no dot in domain", func(r *EmailRequest) { r.To = []string{"a@localhost"} }, [][]any{{"to", 0}}},
		{"non-ascii address", func(r *EmailRequest) { r.To = []string{"josé@example.com"} }, [][]any{{"to", 0}}},
		{"bad reply_to", func(r *EmailRequest) { r.ReplyTo = []string{"ok@example.com", "x@"} }, [][]any{{"reply_to", 1}}},
		{"more than 50 across lists", func(r *EmailRequest) { r.To, r.Cc = fifty("t"), fifty("c") }, [][]any{{"cc"}}},
		{"subject with a control character", func(r *EmailRequest) { r.Subject = "a\x00b" }, [][]any{{"subject"}}},
		{"subject with a lone CR", func(r *EmailRequest) { r.Subject = "a\rBcc: x" }, [][]any{{"subject"}}},
		{"invalid utf-8 text", func(r *EmailRequest) { r.Text = "\xff" }, [][]any{{"text"}}},
		{"html too big", func(r *EmailRequest) { r.HTML = strings.Repeat("x", MaxHTMLBytes+1) }, [][]any{{"html"}}},
		{"tag with a line break", func(r *EmailRequest) { r.Tags = []string{"ok", "a\nb"} }, [][]any{{"tags", 1}}},
		{"reserved header", func(r *EmailRequest) { r.Headers = map[string]string{"Bcc": "x@evil.test"} }, [][]any{{"headers", "Bcc"}}},
		{"content header", func(r *EmailRequest) { r.Headers = map[string]string{"Content-Type": "text/plain"} }, [][]any{{"headers", "Content-Type"}}},
		{"header value with CRLF", func(r *EmailRequest) {
			r.Headers = map[string]string{"X-Campaign": "a\r\nBcc: x@evil.test"}
		}, [][]any{{"headers", "X-Campaign"}}},
		{"header name with a colon", func(r *EmailRequest) { r.Headers = map[string]string{"X-A:B": "v"} }, [][]any{{"headers", "X-A:B"}}},
		{"too many attachments", func(r *EmailRequest) {
			r.Attachments = make([]AttachmentRequest, 11)
		}, [][]any{{"attachments"}}},
		{"bad base64", att(AttachmentRequest{Filename: "a.txt", Content: "%%%"}), [][]any{{"attachments", 0, "content"}}},
		{"empty content", att(AttachmentRequest{Filename: "a.txt"}), [][]any{{"attachments", 0, "content"}}},
		{"no filename", att(AttachmentRequest{Content: b64("x")}), [][]any{{"attachments", 0, "filename"}}},
		{"filename with CRLF", att(AttachmentRequest{Filename: "a\r\nBcc: x.txt", Content: b64("x")}), [][]any{{"attachments", 0, "filename"}}},
		{"filename with a path", att(AttachmentRequest{Filename: "../etc/passwd", Content: b64("x")}), [][]any{{"attachments", 0, "filename"}}},
		{"exe", att(AttachmentRequest{Filename: "setup.EXE", Content: b64("x")}), [][]any{{"attachments", 0, "filename"}}},
		{"double extension", att(AttachmentRequest{Filename: "invoice.pdf.js", Content: b64("x")}), [][]any{{"attachments", 0, "filename"}}},
		{"trailing dot", att(AttachmentRequest{Filename: "run.bat.", Content: b64("x")}), [][]any{{"attachments", 0, "filename"}}},
		{"executable content type", att(AttachmentRequest{Filename: "a.bin", Content: b64("x"), ContentType: "application/x-msdownload"}), [][]any{{"attachments", 0, "content_type"}}},
		{"bad content type", att(AttachmentRequest{Filename: "a.bin", Content: b64("x"), ContentType: "pdf"}), [][]any{{"attachments", 0, "content_type"}}},
		{"renamed executable", att(AttachmentRequest{Filename: "cat.jpg", Content: base64.StdEncoding.EncodeToString(pe)}), [][]any{{"attachments", 0, "content"}}},
		{"elf", att(AttachmentRequest{Filename: "tool", Content: b64("\x7fELF\x02\x01")}), [][]any{{"attachments", 0, "content"}}},
		{"bad content_id", att(AttachmentRequest{Filename: "a.png", Content: b64("x"), ContentID: "a b"}), [][]any{{"attachments", 0, "content_id"}}},
		{"duplicate content_id", func(r *EmailRequest) {
			r.Attachments = []AttachmentRequest{
				{Filename: "a.png", Content: b64("x"), ContentID: "logo"},
				{Filename: "b.png", Content: b64("y"), ContentID: "LOGO"},
			}
		}, [][]any{{"attachments", 1, "content_id"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ok()
			tc.mod(r)
			_, err := c.newEmail(p, r)
			require.Equal(t, tc.paths, fieldPaths(t, err))
		})
	}
}

func TestEmailAddressesNormalised(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	m, err := c.newEmail(SystemPrincipal("org_1", ModeTest), &EmailRequest{
		From:    `  Zoë Ünïcode  <Zoe@Example.COM>`,
		To:      []string{`"Ada" <ada@example.com>`, "ADA@example.com", `=?utf-8?q?Gr=C3=BC=C3=9Fe?= <g@example.com>`, "g@example.com"},
		Cc:      []string{"Ada@Example.com", "cc@example.com", `"Quote \"Me\"" <q@example.com>`},
		Bcc:     []string{"cc@EXAMPLE.com", "b@example.com", "b@example.com"},
		ReplyTo: []string{"r@example.com", "R@example.com"},
		Subject: "Hi", Text: "x",
	})
	require.NoError(t, err)
	e := m.Email
	require.Equal(t, `"Zoë Ünïcode" <Zoe@example.com>`, e.From, "names trimmed and quoted, domain lower-cased")
	require.Equal(t, []string{`"Ada" <ada@example.com>`, `"Grüße" <g@example.com>`}, e.To, "encoded words decoded; duplicates dropped")
	require.Equal(t, []string{"cc@example.com", `"Quote \"Me\"" <q@example.com>`}, e.Cc, "an address already in to is dropped from cc")
	require.Equal(t, []string{"b@example.com"}, e.Bcc)
	require.Equal(t, []string{"r@example.com"}, e.ReplyTo)
	// The stored form parses back to the same name and address.
	for _, s := range append(append([]string{e.From}, e.To...), e.Cc...) {
		a, err := mail.ParseAddress(s)
		require.NoError(t, err, s)
		require.Equal(t, s, formatAddress(a))
	}
	require.True(t, e.TrackOpens, "tracking defaults on")
	require.True(t, e.TrackClicks)
}

func TestEmailAttachmentsAccepted(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	off := false
	pdf := strings.Repeat("%PDF-1.7 ", 1000)
	wrapped := base64.StdEncoding.EncodeToString([]byte(pdf))
	var lines []string
	for len(wrapped) > 76 {
		lines, wrapped = append(lines, wrapped[:76]), wrapped[76:]
	}
	lines = append(lines, wrapped)
	m, err := c.newEmail(SystemPrincipal("org_1", ModeTest), &EmailRequest{
		From: "you@sandbox.sendoka.com", To: []string{"u@example.com"}, Subject: "Hi", HTML: `<img src="cid:logo">`,
		TrackOpens: &off,
		Headers:    map[string]string{"X-Entity-Ref-ID": "42", "List-Unsubscribe": "<https://example.com/u>"},
		Attachments: []AttachmentRequest{
			{Filename: "report.pdf", Content: strings.Join(lines, "\r\n")},
			{Filename: "logo.png", Content: base64.RawURLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe}), ContentID: "<logo>"},
			{Filename: "données.csv", Content: b64("a,b\n"), ContentType: "text/csv; charset=UTF-8"},
			{Filename: "noext", Content: b64("?")},
		},
	})
	require.NoError(t, err)
	e := m.Email
	require.False(t, e.TrackOpens)
	require.True(t, e.TrackClicks)
	require.Equal(t, map[string]string{"X-Entity-Ref-ID": "42", "List-Unsubscribe": "<https://example.com/u>"}, e.Headers)
	require.Len(t, e.Attachments, 4)
	require.Equal(t, Attachment{Filename: "report.pdf", ContentType: "application/pdf", Size: len(pdf), Content: []byte(pdf)}, e.Attachments[0], "line-wrapped base64")
	require.Equal(t, Attachment{Filename: "logo.png", ContentType: "image/png", ContentID: "logo", Size: 3, Content: []byte{0xfb, 0xff, 0xfe}}, e.Attachments[1], "URL alphabet, brackets dropped")
	require.Equal(t, "text/csv; charset=UTF-8", e.Attachments[2].ContentType)
	require.Equal(t, "application/octet-stream", e.Attachments[3].ContentType)
}

func TestEmailAttachmentsTooLarge(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	p := SystemPrincipal("org_1", ModeTest)
	half := base64.StdEncoding.EncodeToString(make([]byte, MaxAttachmentsSize/2))
	req := func(atts ...AttachmentRequest) *EmailRequest {
		return &EmailRequest{From: "you@sandbox.sendoka.com", To: []string{"u@example.com"}, Subject: "Hi", Text: "x", Attachments: atts}
	}
	// Exactly at the limit is fine.
	_, err := c.newEmail(p, req(AttachmentRequest{Filename: "a.bin", Content: half}, AttachmentRequest{Filename: "b.bin", Content: half}))
	require.NoError(t, err)

	for name, r := range map[string]*EmailRequest{
		"one byte over": req(AttachmentRequest{Filename: "a.bin", Content: half}, AttachmentRequest{Filename: "b.bin", Content: half},
			AttachmentRequest{Filename: "c.bin", Content: b64("x")}),
		"far over, refused before decoding": req(AttachmentRequest{Filename: "a.bin", Content: strings.Repeat("A", 12<<20)}),
		"over even with other problems":     req(AttachmentRequest{Filename: "a.exe", Content: half}, AttachmentRequest{Filename: "b.bin", Content: base64.StdEncoding.EncodeToString(make([]byte, MaxAttachmentsSize/2+3))}),
	} {
		_, err := c.newEmail(p, r)
		require.Equal(t, CodeAttachmentTooLarge, ErrorCode(err), "%s: %v", name, err)
	}
}

// TestReservedHeaders: headers that re-address a message (Resent-*) or send bounces and
// receipts elsewhere are refused like Sendoka's own fields, in any case.
func TestReservedHeaders(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	p := SystemPrincipal("org_1", ModeTest)
	for _, name := range []string{
		"Resent-From", "Resent-To", "Resent-Cc", "Resent-Bcc", "Resent-Sender", "Resent-Date",
		"Resent-Message-ID", "resent-x", "RESENT-REPLY-TO",
		"Errors-To", "errors-to", "Disposition-Notification-To", "Return-Receipt-To",
		"Bcc", "Content-Type", "X-Sendoka-Org",
	} {
		r := &EmailRequest{From: "you@sandbox.sendoka.com", To: []string{"u@example.com"}, Subject: "Hi", Text: "x",
			Headers: map[string]string{name: "x@evil.test", "X-Campaign": "ok"}}
		_, err := c.newEmail(p, r)
		require.Error(t, err, name)
		e := AsError(err)
		require.Equal(t, CodeValidation, e.Code, name)
		require.Equal(t, []FieldError{{Path: []any{"headers", name}, Code: FieldInvalid,
			Message: "this header is reserved: Sendoka or the mail servers set it"}}, e.Fields, name)
	}
	for _, name := range []string{"Resent", "X-Resent-From", "Errors-To-X", "List-Unsubscribe", "X-Errors-To"} {
		_, err := c.newEmail(p, &EmailRequest{From: "you@sandbox.sendoka.com", To: []string{"u@example.com"}, Subject: "Hi", Text: "x",
			Headers: map[string]string{name: "v"}})
		require.NoError(t, err, name)
	}
}

// controlCharacters are refused in every value that reaches a header: C0 controls (but tab),
// DEL, the C1 controls (NEL among them) and the Unicode line and paragraph separators.
var controlCharacters = map[string]string{
	"NUL": "\x00", "CR": "\r", "LF": "\n", "VT": "\v", "ESC": "\x1b", "DEL": "\x7f",
	"U+0080": "\u0080", "NEL U+0085": "\u0085", "U+008D": "\u008d", "U+009F": "\u009f",
	"LINE SEPARATOR U+2028": "\u2028", "PARAGRAPH SEPARATOR U+2029": "\u2029",
}

func TestHasControl(t *testing.T) {
	t.Parallel()
	for name, ch := range controlCharacters {
		require.True(t, hasControl(ch), name)
		require.True(t, hasControl("Hello "+ch+"Bcc: x@evil.test"), name)
	}
	for r := rune(0x80); r <= 0x9f; r++ {
		require.True(t, hasControl("a"+string(r)+"b"), "%U", r)
	}
	for _, ok := range []string{"", "plain", "tab\tok", "Zoë", "non\u00a0breaking", "€ ✓ 😀", "\u2027\u202a\u2030", "\xc2"} {
		require.False(t, hasControl(ok), "%q", ok)
	}
}

// TestHeaderValuesRefuseControls: every control character is refused in the subject, the
// display names (raw and RFC 2047 encoded), extra header values, attachment file names and
// tags, each at its own path.
func TestHeaderValuesRefuseControls(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	p := SystemPrincipal("org_1", ModeTest)
	for name, ch := range controlCharacters {
		encoded := mime.QEncoding.Encode("utf-8", "Eve"+ch+"Bcc: x@evil.test")
		cases := []struct {
			mod  func(r *EmailRequest)
			path []any
		}{
			{func(r *EmailRequest) { r.Subject = "Hello" + ch + "Bcc: x@evil.test" }, []any{"subject"}},
			{func(r *EmailRequest) { r.From = `"You` + ch + `" <you@sandbox.sendoka.com>` }, []any{"from"}},
			{func(r *EmailRequest) { r.To = []string{`"Eve` + ch + `" <eve@example.com>`} }, []any{"to", 0}},
			{func(r *EmailRequest) { r.Cc = []string{encoded + " <eve@example.com>"} }, []any{"cc", 0}},
			{func(r *EmailRequest) { r.Headers = map[string]string{"X-Campaign": "a" + ch + "b"} }, []any{"headers", "X-Campaign"}},
			{func(r *EmailRequest) {
				r.Attachments = []AttachmentRequest{{Filename: "a" + ch + "b.txt", Content: b64("x")}}
			}, []any{"attachments", 0, "filename"}},
			{func(r *EmailRequest) { r.Tags = []string{"ok", "a" + ch + "b"} }, []any{"tags", 1}},
		}
		for _, tc := range cases {
			r := &EmailRequest{From: "you@sandbox.sendoka.com", To: []string{"u@example.com"}, Subject: "Hi", Text: "x"}
			tc.mod(r)
			_, err := c.newEmail(p, r)
			require.Equal(t, [][]any{tc.path}, fieldPaths(t, err), "%s at %v", name, tc.path)
		}
	}
}
