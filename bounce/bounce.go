package bounce

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
)

// Kind is what a report says happened to one recipient.
type Kind string

// Kinds of outcome.
const (
	// Hard: the address will not take mail (a permanent failure): stop sending to it.
	Hard Kind = "hard"
	// Soft: this delivery failed, or failed for now; the address may work later.
	Soft Kind = "soft"
	// Delayed: the reporting MTA is still trying.
	Delayed Kind = "delayed"
	// Delivered: a success report (delivered, relayed, expanded).
	Delivered Kind = "delivered"
	// Complaint: the recipient reported the message as abuse (ARF).
	Complaint Kind = "complaint"
)

// Format says which kind of report a message was.
type Format string

// Report formats.
const (
	FormatDSN       Format = "dsn"       // RFC 3464
	FormatARF       Format = "arf"       // RFC 5965
	FormatNonStd    Format = "nonstd"    // a bounce in free text
	FormatAutoReply Format = "autoreply" // a vacation or out-of-office reply: not a bounce
)

// Recipient is what a report says about one recipient.
type Recipient struct {
	// Address is the recipient reported on (Final-Recipient, or the address found in a
	// free-text bounce); "" when the report names none (a redacted ARF, a bounce that
	// quotes no address).
	Address string
	// OriginalRecipient is the DSN's Original-Recipient, when given.
	OriginalRecipient string
	Kind              Kind
	// Reason is the classifier's reason (Classify): user_unknown, mailbox_full, ...
	Reason string
	// Action is the DSN's Action field (failed, delayed, delivered, relayed, expanded).
	Action string
	// Status is the RFC 3463 status ("5.1.1"), when known.
	Status string
	// SMTPCode is the remote server's reply code ("550"), when known.
	SMTPCode string
	// Diagnostic is the remote server's answer or the report's explanation.
	Diagnostic string
	// RemoteMTA is the host that gave the answer, when reported.
	RemoteMTA string
}

// Report is a parsed DSN, ARF report or free-text bounce.
type Report struct {
	Format     Format
	Recipients []Recipient
	// ReportingMTA is the DSN's Reporting-MTA, or the ARF's Reporting-MTA.
	ReportingMTA string
	// OriginalMessageID is the Message-ID of the message the report is about, without its
	// angle brackets, when the report quotes the message or its headers.
	OriginalMessageID string
	// OriginalTo is the To of the quoted message, when quoted.
	OriginalTo string

	// ARF fields.
	FeedbackType     string
	UserAgent        string
	OriginalMailFrom string
	OriginalRcptTo   string
	SourceIP         string
}

// ErrNotReport is returned by Parse for a message that is neither a delivery report nor a
// complaint (an ordinary message, a reply).
var ErrNotReport = errors.New("bounce: not a delivery report or a complaint")

// ErrMalformed is returned for a message that cannot be read at all.
var ErrMalformed = errors.New("bounce: malformed message")

// MaxSize bounds the message Parse reads; the rest is ignored (a report's parts come first,
// the returned message last).
const MaxSize = 4 << 20

// Options tunes Parse.
type Options struct {
	// NullSender says the message came with the null reverse-path (MAIL FROM:<>), as every
	// bounce does: a free-text message is then read as a bounce even when its sender and
	// subject do not look like one.
	NullSender bool
}

// Parse reads a raw message and returns its report: a DSN, an ARF report, or a free-text
// bounce. An ordinary message is ErrNotReport; an auto-reply is a Report of FormatAutoReply
// with no recipients.
func Parse(raw []byte, opts *Options) (*Report, error) {
	if opts == nil {
		opts = &Options{}
	}
	if len(raw) > MaxSize {
		raw = raw[:MaxSize]
	}
	msg, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(normalizeNewlines(raw))))
	if err != nil {
		return nil, errors.Join(ErrMalformed, err)
	}
	top := readPart(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	if top.mediaType == "multipart/report" {
		switch strings.ToLower(top.params["report-type"]) {
		case "delivery-status":
			if r := parseDSN(top); r != nil {
				return r, nil
			}
		case "feedback-report":
			if r := parseARF(top); r != nil {
				return r, nil
			}
		}
	}
	// A report part in another container (some MTAs send multipart/mixed).
	if p := top.find("message/delivery-status", "message/global-delivery-status"); p != nil {
		if r := parseDSN(top); r != nil {
			return r, nil
		}
	}
	if p := top.find("message/feedback-report"); p != nil {
		if r := parseARF(top); r != nil {
			return r, nil
		}
	}
	if r := inlineDSN(top); r != nil {
		return r, nil
	}
	// Exim marks its bounces Auto-Submitted: auto-replied too: the sender and subject of a
	// bounce decide first.
	bounced := looksLikeBounce(msg.Header)
	if !bounced && isAutoReply(msg.Header) {
		return &Report{Format: FormatAutoReply}, nil
	}
	if !bounced && !opts.NullSender {
		return nil, ErrNotReport
	}
	return parseNonStandard(msg.Header, top), nil
}

// normalizeNewlines turns CR-only line ends (old Mac mail) into LF; net/mail handles CRLF
// and LF.
func normalizeNewlines(b []byte) []byte {
	if bytes.IndexByte(b, '\r') < 0 || bytes.Contains(b, []byte("\r\n")) {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
}

// part is one MIME part with its decoded body, its children when it is multipart, and the
// message it holds when it is message/rfc822.
type part struct {
	header    textproto.MIMEHeader
	mediaType string
	params    map[string]string
	body      []byte
	children  []*part
}

const maxDepth = 8

func readPart(h textproto.MIMEHeader, body io.Reader, depth int) *part {
	p := &part{header: h, mediaType: "text/plain", params: map[string]string{}}
	if ct := h.Get("Content-Type"); ct != "" {
		if mt, params, err := mime.ParseMediaType(ct); err == nil {
			p.mediaType, p.params = strings.ToLower(mt), params
		} else if mt, _, _ := strings.Cut(ct, ";"); mt != "" {
			p.mediaType = strings.ToLower(strings.TrimSpace(mt))
		}
	}
	raw, _ := io.ReadAll(io.LimitReader(body, MaxSize))
	p.body = decodeTransfer(h.Get("Content-Transfer-Encoding"), raw)
	if strings.HasPrefix(p.mediaType, "multipart/") && depth < maxDepth {
		if b := p.params["boundary"]; b != "" {
			p.children = splitMultipart(p.body, b, depth)
		}
	}
	return p
}

// splitMultipart splits a multipart body leniently: mime/multipart refuses parts that real
// bounces contain (missing final boundaries, bad headers), so the parts are cut at the
// boundary lines and each is read on its own.
func splitMultipart(body []byte, boundary string, depth int) []*part {
	delim := []byte("--" + boundary)
	var out []*part
	lines := bytes.SplitAfter(body, []byte("\n"))
	var cur *bytes.Buffer
	flush := func() {
		if cur == nil {
			return
		}
		b := cur.Bytes()
		h, rest := splitHeader(b)
		out = append(out, readPart(h, bytes.NewReader(rest), depth+1))
		cur = nil
	}
	for _, ln := range lines {
		t := bytes.TrimRight(ln, " \t\r\n")
		if bytes.HasPrefix(t, delim) {
			flush()
			if bytes.Equal(t, append(delim, '-', '-')) {
				return out
			}
			cur = &bytes.Buffer{}
			continue
		}
		if cur != nil {
			cur.Write(ln)
		}
	}
	flush()
	return out
}

// splitHeader reads a part's header block leniently; a part with no header at all is
// text/plain.
func splitHeader(b []byte) (textproto.MIMEHeader, []byte) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	h, err := r.ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		// No header block: the part starts with its body (after an optional blank line).
		return textproto.MIMEHeader{}, bytes.TrimLeft(b, "\r\n")
	}
	n := bytes.Index(b, []byte("\n\n"))
	if m := bytes.Index(b, []byte("\r\n\r\n")); m >= 0 && (n < 0 || m < n) {
		return h, b[m+4:]
	}
	if n >= 0 {
		return h, b[n+2:]
	}
	return h, nil
}

// find returns the first part (depth first, this one included) of one of the media types.
func (p *part) find(types ...string) *part {
	for _, t := range types {
		if p.mediaType == t {
			return p
		}
	}
	for _, c := range p.children {
		if f := c.find(types...); f != nil {
			return f
		}
	}
	return nil
}

// text returns the text of every text/* part, in order, skipping returned messages.
func (p *part) text() string {
	var b strings.Builder
	var walk func(q *part)
	walk = func(q *part) {
		switch {
		case len(q.children) > 0:
			for _, c := range q.children {
				walk(c)
			}
		case q.mediaType == "text/plain" || q.mediaType == "text/html" || q.mediaType == "message/delivery-status":
			s := string(q.body)
			if q.mediaType == "text/html" {
				s = stripTags(s)
			}
			b.WriteString(s)
			b.WriteString("\n")
		}
	}
	walk(p)
	return b.String()
}

var tagRE = regexp.MustCompile(`(?s)<[^>]*>`)

func stripTags(s string) string {
	s = tagRE.ReplaceAllString(s, " ")
	r := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&nbsp;", " ", "&quot;", `"`, "&#39;", "'")
	return r.Replace(s)
}

// originalHeaders returns the header of the message a report returns (message/rfc822,
// text/rfc822-headers, message/global or message/global-headers), or nil.
func (p *part) originalHeaders() textproto.MIMEHeader {
	q := p.find("message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "message/global", "message/global-headers")
	if q == nil {
		return nil
	}
	h, _ := splitHeader(q.body)
	if len(h) == 0 {
		return nil
	}
	return h
}

// messageID returns a Message-ID without its angle brackets and spaces.
func messageID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	return v
}

var finalRecipientRE = regexp.MustCompile(`(?im)^(?:final|original)-recipient:`)

// inlineDSN reads delivery-status fields written in the body of a message that has no
// delivery-status part (a multipart/report whose boundaries are missing, a DSN forwarded as
// text): the text before the first field block is its explanation.
func inlineDSN(top *part) *Report {
	text := top.text()
	loc := finalRecipientRE.FindStringIndex(text)
	if loc == nil {
		return nil
	}
	start := loc[0]
	if i := strings.LastIndex(strings.ToLower(text[:start]), "reporting-mta:"); i >= 0 {
		start = i
	}
	fake := &part{mediaType: "multipart/report", params: map[string]string{}, header: textproto.MIMEHeader{}, children: []*part{
		{mediaType: "text/plain", body: []byte(text[:start])},
		{mediaType: "message/delivery-status", body: []byte(text[start:])},
	}}
	r := parseDSN(fake)
	if r == nil {
		return nil
	}
	if h := top.originalHeaders(); h != nil {
		r.OriginalMessageID = messageID(h.Get("Message-Id"))
		r.OriginalTo = h.Get("To")
	}
	return r
}
