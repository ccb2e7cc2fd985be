-- Test and live data are apart: every listing of messages names its mode, so the mode leads
-- the listing indexes (after the org), replacing the indexes without it.
DROP INDEX messages_org_channel_created_idx;
--bun:split
DROP INDEX messages_org_tenant_channel_created_idx;
--bun:split
DROP INDEX messages_org_channel_status_created_idx;
--bun:split
CREATE INDEX messages_org_mode_channel_created_idx ON messages (org_id, mode, channel, created_at DESC, id DESC);
--bun:split
CREATE INDEX messages_org_tenant_mode_channel_created_idx ON messages (org_id, tenant_id, mode, channel, created_at DESC, id DESC) WHERE tenant_id IS NOT NULL;
--bun:split
CREATE INDEX messages_org_mode_channel_status_created_idx ON messages (org_id, mode, channel, status, created_at DESC, id DESC);
