-- SMS senders, pools and the suppression list (both channels). Like templates, uniqueness is
-- per namespace, the org (tenant_id NULL) or one tenant of it: COALESCE(tenant_id, '') makes
-- the org-level namespace one value, since NULLs never collide in a unique index.
CREATE TABLE phone_numbers (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    tenant_id   TEXT,
    kind        TEXT NOT NULL,
    address     TEXT NOT NULL,
    iso_country TEXT NOT NULL,
    status      TEXT NOT NULL,
    provider    TEXT NOT NULL DEFAULT '',
    diagnostic  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
--bun:split
CREATE UNIQUE INDEX phone_numbers_namespace_address_key ON phone_numbers (org_id, COALESCE(tenant_id, ''), address, iso_country);
--bun:split
CREATE INDEX phone_numbers_org_created_idx ON phone_numbers (org_id, created_at DESC, id DESC);
--bun:split
-- Inbound messages name only the number they were sent to.
CREATE INDEX phone_numbers_address_idx ON phone_numbers (address);
--bun:split
CREATE TABLE phone_pools (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    tenant_id  TEXT,
    name       TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
--bun:split
-- One default pool per namespace.
CREATE UNIQUE INDEX phone_pools_namespace_default_key ON phone_pools (org_id, COALESCE(tenant_id, '')) WHERE is_default <> 0;
--bun:split
CREATE INDEX phone_pools_org_created_idx ON phone_pools (org_id, created_at DESC, id DESC);
--bun:split
CREATE TABLE phone_pool_members (
    pool_id         TEXT NOT NULL REFERENCES phone_pools (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    phone_number_id TEXT NOT NULL REFERENCES phone_numbers (id) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, position),
    CONSTRAINT phone_pool_members_number_key UNIQUE (pool_id, phone_number_id)
) STRICT;
--bun:split
CREATE INDEX phone_pool_members_number_idx ON phone_pool_members (phone_number_id);
--bun:split
CREATE TABLE suppressions (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    tenant_id  TEXT,
    channel    TEXT NOT NULL,
    address    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
) STRICT;
--bun:split
CREATE UNIQUE INDEX suppressions_namespace_address_key ON suppressions (org_id, COALESCE(tenant_id, ''), channel, address);
