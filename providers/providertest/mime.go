package providertest

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

// ParseMessage decodes a raw RFC 5322 message, as an SMTP server or SES received it, into
// what the suite compares: addresses, decoded subject and header fields, bodies and
// attachments with their transfer encodings undone. envelope lists the recipients the peer
// was asked to deliver to (RCPT TO, or SES's Destination); those the To and Cc headers do
// not name are the Bcc. Harnesses of providers that send MIME use it in
// EmailSetup.Received; it uses nothing but the standard library's parsers, so a message it
// reads is one mail clients read.
func ParseMessage(t *testing.T, raw []byte, envelope []string) ReceivedEmail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err, "the peer got a message net/mail cannot read")
	dec := new(mime.WordDecoder)
	got := ReceivedEmail{Raw: raw, EnvelopeTo: envelope}
	got.Header = mail.Header{}
	for k, vs := range msg.Header {
		for _, v := range vs {
			d, err := dec.DecodeHeader(v)
			require.NoError(t, err, "header %s: %q", k, v)
			got.Header[k] = append(got.Header[k], d)
		}
	}
	got.Subject = got.Header.Get("Subject")
	from := headerAddresses(t, msg.Header, "From")
	require.Len(t, from, 1, "From names one mailbox")
	got.From = from[0]
	got.To = headerAddresses(t, msg.Header, "To")
	got.Cc = headerAddresses(t, msg.Header, "Cc")
	got.ReplyTo = headerAddresses(t, msg.Header, "Reply-To")
	named := map[string]bool{}
	for _, a := range append(append([]string{}, got.To...), got.Cc...) {
		named[bareAddress(a)] = true
	}
	for _, r := range envelope {
		if !named[bareAddress(r)] {
			got.Bcc = append(got.Bcc, r)
		}
	}
	walkPart(t, &got, msg.Header, msg.Body)
	return got
}

func headerAddresses(t *testing.T, h mail.Header, key string) []string {
	t.Helper()
	if strings.TrimSpace(h.Get(key)) == "" {
		return nil
	}
	list, err := h.AddressList(key)
	require.NoError(t, err, "%s: %q", key, h.Get(key))
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.String()
	}
	return out
}

// walkPart collects the bodies and attachments of one MIME part and its children.
func walkPart(t *testing.T, got *ReceivedEmail, h map[string][]string, body io.Reader) {
	t.Helper()
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ct := get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	media, params, err := mime.ParseMediaType(ct)
	require.NoError(t, err, "Content-Type %q", ct)
	if strings.HasPrefix(media, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return
			}
			require.NoError(t, err, "multipart %s", media)
			walkPart(t, got, p.Header, p)
		}
	}
	var content io.Reader = body
	switch strings.ToLower(get("Content-Transfer-Encoding")) {
	case "base64":
		content = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		content = quotedprintable.NewReader(body)
	}
	data, err := io.ReadAll(content)
	require.NoError(t, err, "part %s", media)
	disposition, dparams, _ := mime.ParseMediaType(get("Content-Disposition"))
	switch {
	case disposition == "" && media == "text/plain" && got.Text == "":
		got.Text = string(data)
	case disposition == "" && media == "text/html" && got.HTML == "":
		got.HTML = string(data)
	default:
		name := dparams["filename"]
		if name == "" {
			name = params["name"]
		}
		got.Attachments = append(got.Attachments, ReceivedAttachment{
			Filename:    name,
			ContentType: ct,
			ContentID:   strings.TrimSuffix(strings.TrimPrefix(get("Content-Id"), "<"), ">"),
			Inline:      disposition == "inline",
			Content:     data,
		})
	}
}
