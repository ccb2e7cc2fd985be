package dashboard_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
)

// TestAudienceImportAndSend: a CSV upload adds the contacts (a bad row refused, the rest
// in), and a send to the audience shows its progress until every recipient is processed.
func TestAudienceImportAndSend(t *testing.T) {
	t.Parallel()
	b := setup(t, bunstore.DialectSQLite, func(c *server.Config) { c.Tracking.BaseURL = "http://127.0.0.1:9" }) // unsubscribe links
	ctx := context.Background()
	_, err := b.srv.Client.CreateTemplate(ctx, b.root, &sendoka.TemplateRequest{Slug: "news", Channel: sendoka.ChannelEmail, Subject: "News for {{first_name}}", Text: "Hi {{first_name}}"})
	require.NoError(t, err)
	a, err := b.srv.Client.CreateAudience(ctx, b.root, &sendoka.AudienceRequest{Name: "Readers"})
	require.NoError(t, err)
	w := b.web(t)
	w.mustLogin(ownerEmail, ownerPW)
	tok := w.csrf("/audiences/" + a.ID)

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("csrf", tok))
	fw, err := mw.CreateFormFile("file", "readers.csv")
	require.NoError(t, err)
	_, err = fw.Write([]byte("email,first_name,city\nada@example.com,Ada,London\nbob@example.com,Bob,Paris\nnot-an-address,X,Y\n"))
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, b.base+"/audiences/"+a.ID+"/import", &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, body := w.do(req)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
	res, body = w.get("/audiences/" + a.ID)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "Imported 2 contacts; 1 rows refused.")
	require.Contains(t, body, "ada@example.com")
	list, err := b.srv.Client.ListContacts(ctx, b.root, a.ID, sendoka.ContactListParams{})
	require.NoError(t, err)
	require.Len(t, list.Contacts, 2)

	res, body = w.post("/audiences/"+a.ID+"/send", url.Values{"csrf": {tok}, "channel": {"email"},
		"from": {"news@" + b.srv.Client.SandboxDomain()}, "template": {"news"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
	progress := res.Header.Get("Location")
	require.Regexp(t, `^/audiences/`+a.ID+`/sends/`, progress)
	done := regexp.MustCompile(`<strong id="processed">2</strong> of 2`)
	pollUntil(t, 30*time.Second, "the send to finish", func() bool {
		req, _ := http.NewRequest(http.MethodGet, b.base+progress, nil)
		req.Header.Set("HX-Request", "true")
		res, body := w.do(req)
		require.False(t, strings.Contains(body, "<html"), "htmx gets the fragment only")
		if res.StatusCode == 286 { // finished: htmx stops polling
			require.Regexp(t, done, body)
			return true
		}
		require.Equal(t, http.StatusOK, res.StatusCode)
		return false
	})
}
