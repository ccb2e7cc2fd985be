-- Sender domains. A name is unique in its namespace, the org (tenant_id NULL) or one tenant of
-- it: COALESCE(tenant_id, '') makes the org-level namespace one value, since NULLs never
-- collide in a unique index. dkim_private_key is the domain's own DKIM key (PKCS #8 PEM),
-- empty when the email provider signs (provider set); records is the JSON list of DNS records
-- to publish, each with what the last check found.
CREATE TABLE domains (
    id               text PRIMARY KEY,
    org_id           text NOT NULL,
    tenant_id        text,
    name             text NOT NULL,
    status           text NOT NULL,
    provider         text NOT NULL DEFAULT '',
    dkim_selector    text NOT NULL DEFAULT '',
    dkim_private_key text NOT NULL DEFAULT '',
    records          jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    verified_at      timestamptz,
    checked_at       timestamptz
);
--bun:split
CREATE UNIQUE INDEX domains_namespace_name_key ON domains (org_id, (COALESCE(tenant_id, '')), name);
--bun:split
CREATE INDEX domains_org_created_idx ON domains (org_id, created_at DESC, id DESC);
--bun:split
-- The periodic re-check reads the recent pending domains.
CREATE INDEX domains_pending_idx ON domains (created_at) WHERE status = 'pending';
