package sendoka

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// TenantPurgeDelay is how long after a tenant's deletion its data starts to be deleted. By
// then no process accepts anything for the tenant: its keys are refused within
// RevocationDelay, ForTenant trusts a lookup for TenantCacheTTL, and a request's database
// work is bounded by a few seconds (httpapi's DatabaseTimeout); a message accepted in that
// window is still found by the purge.
const TenantPurgeDelay = 5 * time.Second

// Bounds of the work of deleting a tenant.
const (
	// tenantPurgeChunk is the most rows one transaction of the purge deletes.
	tenantPurgeChunk = 500
	// tenantCancelChunk is how many scheduled messages DeleteTenant reads at a time.
	tenantCancelChunk = 500
	// tenantPurgeRetry is when a purge that found messages being handed to a provider runs
	// again: their hand-off ends (or its claim lapses and recovery settles it) by then.
	tenantPurgeRetry = 10 * time.Second
)

// DeleteTenant deletes a tenant of the principal's org. It takes a platform-root key with
// tenants:write (a tenant-bound key is CodeTenantForbidden); an id unknown in the org, or a
// tenant already deleted, is CodeNotFound.
//
// In one transaction it marks the tenant deleted (no read finds it any more, and its slug is
// free again), revokes every API key of the tenant, cancels its scheduled messages (each
// becomes canceled with a message.canceled event, and its job is removed, as CancelMessage
// does; one that is being handed to its provider right now goes out), and enqueues a
// JobPurgeTenant job on the maintenance queue. The tenant's keys are refused by this Client
// at once, and by every process that shares the store within RevocationDelay. Messages
// already queued for delivery still go out.
//
// The job runs TenantPurgeDelay later and deletes the tenant's data in transactions of at
// most a few hundred rows (PurgeTenant): messages with their events, tags, attachments and
// tracked links, then templates, senders, pools, suppressions, webhook endpoints with their
// delivery log, and API keys, and the tenant row last.
func (c *Client) DeleteTenant(ctx context.Context, p *Principal, id string) error {
	if err := requireTenantWrite(p); err != nil {
		return err
	}
	if !plausibleID(id) {
		return NotFound("tenant")
	}
	now := c.now()
	payload, err := json.Marshal(purgeTenantArgs{OrgID: p.OrgID})
	if err != nil {
		return Internal(err)
	}
	var hashes []string
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		hashes = nil
		if err := tx.MarkTenantDeleted(ctx, p.OrgID, id, now); err != nil {
			return err
		}
		var err error
		if hashes, err = tx.RevokeTenantAPIKeys(ctx, p.OrgID, id, now); err != nil {
			return err
		}
		if err := c.cancelTenantScheduled(ctx, tx, p.OrgID, id, now); err != nil {
			return err
		}
		_, err = c.queue.Enqueue(ctx, tx, Job{Kind: JobPurgeTenant, SubjectID: id, Payload: payload, RunAt: now.Add(TenantPurgeDelay)})
		return err
	})
	// Even after an error: the deletion may have committed unseen.
	c.tenants.forget(p.OrgID, id)
	for _, h := range hashes {
		c.keys.forgetHash(h)
	}
	return err
}

// cancelTenantScheduled cancels every scheduled message of the tenant that no delivery
// attempt holds, in tx, as CancelMessage cancels one.
func (c *Client) cancelTenantScheduled(ctx context.Context, tx Tx, orgID, tenantID string, now time.Time) error {
	seen := map[string]bool{}
	for {
		msgs, err := tx.ScheduledTenantMessages(ctx, orgID, tenantID, tenantCancelChunk)
		if err != nil || len(msgs) == 0 {
			return err
		}
		for _, m := range msgs {
			// Every message read ends canceled, claimed or no longer scheduled, so no read
			// returns it again; one that comes back would loop for ever.
			if seen[m.ID] {
				return Internal(fmt.Errorf("sendoka: the store returned scheduled message %s again after it was canceled", m.ID))
			}
			seen[m.ID] = true
			// The claim keeps a firing job out, as claimScheduled's does.
			ok, err := tx.ClaimMessage(ctx, m.ID, now, now.Add(c.delivery.ClaimLease), StatusScheduled)
			if err != nil {
				return err
			}
			if !ok {
				continue // a delivery attempt took it first: it goes out
			}
			m.ClaimedAt = &now
			if _, err := c.cancelClaimed(ctx, tx, m, now); err != nil {
				return err
			}
		}
	}
}

// purgeTenantArgs is the payload of a JobPurgeTenant job; its subject is the tenant id.
type purgeTenantArgs struct {
	OrgID string `json:"org_id"`
}

// PurgeTenant deletes the data of a deleted tenant of orgID: the work of the JobPurgeTenant
// job that DeleteTenant enqueues, callable directly. It deletes in transactions of at most a
// few hundred rows, in the order TenantTx.DeleteTenantData gives, and removes the tenant row
// last. Messages being handed to a provider are left until their hand-off ends: the call then
// returns CodeConflict with a Retry hint (the queue snoozes the job), and the next call
// finishes. A tenant that is not deleted is never touched; once the row is gone, a call does
// nothing and returns nil.
func (c *Client) PurgeTenant(ctx context.Context, orgID, tenantID string) error {
	if _, err := c.store.GetTenant(ctx, Scope{OrgID: orgID}, tenantID); err == nil {
		c.log.WarnContext(ctx, "purge of a tenant that is not deleted: nothing done", "org_id", orgID, "tenant_id", tenantID)
		return nil
	} else if ErrorCode(err) != CodeNotFound {
		return AsError(err)
	}
	for {
		var deleted int
		var removed bool
		err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
			var err error
			if deleted, err = tx.DeleteTenantData(ctx, orgID, tenantID, tenantPurgeChunk); err != nil || deleted > 0 {
				return err
			}
			removed, err = tx.RemoveTenant(ctx, orgID, tenantID)
			return err
		})
		switch {
		case err != nil:
			return err
		case deleted > 0:
			continue
		case removed:
			c.log.InfoContext(ctx, "tenant purged", "org_id", orgID, "tenant_id", tenantID)
			return nil
		}
		// Nothing left to delete but the row stays: messages are mid-hand-off, or the row
		// is gone already.
		left, err := c.tenantMessagesLeft(ctx, orgID, tenantID)
		if err != nil {
			return err
		}
		if !left {
			return nil // already purged
		}
		return &Error{Code: CodeConflict, Message: "messages of the tenant are being handed to a provider; the purge resumes later", Retry: tenantPurgeRetry}
	}
}

// tenantMessagesLeft reports whether any message of the tenant, in either mode, is stored.
func (c *Client) tenantMessagesLeft(ctx context.Context, orgID, tenantID string) (bool, error) {
	for _, mode := range []Mode{ModeLive, ModeTest} {
		counts, err := c.store.CountMessages(ctx, Scope{OrgID: orgID, TenantID: tenantID}, mode)
		if err != nil {
			return false, AsError(err)
		}
		if len(counts) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// runPurgeTenant runs a JobPurgeTenant job.
func (c *Client) runPurgeTenant(ctx context.Context, j Job, run JobRun) error {
	var args purgeTenantArgs
	if err := json.Unmarshal(j.Payload, &args); err != nil || args.OrgID == "" || j.SubjectID == "" {
		return Errorf(CodeValidation, "purge_tenant job %d: bad payload %q", run.ID, j.Payload)
	}
	return c.PurgeTenant(ctx, args.OrgID, j.SubjectID)
}
