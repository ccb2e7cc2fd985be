package smtpin

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/sendoka/sendoka/sendoka"
)

// maxParts bounds the MIME parts ParseMessage walks, and maxDepth their nesting.
const (
	maxParts = 500
	maxDepth = 10
)

// wordDecoder decodes RFC 2047 encoded words in any charset htmlindex knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(input), nil
}}

func decodeWords(v string) string {
	if s, err := wordDecoder.DecodeHeader(v); err == nil {
		return s
	}
	return v
}

// ParseMessage turns a raw message into what ReceiveInboundEmail stores: the header fields
// in order (encoded words decoded), the first text/plain and text/html bodies (converted to
// UTF-8 from their charset), and every other leaf part as an attachment. Parts past
// maxParts are ignored. A message whose MIME structure is broken keeps what could be read;
// a message with no header at all is an error.
func ParseMessage(raw []byte, mailFrom, rcptTo string) (*sendoka.InboundMessage, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("smtpin: unreadable message: %w", err)
	}
	m := &sendoka.InboundMessage{MailFrom: mailFrom, RcptTo: rcptTo, Size: int64(len(raw)), Headers: orderedHeaders(raw)}
	h := msg.Header
	m.From = decodeWords(h.Get("From"))
	m.To = addressList(h, "To")
	m.Cc = addressList(h, "Cc")
	m.Subject = decodeWords(h.Get("Subject"))
	m.MessageID = strings.TrimSpace(h.Get("Message-Id"))
	m.InReplyTo = strings.TrimSpace(h.Get("In-Reply-To"))
	w := &walker{m: m}
	w.part(h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), h.Get("Content-Disposition"), h.Get("Content-Id"), msg.Body, 0)
	return m, nil
}

func addressList(h mail.Header, field string) []string {
	v := h.Get(field)
	if v == "" {
		return nil
	}
	if as, err := (&mail.AddressParser{WordDecoder: wordDecoder}).ParseList(v); err == nil {
		out := make([]string, len(as))
		for i, a := range as {
			out[i] = a.String()
			if a.Name == "" {
				out[i] = a.Address
			}
		}
		return out
	}
	return []string{decodeWords(v)}
}

// orderedHeaders reads the header block of raw into fields, in order, unfolded and decoded.
func orderedHeaders(raw []byte) []sendoka.InboundHeader {
	var out []sendoka.InboundHeader
	for _, ln := range strings.Split(strings.ReplaceAll(string(headerBlock(raw)), "\r\n", "\n"), "\n") {
		if ln == "" {
			break
		}
		if (ln[0] == ' ' || ln[0] == '\t') && len(out) > 0 {
			out[len(out)-1].Value += " " + strings.TrimSpace(ln)
			continue
		}
		name, value, ok := strings.Cut(ln, ":")
		if !ok {
			continue
		}
		out = append(out, sendoka.InboundHeader{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	for i := range out {
		out[i].Value = decodeWords(out[i].Value)
	}
	return out
}

func headerBlock(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		if j := bytes.Index(raw, []byte("\n\n")); j < 0 || i < j {
			return raw[:i]
		}
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return raw[:i]
	}
	return raw
}

type walker struct {
	m     *sendoka.InboundMessage
	parts int
}

func (w *walker) part(ctype, cte, disp, cid string, body io.Reader, depth int) {
	w.parts++
	if w.parts > maxParts {
		return
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt, params = "text/plain", map[string]string{}
	}
	mt = strings.ToLower(mt)
	if strings.HasPrefix(mt, "multipart/") && depth < maxDepth && params["boundary"] != "" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			w.part(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"),
				p.Header.Get("Content-Disposition"), p.Header.Get("Content-Id"), p, depth+1)
		}
	}
	content, _ := io.ReadAll(decoder(cte, body))
	dispType, dparams, _ := mime.ParseMediaType(disp)
	filename := decodeWords(dparams["filename"])
	if filename == "" {
		filename = decodeWords(params["name"])
	}
	isAttachment := strings.EqualFold(dispType, "attachment") || filename != ""
	switch {
	case !isAttachment && mt == "text/plain" && w.m.Text == "":
		w.m.Text = toUTF8(content, params["charset"])
		return
	case !isAttachment && mt == "text/html" && w.m.HTML == "":
		w.m.HTML = toUTF8(content, params["charset"])
		return
	}
	if filename == "" {
		filename = "part-" + fmt.Sprint(len(w.m.Attachments)+1)
		if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
			filename += exts[0]
		} else if mt == "message/rfc822" {
			filename += ".eml"
		}
	}
	w.m.Attachments = append(w.m.Attachments, sendoka.InboundAttachment{
		Filename: filename, ContentType: mt, ContentID: strings.Trim(strings.TrimSpace(cid), "<>"), Content: content,
	})
}

func decoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &spaceless{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// spaceless drops the line breaks and spaces of a base64 body, which base64.NewDecoder
// refuses (it skips only CR and LF).
type spaceless struct{ r io.Reader }

func (s *spaceless) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, b := range p[:n] {
			if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// toUTF8 converts a body from its charset; an unknown charset is kept as it is (the core
// makes it valid UTF-8).
func toUTF8(b []byte, charset string) string {
	cs := strings.ToLower(strings.TrimSpace(charset))
	if cs == "" || cs == "utf-8" || cs == "us-ascii" || cs == "utf8" {
		return string(b)
	}
	enc, err := htmlindex.Get(cs)
	if err != nil {
		return string(b)
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return string(b)
	}
	return string(out)
}
