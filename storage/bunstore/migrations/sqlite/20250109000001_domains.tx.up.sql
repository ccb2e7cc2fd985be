-- Sender domains. A name is unique in its namespace, the org (tenant_id NULL) or one tenant of
-- it: COALESCE(tenant_id, '') makes the org-level namespace one value, since NULLs never
-- collide in a unique index. dkim_private_key is the domain's own DKIM key (PKCS #8 PEM),
-- empty when the email provider signs (provider set); records is the JSON list of DNS records
-- to publish, each with what the last check found.
CREATE TABLE domains (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    tenant_id        TEXT,
    name             TEXT NOT NULL,
    status           TEXT NOT NULL,
    provider         TEXT NOT NULL DEFAULT '',
    dkim_selector    TEXT NOT NULL DEFAULT '',
    dkim_private_key TEXT NOT NULL DEFAULT '',
    records          TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    verified_at      TEXT,
    checked_at       TEXT
) STRICT;
--bun:split
CREATE UNIQUE INDEX domains_namespace_name_key ON domains (org_id, COALESCE(tenant_id, ''), name);
--bun:split
CREATE INDEX domains_org_created_idx ON domains (org_id, created_at DESC, id DESC);
--bun:split
-- The periodic re-check reads the recent pending domains.
CREATE INDEX domains_pending_idx ON domains (created_at) WHERE status = 'pending';
