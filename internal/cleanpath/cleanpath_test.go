package cleanpath_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/internal/cleanpath"
)

// TestIsCanonicalAgreesWithServeMux: a path is canonical exactly when ServeMux serves it
// without redirecting.
func TestIsCanonicalAgreesWithServeMux(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, p := range []string{"/", "/a", "/a/", "/a/b", "/a/./b", "/a/../b", "/..", "/.", "//a", "/a//b", "/a/b/..", "/a/b/.",
		"/a/.b", "/a/..b", "/a/b../", "/%2e%2e", "/a/%2E%2E/b", "/a/./", "/a/../"} {
		r := httptest.NewRequest(http.MethodGet, "http://x"+p, nil)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		require.Equal(t, rec.Code == http.StatusNoContent, cleanpath.IsCanonical(r.URL.EscapedPath()), "%s: %d", p, rec.Code)
	}
	require.False(t, cleanpath.IsCanonical(""))
	require.False(t, cleanpath.IsCanonical("a/b"))
}
