package sendoka

import (
	"context"
	"sync"
	"time"
)

// Re-checks of pending domains (JobRecheckDomains).
const (
	// DomainRecheckInterval is how often the leader node checks pending domains again.
	DomainRecheckInterval = 5 * time.Minute
	// recheckBatch bounds the domains one pass checks; the least recently checked go first,
	// so a larger backlog is worked through pass by pass.
	recheckBatch = 100
	// recheckParallel bounds the domains checked at once.
	recheckParallel = 8
)

// VerifyDomain looks up the DNS records of a domain in the principal's scope (through
// Config.DNS) and returns the domain with each record's status: verified, missing, mismatch
// (found with another value; Problem says which) or lookup_failed. A pending domain whose
// required records (DKIM, and SPF and MX on the return-path host; DMARC is only
// recommended) are all found becomes verified, and live keys may send from it at once in
// this process and within DomainCacheTTL in every other. A verified domain stays verified
// whatever the check finds. For a provider's domain (SES) the check looks up the CNAME
// records the provider gave; the provider's own view is not asked. The sandbox domain is
// returned as it is. It takes domains:write.
func (c *Client) VerifyDomain(ctx context.Context, p *Principal, id string) (*Domain, error) {
	if err := p.require(PermissionDomainsWrite); err != nil {
		return nil, err
	}
	d, err := c.lookupDomain(ctx, p, id)
	if err != nil || d.BuiltIn {
		return d, err
	}
	if err := c.checkDomain(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

// checkDomain looks d's records up and stores what was found on d and in the store.
func (c *Client) checkDomain(ctx context.Context, d *Domain) error {
	recs, ok := checkRecords(ctx, c.dns, d, c.domainCfg)
	now := c.now()
	d.Records, d.CheckedAt, d.UpdatedAt = recs, &now, now
	if ok && d.Status == DomainPending {
		d.Status, d.VerifiedAt = DomainVerified, &now
	}
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.UpdateDomainCheck(ctx, d) })
	c.domains.forget(d.OrgID, d.TenantID)
	return err
}

// DomainRecheck counts what one RecheckDomains pass did.
type DomainRecheck struct {
	Checked  int // domains whose records were looked up
	Verified int // of which became verified
}

// RecheckDomains checks the records of pending domains added less than
// DomainConfig.RecheckWindow ago (72 h), at most 100 per pass, those never checked and then
// the least recently checked first, and verifies the ones whose records are all there. The
// queue runs it periodically on one node (JobRecheckDomains, every DomainRecheckInterval). A
// domain that could not be checked (DNS or the database failed) is logged and left for the
// next pass; the pass fails only when it cannot list the domains.
func (c *Client) RecheckDomains(ctx context.Context) (DomainRecheck, error) {
	var r DomainRecheck
	since := c.now().Add(-c.domainCfg.RecheckWindow)
	pending, err := c.store.PendingDomains(ctx, since, recheckBatch)
	if err != nil {
		return r, AsError(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, recheckParallel)
	for _, d := range pending {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := c.checkDomain(ctx, d)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				c.log.WarnContext(ctx, "domain re-check not recorded", "domain_id", d.ID, "domain", d.Name, "error", err)
				return
			}
			r.Checked++
			if d.Status == DomainVerified {
				r.Verified++
				c.log.InfoContext(ctx, "domain verified", "domain_id", d.ID, "domain", d.Name)
			}
		})
	}
	wg.Wait()
	return r, nil
}
