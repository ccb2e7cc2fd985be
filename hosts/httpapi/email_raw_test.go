package httpapi

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestEmailRaw: GET /api/v1/emails/{id}/raw is the email as a MIME message (headers, both
// bodies, the attachment); an SMS id is 404.
func TestEmailRaw(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		body := quickstart()
		body["subject"] = "Raw ünïcode"
		body["text"] = "plain words"
		body["attachments"] = []map[string]string{{"filename": "note.txt", "content": base64.StdEncoding.EncodeToString([]byte("attached bytes"))}}
		id := b.send(t, "/api/v1/emails", b.live, body)
		res := b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id + "/raw", key: b.live})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Equal(t, "message/rfc822", res.header.Get("Content-Type"))
		require.Contains(t, res.header.Get("Content-Disposition"), id+".eml")
		msg, err := mail.ReadMessage(bytes.NewReader(res.body))
		require.NoError(t, err)
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		require.NoError(t, err)
		require.Equal(t, "Raw ünïcode", subject)
		require.Contains(t, msg.Header.Get("From"), "sandbox.sendoka.com")
		_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		require.NoError(t, err)
		mr := multipart.NewReader(msg.Body, params["boundary"])
		var found bool
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			if part.FileName() == "note.txt" {
				require.Equal(t, "base64", part.Header.Get("Content-Transfer-Encoding"))
				b, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, strings.NewReader(strings.Join(strings.Fields(readAll(t, part)), ""))))
				require.NoError(t, err)
				require.Equal(t, "attached bytes", string(b))
				found = true
			}
		}
		require.True(t, found, "the attachment is in the message:\n%s", res.body)

		smsID := b.send(t, "/api/v1/sms", b.live, smsBody())
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + smsID + "/raw", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	})
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}
