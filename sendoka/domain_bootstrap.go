package sendoka

import "context"

// bootstrapDomains makes every domain of Config.VerifiedDomains a verified org-level domain
// of org: a missing one is added, with a key of Sendoka's, as verified without a DNS check;
// a pending one is marked verified; a verified one is left alone, so a restart changes
// nothing. Such a domain is not signed with Sendoka's key until a check (VerifyDomain) has
// seen its DKIM record: until then receivers could not verify the signature.
func (c *Client) bootstrapDomains(ctx context.Context, org *Org) error {
	if len(c.bootDomains) == 0 {
		return nil
	}
	existing, err := c.store.NamespaceDomains(ctx, org.ID, "")
	if err != nil {
		return AsError(err)
	}
	byName := map[string]*Domain{}
	for _, d := range existing {
		byName[d.Name] = d
	}
	for _, name := range c.bootDomains {
		now := c.now()
		d := byName[name]
		switch {
		case d == nil:
			d = &Domain{ID: NewID(PrefixDomain, now), OrgID: org.ID, Name: name, Status: DomainVerified,
				Records: c.domainCfg.otherRecords(name), CreatedAt: now, UpdatedAt: now, VerifiedAt: &now}
			if err := d.addOwnKey(); err != nil {
				return Internal(err)
			}
			err = c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertDomain(ctx, d) })
			if ErrorCode(err) == CodeConflict {
				err = nil // another node bootstrapped it at the same moment
			}
		case d.Status != DomainVerified:
			d.Status, d.VerifiedAt, d.UpdatedAt = DomainVerified, &now, now
			err = c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.UpdateDomainCheck(ctx, d) })
		default:
			continue
		}
		if err != nil {
			return err
		}
		byName[name] = d
	}
	c.domains.forget(org.ID, "")
	return nil
}
