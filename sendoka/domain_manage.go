package sendoka

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// CreateDomain adds a sender domain to the principal's namespace: the org, or the tenant of
// a tenant-bound key. The domain starts pending, with the DNS records to publish: Sendoka's
// own DKIM key (a 2048-bit RSA key made now, published as a TXT record), or, when the live
// email provider provisions domains (DomainProvisioner, SES), the provider's DKIM records;
// SPF and MX records on the return-path host; and a DMARC recommendation. A test key may
// send from it at once, a live key once VerifyDomain (or the periodic re-check) found the
// required records. A name already in the namespace is CodeConflict; the sandbox domain is
// built in (CodeValidation). It takes domains:write.
func (c *Client) CreateDomain(ctx context.Context, p *Principal, req *DomainRequest) (*Domain, error) {
	if err := p.require(PermissionDomainsWrite); err != nil {
		return nil, err
	}
	name, why := NormalizeDomainName(req.Name)
	if why == "" && (name == c.sandboxDomain || strings.HasSuffix(name, "."+c.sandboxDomain)) {
		why = c.sandboxDomain + " is the built-in sandbox domain: every org may send from it already"
	}
	if why != "" {
		code := FieldInvalid
		if req.Name == "" {
			code = FieldRequired
		}
		return nil, fieldError(code, why, "name")
	}
	now := c.now()
	d := &Domain{
		ID: NewID(PrefixDomain, now), OrgID: p.OrgID, TenantID: p.TenantID, Name: name,
		Status: DomainPending, CreatedAt: now, UpdatedAt: now,
		Records: c.domainCfg.otherRecords(name),
	}
	if pr, ok := c.email.(DomainProvisioner); ok {
		if err := c.provisionDomain(ctx, pr, d); err != nil {
			return nil, err
		}
	} else if err := d.addOwnKey(); err != nil {
		return nil, Internal(err)
	}
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertDomain(ctx, d) })
	if ErrorCode(err) == CodeConflict {
		return nil, &Error{Code: CodeConflict, Message: "the domain " + name + " is already added: GET /api/v1/domains lists it", Err: err}
	}
	if err != nil {
		return nil, err
	}
	c.domains.forget(d.OrgID, d.TenantID)
	return d, nil
}

// addOwnKey gives d a key of Sendoka's and puts its DKIM record first.
func (d *Domain) addOwnKey() error {
	d.DKIMSelector = dkimSelector(d.ID)
	key, rec, err := newDKIMKey(d.Name, d.DKIMSelector)
	if err != nil {
		return err
	}
	d.DKIMPrivateKey = key
	d.Records = append([]DNSRecord{rec}, d.Records...)
	return nil
}

// provisionDomain asks the provider for the domain's DKIM records and puts them first.
func (c *Client) provisionDomain(ctx context.Context, pr DomainProvisioner, d *Domain) error {
	name := namerName(c.email)
	recs, err := pr.ProvisionDomain(ctx, d)
	if err != nil {
		if ProviderErrorKindOf(err) == Permanent {
			return fieldError(FieldInvalid, "the email provider ("+name+") refused the domain: "+providerMessage(err), "name")
		}
		c.log.WarnContext(ctx, "domain provisioning did not run", "domain", d.Name, "provider", name, "error", err)
		return &Error{Code: CodeUnavailable, Message: "the email provider (" + name + ") could not be reached to set the domain up; nothing was stored: retry",
			RetryAfterSeconds: 5, Err: err}
	}
	if len(recs) == 0 {
		return Internal(fmt.Errorf("provider %s returned no DKIM records for %s", name, d.Name))
	}
	for i := range recs {
		recs[i].Purpose, recs[i].Required, recs[i].Status, recs[i].Problem = RecordDKIM, true, RecordPending, ""
		recs[i].Name, recs[i].Value = hostName(recs[i].Name), hostName(recs[i].Value)
	}
	d.Provider = name
	d.Records = append(recs, d.Records...)
	return nil
}

// providerMessage is the provider's own words in err.
func providerMessage(err error) string {
	var pe *ProviderError
	if errors.As(err, &pe) && pe.Message != "" {
		return pe.Message
	}
	return err.Error()
}

// GetDomain returns a domain in the principal's scope: an org-wide key sees every tenant's
// domains, a tenant-bound key its tenant's. SandboxDomainID returns the built-in sandbox
// domain. It takes domains:read or domains:write.
func (c *Client) GetDomain(ctx context.Context, p *Principal, id string) (*Domain, error) {
	if err := p.require(PermissionDomainsRead, PermissionDomainsWrite); err != nil {
		return nil, err
	}
	return c.lookupDomain(ctx, p, id)
}

// lookupDomain reads a domain in the principal's scope; SandboxDomainID is the built-in
// entry, and an id that cannot be one is CodeNotFound without a read.
func (c *Client) lookupDomain(ctx context.Context, p *Principal, id string) (*Domain, error) {
	if id == SandboxDomainID {
		return c.sandboxEntry(p), nil
	}
	if !plausibleID(id) {
		return nil, NotFound("domain")
	}
	d, err := c.store.GetDomain(ctx, p.Scope(), id)
	if err != nil {
		return nil, AsError(err)
	}
	return d, nil
}

// ListDomains returns a page of the principal's domains, newest first; the built-in sandbox
// domain comes last, as the oldest (it ends the last page). Status and Tag of lp do not
// apply. It takes domains:read or domains:write.
func (c *Client) ListDomains(ctx context.Context, p *Principal, lp ListParams) (*DomainList, error) {
	if err := p.require(PermissionDomainsRead, PermissionDomainsWrite); err != nil {
		return nil, err
	}
	q, err := pageQuery(lp)
	if err != nil {
		return nil, err
	}
	if q.After != nil && q.After.ID == SandboxDomainID {
		return &DomainList{Domains: []*Domain{}}, nil
	}
	page, err := c.store.ListDomains(ctx, p.Scope(), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &DomainList{Domains: page.Domains, HasMore: page.HasMore}
	if !page.HasMore {
		if len(out.Domains) < q.Limit {
			out.Domains = append(out.Domains, c.sandboxEntry(p))
		} else {
			out.HasMore = true // the sandbox entry is on a page of its own
		}
	}
	if out.HasMore && len(out.Domains) > 0 {
		last := out.Domains[len(out.Domains)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// DeleteDomain removes a domain in the principal's scope: from the next send on (within
// DomainCacheTTL in other processes) nothing may be sent from it. Messages already accepted
// still go out, unsigned. A domain the email provider provisioned stays registered there
// (another namespace may use the same name). The sandbox domain cannot be deleted
// (CodeConflict). It takes domains:write.
func (c *Client) DeleteDomain(ctx context.Context, p *Principal, id string) error {
	if err := p.require(PermissionDomainsWrite); err != nil {
		return err
	}
	if id == SandboxDomainID {
		return Errorf(CodeConflict, "the sandbox domain is built in and cannot be deleted")
	}
	if !plausibleID(id) {
		return NotFound("domain")
	}
	d, err := c.store.GetDomain(ctx, p.Scope(), id)
	if err != nil {
		return AsError(err)
	}
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.DeleteDomain(ctx, p.Scope(), id) })
	c.domains.forget(d.OrgID, d.TenantID) // even after an error: the delete may have committed unseen
	return err
}

// sandboxEntry is how the sandbox domain is listed: verified, built in, nothing to publish.
func (c *Client) sandboxEntry(p *Principal) *Domain {
	return &Domain{ID: SandboxDomainID, OrgID: p.OrgID, TenantID: p.TenantID, Name: c.sandboxDomain,
		Status: DomainVerified, BuiltIn: true, Records: []DNSRecord{}}
}
