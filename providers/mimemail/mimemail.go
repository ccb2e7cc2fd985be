// Package mimemail builds RFC 5322 messages from sendoka.OutboundEmail: the bytes the SMTP
// and SES providers send.
//
// The shape follows what the email carries:
//
//	multipart/mixed                  when there are attachments
//	  multipart/alternative          when there are a text and an HTML body
//	    text/plain
//	    multipart/related            when the HTML shows inline images (cid:)
//	      text/html
//	      image/...                  Content-ID, disposition inline
//	  application/pdf ...            disposition attachment
//
// Bodies are UTF-8, quoted-printable (base64 when mostly non-ASCII), with CRLF line
// breaks; attachments are base64. Header values that are not plain ASCII are RFC 2047
// encoded words, file names RFC 2231 parameters; long headers are folded. The output is
// 7-bit clean. Message-ID is <sendoka-message-id@sender-domain>, stable across retries.
// When only HTML is given, a text part is derived from it (TextFromHTML).
//
// Build refuses (ErrInvalid) any value that would reach a header with a line break or
// another control character in it, whatever the caller validated before: no input can add
// a header field.
//
// Why not go-mail's Msg (the SMTP provider uses go-mail for the connection)? Its writer
// replaces characters of file names, writes file names as RFC 2047 words inside quoted
// parameters (which net/mail and mime/multipart do not decode, so the message cannot be
// checked by re-parsing it), and chooses boundaries at random with no guarantee they stay
// out of the content. This package is small, deterministic apart from the boundary, and
// its tests re-parse every message with the standard library.
package mimemail

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sendoka/sendoka/sendoka"
)

// ErrInvalid is returned (wrapped) for an email that cannot be written safely: an address
// that does not parse, a control character in a value that reaches a header, a reserved or
// malformed extra header name, text that is not UTF-8.
var ErrInvalid = errors.New("mimemail: invalid email")

// Options tunes Build. The zero value (or nil) uses every default.
type Options struct {
	// Date is the Date header. Default: time.Now().
	Date time.Time
}

// Build returns m as an RFC 5322 message with CRLF line ends.
func Build(m *sendoka.OutboundEmail, opts *Options) ([]byte, error) {
	if opts == nil {
		opts = &Options{}
	}
	date := opts.Date
	if date.IsZero() {
		date = time.Now()
	}
	from, err := parseOne(m.From, "from")
	if err != nil {
		return nil, err
	}
	to, err := parseList(m.To, "to")
	if err != nil {
		return nil, err
	}
	cc, err := parseList(m.Cc, "cc")
	if err != nil {
		return nil, err
	}
	replyTo, err := parseList(m.ReplyTo, "reply_to")
	if err != nil {
		return nil, err
	}
	if _, err := parseList(m.Bcc, "bcc"); err != nil { // never written, but still checked
		return nil, err
	}
	if len(to)+len(cc) == 0 && len(m.Bcc) == 0 {
		return nil, fmt.Errorf("%w: no recipient", ErrInvalid)
	}
	if err := checkText("subject", m.Subject, true); err != nil {
		return nil, err
	}
	if err := checkText("html", m.HTML, false); err != nil {
		return nil, err
	}
	if err := checkText("text", m.Text, false); err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(m.Headers))
	for _, n := range names {
		if err := checkHeader(n, m.Headers[n]); err != nil {
			return nil, err
		}
	}
	body, err := buildBody(m)
	if err != nil {
		return nil, err
	}

	var out strings.Builder
	size := len(m.HTML)*11/10 + len(m.Text)*11/10 + 2048
	for _, a := range m.Attachments {
		size += len(a.Content)*4/3 + len(a.Content)/38 + 512
	}
	out.Grow(size)
	h := headerWriter{&out}
	h.field("Date", date.Format(time.RFC1123Z))
	h.field("From", address(from))
	if len(to) > 0 {
		h.field("To", addressList(to))
	} else if len(cc) == 0 {
		// Only Bcc recipients: RFC 5322 allows no To, but many filters frown on it.
		h.field("To", "undisclosed-recipients:;")
	}
	if len(cc) > 0 {
		h.field("Cc", addressList(cc))
	}
	if len(replyTo) > 0 {
		h.field("Reply-To", addressList(replyTo))
	}
	h.field("Subject", unstructured(m.Subject))
	h.field("Message-ID", "<"+MessageID(m)+">")
	h.field("MIME-Version", "1.0")
	for _, n := range names {
		h.field(n, unstructured(m.Headers[n]))
	}
	body.write(h, &out)
	return []byte(out.String()), nil
}

// MessageID returns the Message-ID Build writes for m, without angle brackets: Sendoka's
// message id at the sender's domain, so a retried send carries the same one.
func MessageID(m *sendoka.OutboundEmail) string {
	domain := "sendoka.invalid"
	if a, err := mail.ParseAddress(m.From); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
			domain = strings.ToLower(a.Address[at+1:])
		}
	}
	id := m.MessageID
	if id == "" || !validIDLeft(id) {
		var b [16]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	return id + "@" + domain
}

// Envelope returns the SMTP envelope of m: the sender's bare address and every recipient of
// to, cc and bcc, bare and in that order.
func Envelope(m *sendoka.OutboundEmail) (from string, rcpts []string, err error) {
	f, err := parseOne(m.From, "from")
	if err != nil {
		return "", nil, err
	}
	for _, list := range []struct {
		field string
		addrs []string
	}{{"to", m.To}, {"cc", m.Cc}, {"bcc", m.Bcc}} {
		as, err := parseList(list.addrs, list.field)
		if err != nil {
			return "", nil, err
		}
		for _, a := range as {
			rcpts = append(rcpts, a.Address)
		}
	}
	if len(rcpts) == 0 {
		return "", nil, fmt.Errorf("%w: no recipient", ErrInvalid)
	}
	return f.Address, rcpts, nil
}

func parseOne(s, field string) (*mail.Address, error) {
	if hasControl(s) {
		return nil, fmt.Errorf("%w: %s: control character", ErrInvalid, field)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, field, err)
	}
	if hasControl(a.Name) || !utf8.ValidString(a.Name) || hasControl(a.Address) || !isASCII(a.Address) ||
		strings.ContainsAny(a.Address, " \"<>") {
		return nil, fmt.Errorf("%w: %s: unsafe address", ErrInvalid, field)
	}
	return a, nil
}

func parseList(list []string, field string) ([]*mail.Address, error) {
	out := make([]*mail.Address, 0, len(list))
	for _, s := range list {
		a, err := parseOne(s, field)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func addressList(as []*mail.Address) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = address(a)
	}
	return strings.Join(parts, ", ")
}

func checkText(field, s string, header bool) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, field)
	}
	if header && hasControl(s) {
		return fmt.Errorf("%w: %s holds a control character", ErrInvalid, field)
	}
	return nil
}

// reserved are the fields Build writes itself, or that only a mail server writes.
var reserved = map[string]bool{
	"date": true, "from": true, "sender": true, "to": true, "cc": true, "bcc": true,
	"reply-to": true, "subject": true, "message-id": true, "mime-version": true,
	"return-path": true, "received": true, "dkim-signature": true,
}

func checkHeader(name, value string) error {
	if name == "" || len(name) > 76 {
		return fmt.Errorf("%w: header name %q", ErrInvalid, name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%w: header name %q", ErrInvalid, name)
		}
	}
	if l := strings.ToLower(name); reserved[l] || strings.HasPrefix(l, "content-") {
		return fmt.Errorf("%w: header %s is reserved", ErrInvalid, name)
	}
	if hasControl(value) || !utf8.ValidString(value) || strings.TrimSpace(value) == "" {
		return fmt.Errorf("%w: header %s: empty, or a control character", ErrInvalid, name)
	}
	return nil
}

// validIDLeft accepts an id usable left of the @ of a Message-ID (a dot-atom).
func validIDLeft(s string) bool {
	if len(s) > 128 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0) {
			return false
		}
	}
	return true
}

// validContentID accepts the characters of a msg-id without its angle brackets.
func validContentID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !validIDLeft(string(c)) && c != '.' && c != '@' {
			return false
		}
	}
	return true
}

// part is one node of the MIME tree: a leaf with its encoded content, or a multipart.
type part struct {
	header   [][2]string // in writing order
	content  string      // encoded, CRLF line ends; leaves only
	children []*part     // multipart only
	boundary string
}

func (p *part) write(h headerWriter, b *strings.Builder) {
	for _, kv := range p.header {
		h.field(kv[0], kv[1])
	}
	b.WriteString("\r\n")
	if p.children == nil {
		b.WriteString(p.content)
		return
	}
	for _, c := range p.children {
		b.WriteString("--" + p.boundary + "\r\n")
		c.write(h, b)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + p.boundary + "--\r\n")
}

func multipart(subtype string, children ...*part) *part {
	if len(children) == 1 {
		return children[0]
	}
	var r [15]byte
	_, _ = rand.Read(r[:])
	// "=_" never occurs in quoted-printable or base64 output, so the boundary cannot occur
	// in any part, whatever its content.
	boundary := "=_" + hex.EncodeToString(r[:])
	return &part{
		header:   [][2]string{{"Content-Type", "multipart/" + subtype + `; boundary="` + boundary + `"`}},
		children: children,
		boundary: boundary,
	}
}

func buildBody(m *sendoka.OutboundEmail) (*part, error) {
	var inline, attached []*part
	for i, a := range m.Attachments {
		p, err := attachmentPart(a)
		if err != nil {
			return nil, fmt.Errorf("attachment %d: %w", i, err)
		}
		if a.ContentID != "" && m.HTML != "" {
			inline = append(inline, p)
		} else {
			attached = append(attached, p)
		}
	}
	text := m.Text
	if text == "" && m.HTML != "" {
		text = TextFromHTML(m.HTML)
	}
	var alt []*part
	if text != "" || m.HTML == "" {
		alt = append(alt, textPart("text/plain", text))
	}
	if m.HTML != "" {
		alt = append(alt, multipart("related", append([]*part{textPart("text/html", m.HTML)}, inline...)...))
	}
	return multipart("mixed", append([]*part{multipart("alternative", alt...)}, attached...)...), nil
}

// textPart encodes a body: line breaks become CRLF; quoted-printable keeps mostly-ASCII
// text readable, base64 keeps mostly non-ASCII text small.
func textPart(contentType, s string) *part {
	s = canonicalLines(s)
	p := &part{header: [][2]string{{"Content-Type", contentType + "; charset=utf-8"}}}
	high := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			high++
		}
	}
	if high > len(s)/3 {
		p.header = append(p.header, [2]string{"Content-Transfer-Encoding", "base64"})
		p.content = base64Lines([]byte(s))
		return p
	}
	p.header = append(p.header, [2]string{"Content-Transfer-Encoding", "quoted-printable"})
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	p.content = b.String()
	return p
}

func attachmentPart(a sendoka.Attachment) (*part, error) {
	if a.Filename == "" || hasControl(a.Filename) || !utf8.ValidString(a.Filename) {
		return nil, fmt.Errorf("%w: file name", ErrInvalid)
	}
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || hasControl(ct) || !strings.Contains(mt, "/") {
		return nil, fmt.Errorf("%w: content type %q", ErrInvalid, ct)
	}
	params["name"] = a.Filename
	disposition := "attachment"
	if a.ContentID != "" {
		disposition = "inline"
		if !validContentID(a.ContentID) {
			return nil, fmt.Errorf("%w: content id %q", ErrInvalid, a.ContentID)
		}
	}
	ctHeader := mime.FormatMediaType(mt, params)
	cdHeader := mime.FormatMediaType(disposition, map[string]string{"filename": a.Filename})
	if ctHeader == "" || cdHeader == "" {
		return nil, fmt.Errorf("%w: content type %q", ErrInvalid, ct)
	}
	p := &part{header: [][2]string{
		{"Content-Type", ctHeader},
		{"Content-Transfer-Encoding", "base64"},
		{"Content-Disposition", cdHeader},
	}, content: base64Lines(a.Content)}
	if a.ContentID != "" {
		p.header = append(p.header, [2]string{"Content-ID", "<" + a.ContentID + ">"})
	}
	return p, nil
}

// base64Lines encodes b in lines of 76 characters.
func base64Lines(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	out.Grow(len(enc) + len(enc)/76*2 + 2)
	for len(enc) > 76 {
		out.WriteString(enc[:76])
		out.WriteString("\r\n")
		enc = enc[76:]
	}
	if enc != "" {
		out.WriteString(enc)
		out.WriteString("\r\n")
	}
	return out.String()
}

// canonicalLines turns every line break (CRLF, LF or a lone CR) into CRLF, the only line
// break of a MIME text body.
func canonicalLines(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
