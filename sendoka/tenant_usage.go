package sendoka

import "context"

// TenantUsage counts a tenant's stored messages in one mode, per channel and status.
type TenantUsage struct {
	TenantID string
	// Mode is the caller's: a live key counts live messages, a test key test messages.
	Mode  Mode
	Email ChannelUsage
	SMS   ChannelUsage
}

// ChannelUsage counts one channel's messages: Total, and ByStatus with every status present
// (0 for none).
type ChannelUsage struct {
	Total    int
	ByStatus map[Status]int
}

// usagePermissions may read a tenant's usage.
var usagePermissions = []Permission{PermissionUsageRead, PermissionTenantsRead, PermissionTenantsWrite}

// GetTenantUsage counts the messages of a tenant of the principal's org, in the principal's
// mode, by channel and status. A tenant-bound principal reads its own tenant's usage only:
// any other id is CodeNotFound, as is a deleted tenant. It takes usage:read or tenants:read.
//
// Messages are counted as stored: a tenant's data is kept until the tenant is deleted.
func (c *Client) GetTenantUsage(ctx context.Context, p *Principal, id string) (*TenantUsage, error) {
	if err := p.require(usagePermissions...); err != nil {
		return nil, err
	}
	t, err := c.getTenant(ctx, p.Scope(), id)
	if err != nil {
		return nil, err
	}
	counts, err := c.store.CountMessages(ctx, Scope{OrgID: t.OrgID, TenantID: t.ID}, p.Mode)
	if err != nil {
		return nil, AsError(err)
	}
	u := &TenantUsage{TenantID: t.ID, Mode: p.Mode, Email: newChannelUsage(), SMS: newChannelUsage()}
	for _, n := range counts {
		var cu *ChannelUsage
		switch n.Channel {
		case ChannelEmail:
			cu = &u.Email
		case ChannelSMS:
			cu = &u.SMS
		default:
			continue
		}
		cu.Total += n.Count
		cu.ByStatus[n.Status] += n.Count
	}
	return u, nil
}

func newChannelUsage() ChannelUsage {
	u := ChannelUsage{ByStatus: make(map[Status]int, len(Statuses))}
	for _, s := range Statuses {
		u.ByStatus[s] = 0
	}
	return u
}
