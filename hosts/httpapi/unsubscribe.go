package httpapi

import (
	"bytes"
	"context"
	"html/template"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// registerUnsubscribe adds the unsubscribe link of broadcast email: GET /u/{token} shows a
// confirmation page with a button, and POST /u/{token} (the button, or a mail client's RFC
// 8058 one-click POST) unsubscribes the contact from the audience. Like the tracking routes
// they take no API key: the signed token is the authorization, and a malformed or tampered
// one is 404 NOT_FOUND. A GET never unsubscribes: mail scanners follow links.
func registerUnsubscribe(r *registrar, c *sendoka.Client) {
	op := func(method, id, summary, description string) huma.Operation {
		responses := errorResponses(r.api, http.StatusNotFound, http.StatusInternalServerError, http.StatusServiceUnavailable)
		responses["200"] = &huma.Response{Description: "A small HTML page",
			Headers: map[string]*huma.Param{headerRequestID: responses["404"].Headers[headerRequestID]},
			Content: map[string]*huma.MediaType{"text/html": {Schema: &huma.Schema{Type: huma.TypeString}}}}
		return huma.Operation{
			OperationID: id, Method: method, Path: "/u/{token}", Summary: summary, Description: description,
			Tags: []string{tagTracking}, Security: []map[string][]string{}, Responses: responses,
			Middlewares: huma.Middlewares{envelopeMiddleware(r.opts.Logger), deadlineMiddleware(r.opts)},
		}
	}
	tokenDoc := " No API key: the token, from the email's List-Unsubscribe header or link, is the authorization; a malformed, tampered or unknown token is 404 NOT_FOUND."
	huma.Register(r.api, op(http.MethodGet, "unsubscribe-page", "Unsubscribe page",
		"Shows what the link unsubscribes from, with a button that does it. It changes nothing itself."+tokenDoc),
		func(ctx context.Context, in *unsubscribeInput) (*htmlOutput, error) {
			target, err := c.UnsubscribeInfo(ctx, in.Token)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return htmlPage(unsubscribePage, target)
		})
	huma.Register(r.api, op(http.MethodPost, "unsubscribe", "Unsubscribe",
		"Unsubscribes the contact from the audience (RFC 8058 one-click: the body List-Unsubscribe=One-Click, "+
			"if any, is not needed). Doing it again changes nothing."+tokenDoc),
		func(ctx context.Context, in *unsubscribeInput) (*htmlOutput, error) {
			target, err := c.Unsubscribe(ctx, in.Token)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return htmlPage(unsubscribedPage, target)
		})
}

type unsubscribeInput struct {
	// No maxLength: a token too long to be one is 404 like any other that is not one.
	Token string `path:"token" doc:"Signed unsubscribe token"`
}

type htmlOutput struct {
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	Body         []byte
}

func htmlPage(t *template.Template, target *sendoka.UnsubscribeTarget) (*htmlOutput, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, target); err != nil {
		return nil, err
	}
	return &htmlOutput{ContentType: "text/html; charset=utf-8", CacheControl: noStore, Body: b.Bytes()}, nil
}

const pageHead = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
	`<meta name="robots" content="noindex"><title>Unsubscribe</title><style>body{font-family:system-ui,sans-serif;max-width:32rem;` +
	`margin:4rem auto;padding:0 1rem;line-height:1.5}button{font-size:1rem;padding:.5rem 1rem}</style></head><body>`

// unsubscribePage is GET /u/{token}: a form that POSTs to the same URL.
var unsubscribePage = template.Must(template.New("unsubscribe").Parse(pageHead +
	`{{if .Unsubscribed}}<h1>You are unsubscribed</h1><p>{{.Address}} no longer gets mail from {{.AudienceName}}.</p>` +
	`{{else}}<h1>Unsubscribe</h1><p>Stop sending {{.AudienceName}} to {{.Address}}?</p>` +
	`<form method="post"><button type="submit">Unsubscribe</button></form>{{end}}</body></html>`))

// unsubscribedPage answers POST /u/{token}.
var unsubscribedPage = template.Must(template.New("unsubscribed").Parse(pageHead +
	`<h1>You are unsubscribed</h1><p>{{.Address}} no longer gets mail from {{.AudienceName}}.</p></body></html>`))
