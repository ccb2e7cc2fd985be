package apiclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sendoka/sendoka/hosts/httpapi"
	"github.com/sendoka/sendoka/sendoka"
)

// Adding an operation: one method that fills a call (method, path through pathf, query,
// body, and keyed for a create that honours Idempotency-Key) and hands it to invoke with the
// API's response type. TestEveryOperationHasAMethod finds a missing one.

// invoke runs cl and returns its answer decoded as T.
func invoke[T any](ctx context.Context, c *Client, cl call) (*T, error) {
	var out T
	if err := c.do(ctx, cl, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// pathf fills the %s of a path template with escaped ids.
func pathf(tmpl string, ids ...string) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(tmpl, args...)
}

// listQuery is the query of a message, sender, domain or webhook list.
func listQuery(lp sendoka.ListParams) url.Values {
	q := url.Values{}
	if lp.Limit > 0 {
		q.Set("limit", strconv.Itoa(lp.Limit))
	}
	set(q, "cursor", lp.Cursor)
	set(q, "status", string(lp.Status))
	set(q, "tag", lp.Tag)
	set(q, "tenant_id", lp.TenantID)
	set(q, "recipient", lp.Recipient)
	set(q, "stream", lp.Stream)
	if lp.CreatedAfter != nil {
		q.Set("created_after", lp.CreatedAfter.UTC().Format(time.RFC3339Nano))
	}
	if lp.CreatedBefore != nil {
		q.Set("created_before", lp.CreatedBefore.UTC().Format(time.RFC3339Nano))
	}
	return q
}

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// accepted converts a send's answer.
func accepted(r *httpapi.SendResponse) (*sendoka.Accepted, error) {
	at, err := time.Parse(time.RFC3339Nano, r.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("apiclient: created_at %q: %w", r.CreatedAt, err)
	}
	return &sendoka.Accepted{ID: r.ID, Channel: sendoka.Channel(r.Channel), Status: sendoka.Status(r.Status), CreatedAt: at}, nil
}

func (c *Client) send(ctx context.Context, path string, body any) (*sendoka.Accepted, error) {
	r, err := invoke[httpapi.SendResponse](ctx, c, call{method: http.MethodPost, path: path, body: body, safety: keyed})
	if err != nil {
		return nil, err
	}
	return accepted(r)
}

// SendEmail sends an email (POST /api/v1/emails). The message is stored and queued (or
// scheduled) when it returns without error.
func (c *Client) SendEmail(ctx context.Context, req *sendoka.EmailRequest) (*sendoka.Accepted, error) {
	return c.send(ctx, "/api/v1/emails", req)
}

// SendSMS sends an SMS (POST /api/v1/sms).
func (c *Client) SendSMS(ctx context.Context, req *sendoka.SMSRequest) (*sendoka.Accepted, error) {
	return c.send(ctx, "/api/v1/sms", req)
}

// GetEmail returns an email with its delivery status and event timeline
// (GET /api/v1/emails/{id}).
func (c *Client) GetEmail(ctx context.Context, id string) (*httpapi.EmailMessageDetail, error) {
	return invoke[httpapi.EmailMessageDetail](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/emails/%s", id)})
}

// GetSMS returns an SMS with its delivery status and event timeline (GET /api/v1/sms/{id}).
func (c *Client) GetSMS(ctx context.Context, id string) (*httpapi.SMSMessageDetail, error) {
	return invoke[httpapi.SMSMessageDetail](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/sms/%s", id)})
}

// GetEmailRaw returns an email as an RFC 5322 MIME message, rebuilt from what was composed
// (GET /api/v1/emails/{id}/raw).
func (c *Client) GetEmailRaw(ctx context.Context, id string) ([]byte, error) {
	var raw []byte
	if err := c.do(ctx, call{method: http.MethodGet, path: pathf("/api/v1/emails/%s/raw", id)}, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// ListEmails returns a page of emails, newest first (GET /api/v1/emails): pass its
// NextCursor as lp.Cursor for the next.
func (c *Client) ListEmails(ctx context.Context, lp sendoka.ListParams) (*httpapi.EmailList, error) {
	return invoke[httpapi.EmailList](ctx, c, call{method: http.MethodGet, path: "/api/v1/emails", query: listQuery(lp), tenantQuery: true})
}

// ListSMS returns a page of SMS, newest first (GET /api/v1/sms).
func (c *Client) ListSMS(ctx context.Context, lp sendoka.ListParams) (*httpapi.SMSList, error) {
	return invoke[httpapi.SMSList](ctx, c, call{method: http.MethodGet, path: "/api/v1/sms", query: listQuery(lp), tenantQuery: true})
}

// CancelEmail cancels a scheduled email (DELETE /api/v1/emails/{id}); anything not
// scheduled is 409 NOT_SCHEDULED.
func (c *Client) CancelEmail(ctx context.Context, id string) (*httpapi.EmailMessage, error) {
	return invoke[httpapi.EmailMessage](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/emails/%s", id)})
}

// CancelSMS cancels a scheduled SMS (DELETE /api/v1/sms/{id}).
func (c *Client) CancelSMS(ctx context.Context, id string) (*httpapi.SMSMessage, error) {
	return invoke[httpapi.SMSMessage](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/sms/%s", id)})
}

// RescheduleEmail moves a scheduled email (PATCH /api/v1/emails/{id}).
func (c *Client) RescheduleEmail(ctx context.Context, id string, req sendoka.ScheduleRequest) (*httpapi.EmailMessage, error) {
	return invoke[httpapi.EmailMessage](ctx, c, call{method: http.MethodPatch, path: pathf("/api/v1/emails/%s", id), body: req})
}

// RescheduleSMS moves a scheduled SMS (PATCH /api/v1/sms/{id}).
func (c *Client) RescheduleSMS(ctx context.Context, id string, req sendoka.ScheduleRequest) (*httpapi.SMSMessage, error) {
	return invoke[httpapi.SMSMessage](ctx, c, call{method: http.MethodPatch, path: pathf("/api/v1/sms/%s", id), body: req})
}

// SendEmailBatch sends up to 100 emails in one call, one message each (the per-item shape
// of POST /api/v1/emails/batch). Rows are accepted or refused one by one: see each
// BatchRow's Error.
func (c *Client) SendEmailBatch(ctx context.Context, reqs []*sendoka.EmailRequest) (*httpapi.BatchResponse, error) {
	return invoke[httpapi.BatchResponse](ctx, c, call{method: http.MethodPost, path: "/api/v1/emails/batch", body: reqs, safety: keyed})
}

// SendEmailBulk sends req to each address of req.To (up to 100) as a message of its own:
// recipients do not see each other (the bulk shape of POST /api/v1/emails/batch).
func (c *Client) SendEmailBulk(ctx context.Context, req *sendoka.EmailRequest) (*httpapi.BatchResponse, error) {
	return invoke[httpapi.BatchResponse](ctx, c, call{method: http.MethodPost, path: "/api/v1/emails/batch", body: req, safety: keyed})
}

// SendSMSBatch sends up to 100 SMS in one call (the per-item shape of POST /api/v1/sms/batch).
func (c *Client) SendSMSBatch(ctx context.Context, reqs []*sendoka.SMSRequest) (*httpapi.BatchResponse, error) {
	return invoke[httpapi.BatchResponse](ctx, c, call{method: http.MethodPost, path: "/api/v1/sms/batch", body: reqs, safety: keyed})
}

// SendSMSBulk sends req to each number of to (up to 100), one message each; req.To is
// ignored (the bulk shape of POST /api/v1/sms/batch).
func (c *Client) SendSMSBulk(ctx context.Context, to []string, req *sendoka.SMSRequest) (*httpapi.BatchResponse, error) {
	if req == nil {
		req = &sendoka.SMSRequest{}
	}
	body := struct {
		*sendoka.SMSRequest
		To []string `json:"to"`
	}{req, to}
	return invoke[httpapi.BatchResponse](ctx, c, call{method: http.MethodPost, path: "/api/v1/sms/batch", body: body, safety: keyed})
}
