package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// layout is what every page's frame shows.
type layout struct {
	Title    string
	Nav      string
	User     *sendoka.User
	CSRF     string
	Mode     sendoka.Mode
	Flash    string
	Error    string
	Path     string
	CanWrite bool
	IsOwner  bool
}

// view is the data every page template gets: the frame's and the page's own.
type view struct {
	L *layout
	D any
}

// pages holds one template set per page: the layout plus that page's file.
type pages struct {
	sets map[string]*template.Template
}

func mustParsePages(prefix string) *pages {
	funcs := template.FuncMap{
		"url": func(p ...string) string { return prefix + strings.Join(p, "") },
		"time": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return ""
				}
				return v.UTC().Format("2006-01-02 15:04:05")
			case *time.Time:
				if v == nil {
					return ""
				}
				return v.UTC().Format("2006-01-02 15:04:05")
			}
			return ""
		},
		"json": func(v any) string {
			b, _ := json.MarshalIndent(v, "", "  ")
			return string(b)
		},
		"prettyjson": func(b []byte) string {
			var buf bytes.Buffer
			if json.Indent(&buf, b, "", "  ") != nil {
				return string(b)
			}
			return buf.String()
		},
		"join": func(v any, sep string) string {
			switch s := v.(type) {
			case []string:
				return strings.Join(s, sep)
			case []sendoka.EventType:
				out := make([]string, len(s))
				for i, e := range s {
					out[i] = string(e)
				}
				return strings.Join(out, sep)
			case []sendoka.Permission:
				out := make([]string, len(s))
				for i, e := range s {
					out[i] = string(e)
				}
				return strings.Join(out, sep)
			}
			return fmt.Sprint(v)
		},
		"pct": func(n, d int64) string {
			if d == 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(d))
		},
		"width": func(n, d int64) string { // a CSS class: inline styles are not allowed
			if d <= 0 {
				return "w0"
			}
			w := int(10 * float64(n) / float64(d))
			return fmt.Sprintf("w%d", 10*min(max(w, 0), 10))
		},
		"int64": func(n int) int64 { return int64(n) },
		"svg":   func(s string) template.HTML { return template.HTML(s) }, // built by chart.go, escaped there
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		},
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	p := &pages{sets: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t := template.Must(template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", n))
		p.sets[name] = t
	}
	return p
}

// render writes a full page.
func (p *pages) render(w http.ResponseWriter, status int, page string, l *layout, data any) {
	p.execute(w, status, page, "layout", view{L: l, D: data})
}

// fragment writes one named template of a page (an htmx swap).
func (p *pages) fragment(w http.ResponseWriter, status int, page, name string, l *layout, data any) {
	p.execute(w, status, page, name, view{L: l, D: data})
}

func (p *pages) execute(w http.ResponseWriter, status int, page, name string, v view) {
	t := p.sets[page]
	var buf bytes.Buffer
	if t == nil {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		http.Error(w, "the page could not be rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// layout returns the frame of a signed-in page, taking the flash message (once).
func (x *rq) layout(h *handler, title, nav string) *layout {
	l := &layout{Title: title, Nav: nav, User: x.user, CSRF: x.csrf, Mode: x.mode, Path: x.r.URL.RequestURI(),
		CanWrite: x.user.Role != sendoka.RoleViewer, IsOwner: x.user.Role == sendoka.RoleOwner}
	if c, err := x.r.Cookie(cookieFlash); err == nil {
		if v, err := url.QueryUnescape(c.Value); err == nil {
			l.Flash = v
		}
		h.setCookie(x.w, x.r, cookieFlash, "", -1)
	}
	return l
}

// page renders a signed-in page.
func (h *handler) page(x *rq, status int, name, title, nav string, data any) error {
	h.pages.render(x.w, status, name, x.layout(h, title, nav), data)
	return nil
}

// redirect goes to a dashboard path after a change, with a message shown once.
func (h *handler) redirect(x *rq, to, flash string) error {
	if flash != "" {
		h.setCookie(x.w, x.r, cookieFlash, url.QueryEscape(flash), 60)
	}
	http.Redirect(x.w, x.r, h.o.Prefix+to, http.StatusSeeOther)
	return nil
}

// statusOf maps the core's codes to HTTP, as the API does for the codes a page meets.
func statusOf(err error) int {
	switch sendoka.ErrorCode(err) {
	case sendoka.CodeNotFound:
		return http.StatusNotFound
	case sendoka.CodeUnauthorized:
		return http.StatusUnauthorized
	case sendoka.CodeInsufficientScope, sendoka.CodeTenantForbidden, sendoka.CodeDomainNotAllowedForKey:
		return http.StatusForbidden
	case sendoka.CodeConflict, sendoka.CodeNotScheduled:
		return http.StatusConflict
	case sendoka.CodeRateLimited, sendoka.CodeUsageLimitExceeded, sendoka.CodeWarmupLimitExceeded:
		return http.StatusTooManyRequests
	case sendoka.CodeUnavailable:
		return http.StatusServiceUnavailable
	case sendoka.CodeInternal:
		return http.StatusInternalServerError
	}
	return http.StatusUnprocessableEntity
}

// userMessage is the core error as a person reads it: the message and each field's.
func userMessage(err error) string {
	var e *sendoka.Error
	if !errors.As(err, &e) {
		return "Something went wrong."
	}
	if e.Code == sendoka.CodeInternal {
		return "Something went wrong on the server."
	}
	msg := e.Message
	for _, f := range e.Fields {
		if strings.Contains(msg, f.Message) {
			continue // the message says it already
		}
		var parts []string
		for _, p := range f.Path {
			parts = append(parts, fmt.Sprint(p))
		}
		msg += " " + strings.Join(parts, ".") + ": " + f.Message + "."
	}
	return msg
}

type errorData struct {
	Status  int
	Message string
}

// fail shows an error page (or, for htmx, a fragment) with the core's message.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, x *rq, err error) {
	status := statusOf(err)
	if status >= 500 {
		h.log.Error("dashboard", "path", r.URL.Path, "error", err)
	}
	msg := userMessage(err)
	if r.Header.Get("HX-Request") != "" || x == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(msg))
		return
	}
	h.pages.render(w, status, "error", x.layout(h, http.StatusText(status), ""), errorData{Status: status, Message: msg})
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
