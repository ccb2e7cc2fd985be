package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMountedUnderMail(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	app, closeApp, err := newApp(ctx, t.TempDir(), &out)
	require.NoError(t, err)
	defer closeApp()
	ts := httptest.NewServer(app)
	defer ts.Close()

	var testKey string
	for _, line := range strings.Split(out.String(), "\n") {
		if k, ok := strings.CutPrefix(line, "key: "); ok && strings.HasPrefix(k, "sok_test_") {
			testKey = k
		}
	}
	require.NotEmpty(t, testKey, out.String())

	res, err := http.Get(ts.URL + "/")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "the app's own routes still work")

	body := `{"from":"you@sandbox.sendoka.com","to":["user@example.com"],"subject":"Hi","html":"<p>x</p>"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/mail/api/v1/emails", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var sent struct{ ID, Channel string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&sent))
	require.True(t, strings.HasPrefix(sent.ID, "msg_"))
	require.Equal(t, "email", sent.Channel)
}
