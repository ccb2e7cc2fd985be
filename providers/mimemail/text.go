package mimemail

import (
	"strings"

	"golang.org/x/net/html"
)

// TextFromHTML derives a readable plain-text version of an HTML body: the text of the
// document without head, style and script; paragraphs, headings, list items and table
// rows on lines of their own; links as "text (url)"; images as their alt text. Mail
// clients that show no HTML, and spam filters that compare the two parts, read it.
func TextFromHTML(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var t textBuilder
	skip := 0 // depth inside head, style, script...
	pre := 0
	type link struct {
		href  string
		start int // length of the output when the link opened
	}
	var links []link
	for {
		tt := z.Next()
		if tt == html.ErrorToken { // io.EOF: a string reader has no other error
			break
		}
		switch tt {
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t.text(string(z.Text()), pre > 0)
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			tok := z.Token()
			start := tt != html.EndTagToken
			switch tok.Data {
			case "head", "style", "script", "noscript", "template", "title":
				if tt == html.SelfClosingTagToken {
					continue
				}
				if start {
					skip++
				} else if skip > 0 {
					skip--
				}
				continue
			}
			if skip > 0 {
				continue
			}
			switch tok.Data {
			case "br":
				t.newline()
			case "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "hr", "pre":
				t.paragraph()
				if tok.Data == "pre" {
					if start {
						pre++
					} else if pre > 0 {
						pre--
					}
				}
			case "div", "tr", "section", "article", "header", "footer", "dl", "dt", "dd", "center", "address":
				t.newline()
			case "li":
				if start {
					t.newline()
					t.raw("- ")
				}
			case "td", "th":
				if start {
					t.sep()
				}
			case "img":
				for _, a := range tok.Attr {
					if a.Key == "alt" && strings.TrimSpace(a.Val) != "" {
						t.text(a.Val, false)
					}
				}
			case "a":
				if start {
					href := ""
					for _, a := range tok.Attr {
						if a.Key == "href" {
							href = strings.TrimSpace(a.Val)
						}
					}
					links = append(links, link{href: href, start: t.b.Len()})
				} else if n := len(links); n > 0 {
					l := links[n-1]
					links = links[:n-1]
					shown := strings.TrimSpace(t.b.String()[l.start:])
					u := strings.TrimPrefix(l.href, "mailto:")
					if (hasPrefixFold(l.href, "http://") || hasPrefixFold(l.href, "https://") || hasPrefixFold(l.href, "mailto:")) &&
						shown != u && shown != l.href {
						if shown == "" {
							t.text(u, false)
						} else {
							t.sep()
							t.text("("+u+")", false)
						}
					}
				}
			}
		}
	}
	return t.String()
}

// textBuilder collapses whitespace the way a browser does, and keeps at most one blank line
// between blocks.
type textBuilder struct {
	b        strings.Builder
	space    bool // a space is due before the next word
	newlines int  // newlines at the end of the output
	started  bool
}

func (t *textBuilder) text(s string, pre bool) {
	if pre {
		t.raw(s)
		return
	}
	for _, r := range s {
		if isSpace(r) {
			t.space = t.started && t.newlines == 0
			continue
		}
		if t.space {
			t.b.WriteByte(' ')
			t.space = false
		}
		t.b.WriteRune(r)
		t.started = true
		t.newlines = 0
	}
}

// raw writes s as it is (preformatted text, list bullets).
func (t *textBuilder) raw(s string) {
	if s == "" {
		return
	}
	if t.space {
		t.b.WriteByte(' ')
		t.space = false
	}
	t.b.WriteString(s)
	t.started = true
	t.newlines = len(s) - len(strings.TrimRight(s, "\n"))
}

func (t *textBuilder) sep() {
	if t.started && t.newlines == 0 {
		t.space = true
	}
}

func (t *textBuilder) newline() { t.breaks(1) }

func (t *textBuilder) paragraph() { t.breaks(2) }

func (t *textBuilder) breaks(n int) {
	t.space = false
	if !t.started {
		return
	}
	for t.newlines < n {
		t.b.WriteByte('\n')
		t.newlines++
	}
}

func (t *textBuilder) String() string {
	lines := strings.Split(t.b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\u00a0'
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
