package apiclient_test

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/apiclient"
)

// notForClients are the routes of the OpenAPI document the client leaves out on purpose,
// by path prefix (or whole path): they are not called by API users with an API key.
var notForClients = []string{
	"/t/",                // open pixel and click redirect: for mail clients, from tracked emails
	"/u/",                // unsubscribe page and one-click POST: for readers and their mail clients
	"/api/v1/providers/", // provider callbacks (SES/SNS notifications): for the providers
	"/resend/",           // the Resend-compatible surface: for Resend's own SDKs
	"/api/v1/docs",       // the reference page, the OpenAPI document and the Postman
	"/api/v1/openapi",    // collection describe the API; they are not part of it
	"/api/v1/postman.json",
}

// recorder answers every request with {} and remembers its method and path.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+req.URL.EscapedPath())
	r.mu.Unlock()
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
}

// TestEveryOperationHasAMethod calls every exported method of *apiclient.Client (with
// made-up arguments, against a recorder) and requires every operation of the served
// OpenAPI document, but those of notForClients, to be reached by one. An operation added to
// the API without a client method fails here.
func TestEveryOperationHasAMethod(t *testing.T) {
	t.Parallel()
	b := setup(t, setupConfig{})
	res, err := http.Get(b.url + "/api/v1/openapi.json")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, decodeJSON(res.Body, &doc))

	rec := &recorder{}
	c, err := apiclient.New("http://sendoka.test", "sok_live_x", &apiclient.Options{HTTPClient: &http.Client{Transport: rec}, MaxAttempts: 1})
	require.NoError(t, err)
	v := reflect.ValueOf(c)
	for i := range v.NumMethod() {
		m := v.Method(i)
		args := make([]reflect.Value, m.Type().NumIn())
		for j := range args {
			args[j] = madeUp(m.Type().In(j))
		}
		m.Call(args)
	}

	var missing []string
	for path, item := range doc.Paths {
		if slices.ContainsFunc(notForClients, func(p string) bool { return strings.HasPrefix(path, p) }) {
			continue
		}
		re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$")
		for method := range item {
			method = strings.ToUpper(method)
			if !slices.ContainsFunc(rec.seen, func(s string) bool {
				m, p, _ := strings.Cut(s, " ")
				return m == method && re.MatchString(p)
			}) {
				missing = append(missing, method+" "+path)
			}
		}
	}
	slices.Sort(missing)
	require.Empty(t, missing, "operations without a method on *apiclient.Client: add one (or, if API users never call it, a prefix to notForClients)")
}

// madeUp is an argument of type t for a method call that only needs to reach the server.
func madeUp(t reflect.Type) reflect.Value {
	switch {
	case t == reflect.TypeFor[context.Context]():
		return reflect.ValueOf(context.Background())
	case t == reflect.TypeFor[time.Time]():
		return reflect.ValueOf(time.Now())
	case t.Kind() == reflect.String:
		return reflect.ValueOf("x1").Convert(t)
	case t.Kind() == reflect.Pointer:
		return reflect.New(t.Elem())
	}
	return reflect.Zero(t)
}
