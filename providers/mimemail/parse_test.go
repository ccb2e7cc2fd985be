package mimemail_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// parsed is a message read back with net/mail and mime/multipart only.
type parsed struct {
	header mail.Header
	// shape is the MIME tree, for example "mixed[alternative[text/plain,related[text/html,image/png]],application/pdf]".
	shape       string
	text, html  string
	attachments []parsedAttachment
}

type parsedAttachment struct {
	Filename, ContentType, ContentID, Disposition string
	Content                                       []byte
}

// parse reads raw back, checking on the way that it is a well-formed, 7-bit message with
// CRLF line ends and no line over 998 characters.
func parse(t testing.TB, raw []byte) *parsed {
	t.Helper()
	for i, c := range raw { // require is slow: call it only to report
		if c >= 0x80 || c == '\n' && (i == 0 || raw[i-1] != '\r') || c == '\r' && (i+1 == len(raw) || raw[i+1] != '\n') {
			t.Fatalf("byte %d (%q) is 8-bit, a bare LF or a bare CR", i, c)
		}
	}
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		require.LessOrEqual(t, len(line), 998, "line %d is too long", i)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	p := &parsed{header: msg.Header}
	p.shape = p.walk(t, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"),
		msg.Header.Get("Content-Disposition"), msg.Header.Get("Content-ID"), msg.Body)
	return p
}

func (p *parsed) walk(t testing.TB, ct, cte, cd, cid string, body io.Reader) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(ct)
	require.NoError(t, err, ct)
	if sub, ok := strings.CutPrefix(mt, "multipart/"); ok {
		r := multipart.NewReader(body, params["boundary"])
		var kids []string
		for {
			part, err := r.NextRawPart() // raw: decode here, as a mail client would
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			kids = append(kids, p.walk(t, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"),
				part.Header.Get("Content-Disposition"), part.Header.Get("Content-Id"), part))
		}
		return sub + "[" + strings.Join(kids, ",") + "]"
	}
	content, err := io.ReadAll(decoder(t, cte, body))
	require.NoError(t, err)
	disp, dparams, _ := mime.ParseMediaType(cd)
	switch {
	case disp == "" && mt == "text/plain":
		require.Equal(t, "utf-8", params["charset"])
		p.text = string(content)
	case disp == "" && mt == "text/html":
		require.Equal(t, "utf-8", params["charset"])
		p.html = string(content)
	default:
		require.Equal(t, params["name"], dparams["filename"], "name and filename agree")
		p.attachments = append(p.attachments, parsedAttachment{
			Filename: dparams["filename"], ContentType: mime.FormatMediaType(mt, without(params, "name")),
			ContentID: strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">"), Disposition: disp, Content: content,
		})
	}
	return mt
}

func without(params map[string]string, key string) map[string]string {
	out := map[string]string{}
	for k, v := range params {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func decoder(t testing.TB, cte string, r io.Reader) io.Reader {
	t.Helper()
	switch strings.ToLower(cte) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r)
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "", "7bit":
		return r
	}
	t.Fatalf("unexpected Content-Transfer-Encoding %q", cte)
	return nil
}

// decodeHeader decodes RFC 2047 words in an unstructured header value.
func decodeHeader(t testing.TB, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	require.NoError(t, err, v)
	return s
}

// addresses reads an address header as (name, address) pairs.
func addresses(t testing.TB, h mail.Header, key string) []mail.Address {
	t.Helper()
	if h.Get(key) == "" {
		return nil
	}
	list, err := h.AddressList(key)
	require.NoError(t, err, h.Get(key))
	out := make([]mail.Address, len(list))
	for i, a := range list {
		out[i] = *a
	}
	return out
}
