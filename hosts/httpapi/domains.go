package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagDomains = "Domains"

// registerDomains adds the sending domain operations.
func registerDomains(r *registrar, h *handlers) {
	api := r.api
	huma.Register(api, r.op(http.MethodPost, "/api/v1/domains", "create-domain", tagDomains, "Add a sending domain",
		"Adds a domain to send from (to your tenant, with a tenant-bound key). It starts pending, with the DNS "+
			"records to publish: DKIM (a TXT record with a 2048-bit RSA key Sendoka made, or with SES the three "+
			"CNAMEs SES gives), SPF and MX on the return-path host, and a recommended DMARC record. Test keys may "+
			"send from it at once, live keys once it is verified. The same name twice is 409 CONFLICT. Needs domains:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.createDomain)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/domains", "list-domains", tagDomains, "List sending domains",
		"Your domains newest first, a page at a time; the built-in sandbox domain ends the last page. "+
			"Needs domains:read or domains:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listDomains)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/domains/{id}", "get-domain", tagDomains, "Get a sending domain",
		"A domain with its DNS records and what the last check found for each. dom_sandbox is the sandbox domain.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getDomain)
	huma.Register(api, r.op(http.MethodPost, "/api/v1/domains/{id}/verify", "verify-domain", tagDomains, "Verify a sending domain",
		"Looks the domain's records up in DNS now and returns each record's status (verified, missing, "+
			"mismatch or lookup_failed, with the problem in words). When every required record is there the "+
			"domain becomes verified and live keys may send from it. Pending domains are also checked every "+
			"5 minutes for 72 hours after they are added. Needs domains:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.verifyDomain)
	huma.Register(api, r.op(http.MethodDelete, "/api/v1/domains/{id}", "delete-domain", tagDomains, "Delete a sending domain",
		"Removes the domain: nothing more may be sent from it. Messages already accepted still go out. "+
			"The sandbox domain cannot be deleted (409). Needs domains:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests), h.deleteDomain)
}

// Domain is a sending domain as the API shows it. Its private key is never shown.
type Domain struct {
	ID       string  `json:"id" example:"dom_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Name     string  `json:"name" doc:"Lower case; international names in punycode" example:"example.com"`
	Status   string  `json:"status" enum:"pending,verified" doc:"Live keys send only from verified domains; test keys from any of yours" example:"pending"`
	TenantID *string `json:"tenant_id" doc:"The tenant the domain belongs to; null for an org-level domain"`
	BuiltIn  bool    `json:"built_in" doc:"True for the sandbox domain: always verified, nothing to publish, nothing delivered"`
	Provider *string `json:"provider" doc:"The email provider that signs the domain's mail (ses); null when Sendoka signs it with its own key"`
	// Records are the DNS records to publish.
	Records       []DomainRecord `json:"records" nullable:"false" doc:"DNS records to publish, with what the last check found"`
	CreatedAt     *string        `json:"created_at" format:"date-time" doc:"Null for the sandbox domain" example:"2026-04-22T10:14:22.113Z"`
	VerifiedAt    *string        `json:"verified_at" format:"date-time" doc:"When it became verified, or null"`
	LastCheckedAt *string        `json:"last_checked_at" format:"date-time" doc:"When its records were last looked up, or null"`
	Warmup        *DomainWarmup  `json:"warmup" doc:"Its daily cap while it warms up after verification; null before verification, for the sandbox domain, and when warmup is off"`
}

// DomainWarmup is where a verified domain is in its warmup.
type DomainWarmup struct {
	Day       int    `json:"day" doc:"Days since verification (0 on the day itself)"`
	CapToday  *int64 `json:"cap_today" doc:"Live messages it may send today (UTC); null once the warmup is over"`
	SentToday int64  `json:"sent_today" doc:"Live messages it sent today while capped"`
	Done      bool   `json:"done" doc:"The warmup is over: no daily cap"`
}

// DomainRecord is one DNS record of a domain.
type DomainRecord struct {
	Purpose  string  `json:"purpose" enum:"dkim,spf,return_path,dmarc" doc:"dkim: the signing key; spf and return_path: the SPF TXT and the MX of the return-path host; dmarc: the recommended policy"`
	Type     string  `json:"type" enum:"TXT,MX,CNAME" example:"TXT"`
	Name     string  `json:"name" doc:"Fully qualified host name" example:"sendoka-01hn8z6q._domainkey.example.com"`
	Value    string  `json:"value" doc:"The record's content (for MX, the mail server)" example:"v=DKIM1; k=rsa; p=MIIBIjANBg…"`
	Priority *int    `json:"priority" doc:"MX preference; null for other types" example:"10"`
	Required bool    `json:"required" doc:"Whether the domain needs it to be verified (DMARC is only recommended)"`
	Status   string  `json:"status" enum:"pending,verified,missing,mismatch,lookup_failed" doc:"What the last check found; pending before the first"`
	Problem  *string `json:"problem" doc:"What is wrong and what to do; null when found or not checked"`
}

func domainObject(d *sendoka.Domain) *Domain {
	out := &Domain{
		ID: d.ID, Name: d.Name, Status: string(d.Status), TenantID: nullable(d.TenantID), BuiltIn: d.BuiltIn,
		Provider: nullable(d.Provider), Records: make([]DomainRecord, len(d.Records)),
		VerifiedAt: formatTimePtr(d.VerifiedAt), LastCheckedAt: formatTimePtr(d.CheckedAt),
	}
	if !d.CreatedAt.IsZero() {
		out.CreatedAt = formatTimePtr(&d.CreatedAt)
	}
	for i, r := range d.Records {
		rec := DomainRecord{Purpose: string(r.Purpose), Type: r.Type, Name: r.Name, Value: r.Value,
			Required: r.Required, Status: string(r.Status), Problem: nullable(r.Problem)}
		if r.Type == "MX" {
			rec.Priority = &r.Priority
		}
		out.Records[i] = rec
	}
	return out
}

// domainObj is domainObject with the domain's warmup.
func (h *handlers) domainObj(ctx context.Context, d *sendoka.Domain) *Domain {
	out := domainObject(d)
	if d.BuiltIn || d.VerifiedAt == nil {
		return out
	}
	w, err := h.c.Warmup(ctx, d)
	if err != nil || w.Off {
		return out // warmup off, or its count unreadable now: shown as null
	}
	out.Warmup = &DomainWarmup{Day: w.Day, SentToday: w.SentToday, Done: w.Done}
	if !w.Done {
		out.Warmup.CapToday = &w.CapToday
	}
	return out
}

// DomainList is one page of domains.
type DomainList struct {
	Data       []*Domain `json:"data" nullable:"false"`
	HasMore    bool      `json:"has_more" doc:"Whether another page follows"`
	NextCursor *string   `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// DomainDeleted answers the DELETE of a domain.
type DomainDeleted struct {
	ID      string `json:"id" example:"dom_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Deleted bool   `json:"deleted" example:"true"`
}

type domainIDInput struct {
	ID string `path:"id" doc:"Domain id, or dom_sandbox" example:"dom_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type createDomainInput struct {
	jsonBody[sendoka.DomainRequest]
}

type domainOutput struct{ Body *Domain }
type domainListOutput struct{ Body *DomainList }
type domainDeletedOutput struct{ Body *DomainDeleted }

func (h *handlers) createDomain(ctx context.Context, in *createDomainInput) (*domainOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	d, err := h.c.CreateDomain(ctx, PrincipalFrom(ctx), &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &domainOutput{Body: h.domainObj(ctx, d)}, nil
}

func (h *handlers) listDomains(ctx context.Context, in *senderPageInput) (*domainListOutput, error) {
	lp, err := in.params()
	if err != nil {
		return nil, fail(ctx, err)
	}
	page, err := h.c.ListDomains(ctx, PrincipalFrom(ctx), lp)
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &DomainList{Data: make([]*Domain, len(page.Domains)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, d := range page.Domains {
		out.Data[i] = h.domainObj(ctx, d)
	}
	return &domainListOutput{Body: out}, nil
}

func (h *handlers) getDomain(ctx context.Context, in *domainIDInput) (*domainOutput, error) {
	d, err := h.c.GetDomain(ctx, PrincipalFrom(ctx), in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &domainOutput{Body: h.domainObj(ctx, d)}, nil
}

func (h *handlers) verifyDomain(ctx context.Context, in *domainIDInput) (*domainOutput, error) {
	d, err := h.c.VerifyDomain(ctx, PrincipalFrom(ctx), in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &domainOutput{Body: h.domainObj(ctx, d)}, nil
}

func (h *handlers) deleteDomain(ctx context.Context, in *domainIDInput) (*domainDeletedOutput, error) {
	if err := h.c.DeleteDomain(ctx, PrincipalFrom(ctx), in.ID); err != nil {
		return nil, fail(ctx, err)
	}
	return &domainDeletedOutput{Body: &DomainDeleted{ID: in.ID, Deleted: true}}, nil
}
