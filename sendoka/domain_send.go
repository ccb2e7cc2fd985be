package sendoka

import (
	"context"
	"slices"
)

// checkSenderDomain applies the sending rules to the from domain of an email m that the
// principal sends. The domain is looked up in the principal's own namespace only: a
// tenant-bound key's tenant, or, for an org-wide key, the org-level domains (tenant_id
// NULL); the lookup goes through the domain cache, so a send does not wait for the
// database.
//
//   - The sandbox domain is always allowed: nothing sent from it is delivered. A key's
//     AllowedDomainIDs do not restrict it, for the same reason.
//   - A key with AllowedDomainIDs sends only from those domains: any other domain, known or
//     not, is CodeDomainNotAllowedForKey (403).
//   - A test key sends from any domain of its namespace, verified or not (nothing is
//     delivered); a live key only from a verified one. Anything else is CodeValidation on
//     ["from"], saying what to do.
func (c *Client) checkSenderDomain(ctx context.Context, p *Principal, m *Message) error {
	name := addressDomain(m.Email.From)
	if name == c.sandboxDomain {
		return nil
	}
	d, err := c.domains.find(ctx, p.OrgID, p.TenantID, name)
	if err != nil {
		return err
	}
	if len(p.AllowedDomainIDs) > 0 && (d == nil || !slices.Contains(p.AllowedDomainIDs, d.ID)) {
		return &Error{Code: CodeDomainNotAllowedForKey,
			Message: "this key may not send from " + name + ": it is limited to the domains of its allowed_domain_ids"}
	}
	switch {
	case d == nil:
		return fieldError(FieldInvalid, "the domain "+name+" is not one of your sending domains: add it with POST /api/v1/domains, "+
			"publish the DNS records it lists and verify it with POST /api/v1/domains/{id}/verify (or send from @"+c.sandboxDomain+")", "from")
	case p.Mode == ModeLive && d.Status != DomainVerified:
		return fieldError(FieldInvalid, "the domain "+name+" is not verified yet: publish the DNS records GET /api/v1/domains/"+d.ID+
			" lists, then verify it with POST /api/v1/domains/"+d.ID+"/verify (test keys may send from it meanwhile)", "from")
	}
	return nil
}

// dkimKey returns the key the provider signs m with (OutboundEmail.DKIM), or nil: only live
// mail from a verified domain whose own key Sendoka holds, with its DKIM record seen in DNS,
// is signed by the provider on Sendoka's behalf. The domain is looked up in m's namespace at
// delivery time: a domain deleted since the message was accepted leaves it unsigned.
func (c *Client) dkimKey(ctx context.Context, m *Message) (*DKIMKey, error) {
	if c.isSandboxSender(m) {
		return nil, nil
	}
	d, err := c.domains.find(ctx, m.OrgID, m.TenantID, addressDomain(m.Email.From))
	if err != nil || d == nil || !d.signsWithOwnKey() {
		return nil, err
	}
	key, err := parseDKIMKey(d.DKIMPrivateKey)
	if err != nil {
		// A stored key that does not parse is corruption: the mail goes out unsigned rather
		// than not at all (receivers treat a signature they cannot verify as none anyway).
		c.log.ErrorContext(ctx, "domain's DKIM key does not parse; sending unsigned", "domain_id", d.ID, "error", err)
		return nil, nil
	}
	return &DKIMKey{Domain: d.Name, Selector: d.DKIMSelector, Signer: key}, nil
}
