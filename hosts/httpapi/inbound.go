package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagInbound = "Inbound email"

// registerInbound adds the inbound route operations and the reading of inbound emails.
func registerInbound(r *registrar, h *handlers) {
	api := r.api
	std := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests}
	huma.Register(api, r.op(http.MethodPost, "/api/v1/inbound-routes", "create-inbound-route", tagInbound, "Create an inbound route",
		"Routes mail to an address (support@example.com) or to every address of a domain (*@in.example.com) "+
			"into inbound emails of your org (or of a tenant with tenant_id). The domain must be one of your verified "+
			"domains (or under one) or an inbound domain of the server, and its MX must point at Sendoka's SMTP "+
			"listener. With forward_webhook (the default) each email fires an email.received webhook event. "+
			"A match routed already is 409 CONFLICT. Needs inbound:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.createInboundRoute)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/inbound-routes", "list-inbound-routes", tagInbound, "List inbound routes",
		"Routes newest first, a page at a time. Needs inbound:read or inbound:write.", std...), h.listInboundRoutes)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/inbound-routes/{id}", "get-inbound-route", tagInbound, "Get an inbound route",
		"One route. Needs inbound:read or inbound:write.", std...), h.getInboundRoute)
	huma.Register(api, r.op(http.MethodDelete, "/api/v1/inbound-routes/{id}", "delete-inbound-route", tagInbound, "Delete an inbound route",
		"Removes the route: mail to its match is refused from then on. The emails it received stay. Needs inbound:write.", std...), h.deleteInboundRoute)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/inbound-emails", "list-inbound-emails", tagInbound, "List inbound emails",
		"Emails received for your routes, newest first, a page at a time, without their bodies. "+
			"Needs inbound:read or inbound:write.", std...), h.listInboundEmails)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/inbound-emails/{id}", "get-inbound-email", tagInbound, "Get an inbound email",
		"One received email: its envelope, header fields, text and HTML bodies, and the list of its attachments "+
			"(fetch each with GET /api/v1/inbound-emails/{id}/attachments/{n}). Needs inbound:read or inbound:write.", std...), h.getInboundEmail)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/inbound-emails/{id}/attachments/{n}", "get-inbound-email-attachment", tagInbound,
		"Get an attachment of an inbound email",
		"The attachment at position n (from 0, in the order of the attachments list) with its content, base64. "+
			"Needs inbound:read or inbound:write.", std...), h.getInboundAttachment)
}

// InboundRoute is a route as the API shows it.
type InboundRoute struct {
	ID             string  `json:"id" example:"inr_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Match          string  `json:"match" example:"support@example.com"`
	ForwardWebhook bool    `json:"forward_webhook" doc:"Whether each email fires an email.received webhook event"`
	TenantID       *string `json:"tenant_id" doc:"The tenant the route belongs to; null for an org-level route"`
	CreatedAt      string  `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
}

func inboundRouteObject(r *sendoka.InboundRoute) *InboundRoute {
	return &InboundRoute{ID: r.ID, Match: r.Match, ForwardWebhook: r.ForwardWebhook, TenantID: nullable(r.TenantID), CreatedAt: formatTime(r.CreatedAt)}
}

// InboundRouteList is one page of routes.
type InboundRouteList struct {
	Data       []*InboundRoute `json:"data" nullable:"false"`
	HasMore    bool            `json:"has_more"`
	NextCursor *string         `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// InboundRouteDeleted answers a delete.
type InboundRouteDeleted struct {
	ID      string `json:"id" example:"inr_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Deleted bool   `json:"deleted" example:"true"`
}

// InboundHeader is one header field of a received email.
type InboundHeader struct {
	Name  string `json:"name" example:"Subject"`
	Value string `json:"value" example:"Re: your order"`
}

// InboundAttachment describes one attachment of a received email.
type InboundAttachment struct {
	Index       int     `json:"index" doc:"Its position, the n of GET .../attachments/{n}"`
	Filename    string  `json:"filename" example:"invoice.pdf"`
	ContentType string  `json:"content_type" example:"application/pdf"`
	ContentID   *string `json:"content_id" doc:"The Content-ID of an inline part, or null"`
	Size        int64   `json:"size" doc:"Bytes"`
}

// InboundEnvelope is the SMTP envelope an email came with.
type InboundEnvelope struct {
	MailFrom string `json:"mail_from" doc:"The reverse path; empty for the null one" example:"ada@example.org"`
	RcptTo   string `json:"rcpt_to" doc:"The recipient the route matched" example:"support@example.com"`
}

// InboundEmail is a received email as the API shows it. Listings leave out text, html and
// headers.
type InboundEmail struct {
	ID          string               `json:"id" example:"inb_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	RouteID     string               `json:"route_id" example:"inr_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID    *string              `json:"tenant_id" doc:"The tenant of the route; null for an org-level route"`
	Envelope    InboundEnvelope      `json:"envelope"`
	From        string               `json:"from" example:"Ada <ada@example.org>"`
	To          []string             `json:"to" nullable:"false"`
	Cc          []string             `json:"cc" nullable:"false"`
	Subject     string               `json:"subject" example:"Re: your order"`
	MessageID   string               `json:"message_id" doc:"The email's Message-ID header" example:"<reply-1@example.org>"`
	InReplyTo   string               `json:"in_reply_to" doc:"Its In-Reply-To header: the Message-ID (<msg_…@…> for Sendoka's) it answers" example:"<msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S@example.com>"`
	Text        *string              `json:"text,omitempty" doc:"The text/plain body (get only)"`
	HTML        *string              `json:"html,omitempty" doc:"The text/html body (get only)"`
	Headers     []InboundHeader      `json:"headers,omitempty" doc:"Every header field in order, decoded (get only)"`
	Attachments []*InboundAttachment `json:"attachments" nullable:"false"`
	Size        int64                `json:"size" doc:"Bytes of the raw message"`
	CreatedAt   string               `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
}

func inboundEmailObject(e *sendoka.InboundEmail, full bool) *InboundEmail {
	out := &InboundEmail{ID: e.ID, RouteID: e.RouteID, TenantID: nullable(e.TenantID),
		Envelope: InboundEnvelope{MailFrom: e.MailFrom, RcptTo: e.RcptTo}, From: e.From, To: nonNil(e.To), Cc: nonNil(e.Cc),
		Subject: e.Subject, MessageID: e.MessageID, InReplyTo: e.InReplyTo, Attachments: []*InboundAttachment{},
		Size: e.Size, CreatedAt: formatTime(e.CreatedAt)}
	for i, a := range e.Attachments {
		out.Attachments = append(out.Attachments, &InboundAttachment{Index: i, Filename: a.Filename, ContentType: a.ContentType,
			ContentID: nullable(a.ContentID), Size: a.Size})
	}
	if full {
		text, html := e.Text, e.HTML
		out.Text, out.HTML = &text, &html
		out.Headers = make([]InboundHeader, len(e.Headers))
		for i, hd := range e.Headers {
			out.Headers[i] = InboundHeader{Name: hd.Name, Value: hd.Value}
		}
	}
	return out
}

// InboundEmailList is one page of received emails.
type InboundEmailList struct {
	Data       []*InboundEmail `json:"data" nullable:"false"`
	HasMore    bool            `json:"has_more"`
	NextCursor *string         `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// InboundAttachmentContent is an attachment with its content.
type InboundAttachmentContent struct {
	InboundAttachment
	Content []byte `json:"content" doc:"The content, base64"`
}

type createInboundRouteInput struct {
	jsonBody[sendoka.InboundRouteRequest]
}

type inboundRefInput struct {
	ID       string `path:"id" maxLength:"64" doc:"Id (inr_… or inb_…)" example:"inr_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the object of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level ones"`
}

type inboundAttachmentInput struct {
	ID       string `path:"id" maxLength:"64" doc:"Inbound email id (inb_…)" example:"inb_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	N        string `path:"n" maxLength:"64" doc:"Position of the attachment, from 0 (anything else is 404 NOT_FOUND)" example:"0"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the email of this tenant (platform-root keys; a tenant-bound key may only name its own)"`
}

type listInboundInput struct {
	Limit    int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1-100"`
	Cursor   string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: list this tenant's (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key lists the org-level ones"`
}

type inboundRouteOutput struct{ Body *InboundRoute }
type inboundRouteListOutput struct{ Body *InboundRouteList }
type inboundRouteDeletedOutput struct{ Body *InboundRouteDeleted }
type inboundEmailOutput struct{ Body *InboundEmail }
type inboundEmailListOutput struct{ Body *InboundEmailList }
type inboundAttachmentOutput struct{ Body *InboundAttachmentContent }

// inboundPrincipal is the caller, bound to the tenant named by ?tenant_id= if any.
func (h *handlers) inboundPrincipal(ctx context.Context, id, tenantID, what string) (*sendoka.Principal, error) {
	if hasNUL(id) {
		return nil, sendoka.NotFound(what)
	}
	return h.c.ForTenant(ctx, PrincipalFrom(ctx), tenantID)
}

func (h *handlers) createInboundRoute(ctx context.Context, in *createInboundRouteInput) (*inboundRouteOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	r, err := h.c.CreateInboundRoute(ctx, PrincipalFrom(ctx), &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &inboundRouteOutput{Body: inboundRouteObject(r)}, nil
}

func (h *handlers) listInboundRoutes(ctx context.Context, in *listInboundInput) (*inboundRouteListOutput, error) {
	page, err := h.c.ListInboundRoutes(ctx, PrincipalFrom(ctx), sendoka.ListParams{Limit: in.Limit, Cursor: in.Cursor, TenantID: in.TenantID})
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &InboundRouteList{Data: make([]*InboundRoute, len(page.Routes)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, r := range page.Routes {
		out.Data[i] = inboundRouteObject(r)
	}
	return &inboundRouteListOutput{Body: out}, nil
}

func (h *handlers) getInboundRoute(ctx context.Context, in *inboundRefInput) (*inboundRouteOutput, error) {
	p, err := h.inboundPrincipal(ctx, in.ID, in.TenantID, "inbound route")
	if err != nil {
		return nil, fail(ctx, err)
	}
	r, err := h.c.GetInboundRoute(ctx, p, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &inboundRouteOutput{Body: inboundRouteObject(r)}, nil
}

func (h *handlers) deleteInboundRoute(ctx context.Context, in *inboundRefInput) (*inboundRouteDeletedOutput, error) {
	p, err := h.inboundPrincipal(ctx, in.ID, in.TenantID, "inbound route")
	if err != nil {
		return nil, fail(ctx, err)
	}
	if err := h.c.DeleteInboundRoute(ctx, p, in.ID); err != nil {
		return nil, fail(ctx, err)
	}
	return &inboundRouteDeletedOutput{Body: &InboundRouteDeleted{ID: in.ID, Deleted: true}}, nil
}

func (h *handlers) listInboundEmails(ctx context.Context, in *listInboundInput) (*inboundEmailListOutput, error) {
	page, err := h.c.ListInboundEmails(ctx, PrincipalFrom(ctx), sendoka.ListParams{Limit: in.Limit, Cursor: in.Cursor, TenantID: in.TenantID})
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &InboundEmailList{Data: make([]*InboundEmail, len(page.Emails)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, e := range page.Emails {
		out.Data[i] = inboundEmailObject(e, false)
	}
	return &inboundEmailListOutput{Body: out}, nil
}

func (h *handlers) getInboundEmail(ctx context.Context, in *inboundRefInput) (*inboundEmailOutput, error) {
	p, err := h.inboundPrincipal(ctx, in.ID, in.TenantID, "inbound email")
	if err != nil {
		return nil, fail(ctx, err)
	}
	e, err := h.c.GetInboundEmail(ctx, p, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &inboundEmailOutput{Body: inboundEmailObject(e, true)}, nil
}

func (h *handlers) getInboundAttachment(ctx context.Context, in *inboundAttachmentInput) (*inboundAttachmentOutput, error) {
	p, err := h.inboundPrincipal(ctx, in.ID, in.TenantID, "inbound email")
	if err != nil {
		return nil, fail(ctx, err)
	}
	n, err := strconv.Atoi(in.N)
	if err != nil || n < 0 {
		// Checked after the email: a bad position of another org's email is the email's 404.
		if _, err := h.c.GetInboundEmail(ctx, p, in.ID); err != nil {
			return nil, fail(ctx, err)
		}
		return nil, fail(ctx, sendoka.NotFound("attachment"))
	}
	a, err := h.c.GetInboundAttachment(ctx, p, in.ID, n)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &inboundAttachmentOutput{Body: &InboundAttachmentContent{
		InboundAttachment: InboundAttachment{Index: n, Filename: a.Filename, ContentType: a.ContentType, ContentID: nullable(a.ContentID), Size: a.Size},
		Content:           a.Content,
	}}, nil
}
