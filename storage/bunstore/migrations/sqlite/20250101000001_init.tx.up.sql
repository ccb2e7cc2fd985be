-- Every table that platform mode scopes carries org_id and a nullable tenant_id. Times are
-- TEXT in one fixed-width UTC form (2006-01-02T15:04:05.000000Z), so that text order is time
-- order and round trips keep every microsecond. JSON is TEXT. Tables are STRICT so a value of
-- the wrong type fails loudly instead of being stored as something else.
CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    plan       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
) STRICT;
--bun:split
CREATE INDEX orgs_created_idx ON orgs (created_at, id);
--bun:split
CREATE TABLE api_keys (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL,
    tenant_id          TEXT,
    name               TEXT NOT NULL DEFAULT '',
    prefix             TEXT NOT NULL,
    hash               TEXT NOT NULL,
    mode               TEXT NOT NULL,
    permissions        TEXT,
    allowed_cidrs      TEXT,
    allowed_domain_ids TEXT,
    created_at         TEXT NOT NULL,
    expires_at         TEXT,
    revoked_at         TEXT,
    CONSTRAINT api_keys_hash_key UNIQUE (hash)
) STRICT;
--bun:split
CREATE INDEX api_keys_org_created_idx ON api_keys (org_id, created_at DESC, id DESC);
--bun:split
CREATE TABLE messages (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL,
    tenant_id           TEXT,
    key_id              TEXT,
    channel             TEXT NOT NULL,
    mode                TEXT NOT NULL,
    status              TEXT NOT NULL,
    sender              TEXT NOT NULL DEFAULT '',
    recipient           TEXT NOT NULL DEFAULT '',
    content             TEXT,
    tags                TEXT,
    metadata            TEXT,
    scheduled_at        TEXT,
    job_id              INTEGER NOT NULL DEFAULT 0,
    claimed_at          TEXT,
    provider            TEXT NOT NULL DEFAULT '',
    provider_message_id TEXT NOT NULL DEFAULT '',
    diagnostic          TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    sent_at             TEXT,
    completed_at        TEXT
) STRICT;
--bun:split
CREATE INDEX messages_org_channel_created_idx ON messages (org_id, channel, created_at DESC, id DESC);
--bun:split
CREATE INDEX messages_org_tenant_channel_created_idx ON messages (org_id, tenant_id, channel, created_at DESC, id DESC) WHERE tenant_id IS NOT NULL;
--bun:split
CREATE INDEX messages_org_channel_status_created_idx ON messages (org_id, channel, status, created_at DESC, id DESC);
--bun:split
CREATE INDEX messages_provider_message_id_idx ON messages (provider, provider_message_id) WHERE provider_message_id <> '';
--bun:split
CREATE TABLE message_tags (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    org_id     TEXT NOT NULL,
    tenant_id  TEXT,
    tag        TEXT NOT NULL,
    PRIMARY KEY (message_id, position)
) STRICT;
--bun:split
CREATE INDEX message_tags_message_tag_idx ON message_tags (message_id, tag);
--bun:split
CREATE INDEX message_tags_org_tag_idx ON message_tags (org_id, tag, message_id);
--bun:split
CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    tenant_id  TEXT,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT '',
    recipient  TEXT NOT NULL DEFAULT '',
    diagnostic TEXT,
    data       TEXT,
    created_at TEXT NOT NULL
) STRICT;
--bun:split
CREATE INDEX events_message_created_idx ON events (message_id, created_at, id);
--bun:split
CREATE INDEX events_org_created_idx ON events (org_id, created_at DESC, id DESC);
