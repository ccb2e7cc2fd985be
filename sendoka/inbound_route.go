package sendoka

import (
	"context"
	"strings"
	"time"
)

// PrefixInboundRoute and PrefixInboundEmail are the id prefixes of inbound routes and
// inbound emails.
const (
	PrefixInboundRoute = "inr_"
	PrefixInboundEmail = "inb_"
)

// InboundRoute says which received mail becomes an InboundEmail of a namespace (an org, or
// one tenant): mail to Match, an address (support@example.com) or every address of a domain
// (*@in.example.com). A match is unique across the installation.
type InboundRoute struct {
	ID       string
	OrgID    string
	TenantID string // "" for an org-level route
	// Match is the address or *@domain, lower-cased (domains in their A-label form).
	Match string
	// ForwardWebhook sends an email.received webhook event for each email received.
	ForwardWebhook bool
	CreatedAt      time.Time
}

// InboundRouteRequest is the body of POST /api/v1/inbound-routes.
type InboundRouteRequest struct {
	Match          string `json:"match" doc:"An address (support@example.com), or *@ and a domain (*@in.example.com) for every address of it. Its domain must be one of your verified domains (or a subdomain of one), or an inbound domain of the server; a match is unique across the server" example:"support@example.com" maxLength:"320"`
	ForwardWebhook *bool  `json:"forward_webhook,omitempty" doc:"Send an email.received webhook event for each email received; default true"`
	// TenantID creates the route for a tenant (platform mode): see Client.ForTenant.
	TenantID string `json:"tenant_id,omitempty" doc:"Platform mode: create the route for this tenant (platform-root keys; a tenant-bound key may only name its own)" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S" maxLength:"64"`
}

// InboundRouteStore reads inbound routes.
type InboundRouteStore interface {
	// GetInboundRoute returns a route of exactly the scope's namespace, or CodeNotFound.
	GetInboundRoute(ctx context.Context, scope Scope, id string) (*InboundRoute, error)
	// ListInboundRoutes returns one page of the namespace's routes, newest first.
	ListInboundRoutes(ctx context.Context, scope Scope, q PageQuery) (*InboundRoutePage, error)
	// InboundRoutesMatching returns the routes whose Match is one of matches, whatever their
	// namespace.
	InboundRoutesMatching(ctx context.Context, matches []string) ([]*InboundRoute, error)
	// InboundRouteDomainExists reports whether a route's match ends with @domain.
	InboundRouteDomainExists(ctx context.Context, domain string) (bool, error)
}

// InboundRouteTx writes inbound routes.
type InboundRouteTx interface {
	// InsertInboundRoute inserts a route; a Match already routed is CodeConflict.
	InsertInboundRoute(ctx context.Context, r *InboundRoute) error
	// DeleteInboundRoute deletes a route of the scope's namespace; CodeNotFound when it is
	// not there.
	DeleteInboundRoute(ctx context.Context, scope Scope, id string) error
}

// InboundRoutePage is one page of ListInboundRoutes.
type InboundRoutePage struct {
	Routes  []*InboundRoute
	HasMore bool
}

// InboundRouteList is one page of routes, with the cursor of the next.
type InboundRouteList struct {
	Routes     []*InboundRoute
	HasMore    bool
	NextCursor string
}

// inboundNS is the namespace scope of p: routes and inbound emails have no mode.
func inboundNS(p *Principal) Scope { return Scope{OrgID: p.OrgID, TenantID: p.TenantID} }

var inboundReadPermissions = []Permission{PermissionInboundRead, PermissionInboundWrite}

// normalizeRouteMatch checks a route's match and returns it lower-cased, with its domain, or
// says what is wrong.
func normalizeRouteMatch(match string) (norm, domain, why string) {
	match = strings.TrimSpace(match)
	local, dom, ok := strings.Cut(match, "@")
	if !ok || local == "" || dom == "" || strings.ContainsAny(match, " \t\r\n<>\"(),;:\\[]") || strings.Count(match, "@") != 1 {
		return "", "", "must be an address (name@example.com) or *@example.com"
	}
	name, bad := NormalizeDomainName(dom)
	if bad != "" {
		return "", "", "the domain " + bad
	}
	if local != "*" {
		if strings.Contains(local, "*") || len(local) > 64 {
			return "", "", "the part before @ is * or an address's local part (at most 64 characters)"
		}
	}
	return strings.ToLower(local) + "@" + name, name, ""
}

// CreateInboundRoute adds a route. Its domain must be one of Config.Inbound.Domains (or a
// subdomain of one), or a verified domain of the caller's namespace or org (or a subdomain
// of one); a match routed already, by anyone, is CodeConflict.
func (c *Client) CreateInboundRoute(ctx context.Context, p *Principal, req *InboundRouteRequest) (*InboundRoute, error) {
	if err := p.require(PermissionInboundWrite); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, req.TenantID)
	if err != nil {
		return nil, err
	}
	var v Validation
	match, domain, why := normalizeRouteMatch(req.Match)
	if req.Match == "" {
		v.Add(FieldRequired, "Required", "match")
	} else if why != "" {
		v.Add(FieldInvalidString, why, "match")
	} else if ok, err := c.mayRouteDomain(ctx, p, domain); err != nil {
		return nil, err
	} else if !ok {
		v.Add(FieldInvalid, "the domain is not an inbound domain of this server nor a verified domain of yours", "match")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := c.now()
	r := &InboundRoute{ID: NewID(PrefixInboundRoute, now), OrgID: p.OrgID, TenantID: p.TenantID, Match: match,
		ForwardWebhook: req.ForwardWebhook == nil || *req.ForwardWebhook, CreatedAt: now}
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertInboundRoute(ctx, r) }); err != nil {
		if ErrorCode(err) == CodeConflict {
			return nil, Errorf(CodeConflict, "%s is routed already", match)
		}
		return nil, err
	}
	return r, nil
}

// mayRouteDomain reports whether p may route mail of domain.
func (c *Client) mayRouteDomain(ctx context.Context, p *Principal, domain string) (bool, error) {
	under := func(name string) bool { return domain == name || strings.HasSuffix(domain, "."+name) }
	for _, d := range c.inbound.Domains {
		if under(d) {
			return true, nil
		}
	}
	namespaces := []string{p.TenantID}
	if p.TenantID != "" {
		namespaces = append(namespaces, "")
	}
	for _, tenant := range namespaces {
		ds, err := c.store.NamespaceDomains(ctx, p.OrgID, tenant)
		if err != nil {
			return false, AsError(err)
		}
		for _, d := range ds {
			if d.Status == DomainVerified && under(d.Name) {
				return true, nil
			}
		}
	}
	return false, nil
}

// GetInboundRoute returns a route of the caller's namespace.
func (c *Client) GetInboundRoute(ctx context.Context, p *Principal, id string) (*InboundRoute, error) {
	if err := p.require(inboundReadPermissions...); err != nil {
		return nil, err
	}
	if !plausibleID(id) || !strings.HasPrefix(id, PrefixInboundRoute) {
		return nil, NotFound("inbound route")
	}
	r, err := c.store.GetInboundRoute(ctx, inboundNS(p), id)
	if err != nil {
		return nil, AsError(err)
	}
	return r, nil
}

// ListInboundRoutes returns a page of the namespace's routes, newest first. lp.TenantID
// lists a tenant's (platform mode).
func (c *Client) ListInboundRoutes(ctx context.Context, p *Principal, lp ListParams) (*InboundRouteList, error) {
	if err := p.require(inboundReadPermissions...); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, lp.TenantID)
	if err != nil {
		return nil, err
	}
	q, err := pageQuery(lp)
	if err != nil {
		return nil, err
	}
	page, err := c.store.ListInboundRoutes(ctx, inboundNS(p), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &InboundRouteList{Routes: page.Routes, HasMore: page.HasMore}
	if page.HasMore && len(page.Routes) > 0 {
		last := page.Routes[len(page.Routes)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// DeleteInboundRoute removes a route: mail to its match is refused from then on. The emails
// it received stay.
func (c *Client) DeleteInboundRoute(ctx context.Context, p *Principal, id string) error {
	if err := p.require(PermissionInboundWrite); err != nil {
		return err
	}
	if !plausibleID(id) || !strings.HasPrefix(id, PrefixInboundRoute) {
		return NotFound("inbound route")
	}
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.DeleteInboundRoute(ctx, inboundNS(p), id) })
}

// InboundRouteFor returns the route of a recipient address: the route of the address
// itself, else the *@domain route of its domain. None is CodeNotFound.
func (c *Client) InboundRouteFor(ctx context.Context, address string) (*InboundRoute, error) {
	local, domain, ok := strings.Cut(strings.ToLower(strings.TrimSpace(address)), "@")
	if !ok || local == "" || domain == "" {
		return nil, NotFound("inbound route")
	}
	exact := local + "@" + domain
	routes, err := c.store.InboundRoutesMatching(ctx, []string{exact, "*@" + domain})
	if err != nil {
		return nil, AsError(err)
	}
	var wild *InboundRoute
	for _, r := range routes {
		if r.Match == exact {
			return r, nil
		}
		wild = r
	}
	if wild == nil {
		return nil, NotFound("inbound route")
	}
	return wild, nil
}

// AcceptsInboundDomain reports whether mail for domain may be taken at all: it is the bounce
// domain, one of Config.Inbound.Domains (or under one), or the domain of a route. The inbound
// listener refuses every other domain as a relay attempt.
func (c *Client) AcceptsInboundDomain(ctx context.Context, domain string) (bool, error) {
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	if domain == "" {
		return false, nil
	}
	if domain == c.inbound.BounceDomain {
		return true, nil
	}
	for _, d := range c.inbound.Domains {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true, nil
		}
	}
	ok, err := c.store.InboundRouteDomainExists(ctx, domain)
	if err != nil {
		return false, AsError(err)
	}
	return ok, nil
}
