-- Platform mode: the tenants of an org. A deleted tenant keeps its row (deleted_at set) until
-- the purge job has deleted its data, then the row goes too; reads skip deleted tenants, and
-- a slug is unique among the org's tenants that are not deleted, so a deleted tenant's slug is
-- free at once. The data of a tenant (messages, templates, senders, pools, suppressions, API
-- keys) carries its id in tenant_id, as before.
CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    slug         TEXT NOT NULL,
    external_ref TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
) STRICT;
--bun:split
CREATE UNIQUE INDEX tenants_org_slug_key ON tenants (org_id, slug) WHERE deleted_at IS NULL;
--bun:split
CREATE INDEX tenants_org_created_idx ON tenants (org_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
--bun:split
-- Revoking and purging a tenant's keys.
CREATE INDEX api_keys_org_tenant_idx ON api_keys (org_id, tenant_id) WHERE tenant_id IS NOT NULL;
