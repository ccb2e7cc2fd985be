package sendoka

import (
	"html"
	"io"
	"strings"

	xhtml "golang.org/x/net/html"
)

// Tracking limits: links past MaxTrackedLinks, or longer than MaxTrackedURLLen, are left as
// they are.
const (
	MaxTrackedLinks  = 200
	MaxTrackedURLLen = 2048
)

// NoTrackAttribute on a link keeps click tracking away from it (an unsubscribe link, say):
// <a href="https://..." data-sendoka-notrack>.
const NoTrackAttribute = "data-sendoka-notrack"

// rewriteLinks returns src with the href of every trackable link replaced by what fn
// returns for it; fn receives the link's position among trackable links (from 0) and its
// URL with entities decoded. A link is trackable when it is the href of an <a> or <area>
// tag, starts with http:// or https://, and is not marked with NoTrackAttribute. Everything
// else of src is kept byte for byte.
func rewriteLinks(src string, fn func(pos int, url string) string) string {
	z := xhtml.NewTokenizer(strings.NewReader(src))
	var b strings.Builder
	offset, last, pos := 0, 0, 0
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			if z.Err() != io.EOF { // cannot happen on a string; keep the source as it is
				return src
			}
			break
		}
		n := len(z.Raw())
		if (tt == xhtml.StartTagToken || tt == xhtml.SelfClosingTagToken) && pos < MaxTrackedLinks {
			// Token, not TagName: TagName consumes the name, and Token would lose the attributes.
			if tok := z.Token(); tok.Data == "a" || tok.Data == "area" {
				if i := trackableHref(tok.Attr); i >= 0 {
					if b.Len() == 0 {
						b.Grow(len(src) + len(src)/8)
					}
					tok.Attr[i].Val = fn(pos, strings.TrimSpace(tok.Attr[i].Val))
					pos++
					b.WriteString(src[last:offset])
					b.WriteString(tok.String())
					last = offset + n
				}
			}
		}
		offset += n
	}
	if last == 0 {
		return src
	}
	b.WriteString(src[last:])
	return b.String()
}

// trackableHref returns the index of the trackable href among attrs, or -1.
func trackableHref(attrs []xhtml.Attribute) int {
	idx := -1
	for i, a := range attrs {
		switch a.Key {
		case NoTrackAttribute:
			return -1
		case "href":
			u := strings.TrimSpace(a.Val)
			if len(u) <= MaxTrackedURLLen && (hasPrefixFold(u, "http://") || hasPrefixFold(u, "https://")) && len(u) > len("https://") {
				idx = i
			}
		}
	}
	return idx
}

// addPixel inserts a 1x1 image before the last </body>, or at the end without one.
func addPixel(src, url string) string {
	img := `<img src="` + html.EscapeString(url) + `" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0" />`
	if i := lastIndexFold(src, "</body"); i >= 0 {
		return src[:i] + img + src[i:]
	}
	return src + img
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// lastIndexFold is strings.LastIndex ignoring ASCII case, on byte offsets of s itself
// (lower-casing s first could move them: some characters change length).
func lastIndexFold(s, sub string) int {
	for i := len(s) - len(sub); i >= 0; i-- {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
