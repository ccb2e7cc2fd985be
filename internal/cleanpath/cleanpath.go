// Package cleanpath tells whether a request path is in the form net/http's ServeMux serves
// as it is. The mux redirects any other path to its cleaned form; Sendoka's handlers answer
// such paths themselves instead (an API path that is not canonical is 404 NOT_FOUND).
package cleanpath

import (
	"path"
	"strings"
)

// IsCanonical reports whether p, a request's escaped path (URL.EscapedPath, which the mux
// cleans), is rooted and has no "." or ".." segment and no empty
// segment (a trailing slash aside): the paths ServeMux does not redirect.
func IsCanonical(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean == p
}
