package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var signinLink = regexp.MustCompile(`http://[^\s]+/signin/[A-Za-z0-9_-]+`)

func getPage(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// TestServePrintsOwnerLink: the first start prints a one-time sign-in link for the first
// owner, which opens the set-your-password page; the next start prints none. The dashboard
// answers at /, and SENDOKA_DASHBOARD=false leaves only the API there.
func TestServePrintsOwnerLink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := startServe(t, "-data-dir", dir, "-dashboard-email", "boss@example.com")
	out := first.stdout.String()
	link := signinLink.FindString(out)
	require.NotEmpty(t, link, out)
	require.Contains(t, out, "boss@example.com")
	link = strings.Replace(link, link[:strings.Index(link, "/signin/")], first.base, 1)
	code, page := getPage(t, link)
	require.Equal(t, http.StatusOK, code, page)
	require.Contains(t, page, "boss@example.com")
	code, _ = getPage(t, first.base+"/")
	require.Equal(t, http.StatusSeeOther, code, "the dashboard sends to its login")
	require.NoError(t, first.stop())

	second := startServe(t, "-data-dir", dir)
	require.NotContains(t, second.stdout.String(), "/signin/")
	require.NoError(t, second.stop())

	off := startServe(t, "-data-dir", t.TempDir(), "-dashboard=false")
	require.NotContains(t, off.stdout.String(), "/signin/")
	code, page = getPage(t, off.base+"/")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, page, `"code":"NOT_FOUND"`, "the API's envelope")
	code, _ = getPage(t, off.base+"/login")
	require.Equal(t, http.StatusNotFound, code)
	require.NoError(t, off.stop())
}

// TestUsersCommands drives `sendoka users create|list|link`.
func TestUsersCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	call := func(args ...string) (string, error) {
		full := append([]string{"users", args[0], "-data-dir", dir, "-log-level", "error"}, args[1:]...)
		var out, errOut bytes.Buffer
		err := run(context.Background(), full, &out, &errOut)
		return out.String(), err
	}
	out, err := call("create", "--email", "Ada@Example.com", "--role", "admin")
	require.NoError(t, err)
	require.Contains(t, out, "ada@example.com\tadmin")
	require.Regexp(t, signinLink, out)
	_, err = call("create", "--email", "ada@example.com", "--role", "viewer")
	require.ErrorContains(t, err, "already exists")
	_, err = call("create", "--email", "x@example.com", "--role", "boss")
	require.ErrorContains(t, err, "owner, admin or viewer")
	_, err = call("create", "--email", "t@example.com", "--role", "viewer", "--tenant", "ten_nope")
	require.Error(t, err)

	out, err = call("list")
	require.NoError(t, err)
	require.Regexp(t, `ada@example.com\s+admin\s+-\s+\S+\s+not yet \(invited\)`, out)
	out, err = call("link", "--email", "ada@example.com")
	require.NoError(t, err)
	require.Regexp(t, signinLink, out)
	_, err = call("link", "--email", "nobody@example.com")
	require.ErrorContains(t, err, "no user")
}
