-- Every table that platform mode scopes carries org_id and a nullable tenant_id. Times are
-- timestamptz (microsecond precision). List queries page on (created_at, id) with keysets,
-- hence the descending composite indexes.
CREATE TABLE orgs (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    plan       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);
--bun:split
CREATE INDEX orgs_created_idx ON orgs (created_at, id);
--bun:split
CREATE TABLE api_keys (
    id                 text PRIMARY KEY,
    org_id             text NOT NULL,
    tenant_id          text,
    name               text NOT NULL DEFAULT '',
    prefix             text NOT NULL,
    hash               text NOT NULL,
    mode               text NOT NULL,
    permissions        jsonb,
    allowed_cidrs      jsonb,
    allowed_domain_ids jsonb,
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz,
    revoked_at         timestamptz,
    CONSTRAINT api_keys_hash_key UNIQUE (hash)
);
--bun:split
CREATE INDEX api_keys_org_created_idx ON api_keys (org_id, created_at DESC, id DESC);
--bun:split
CREATE TABLE messages (
    id                  text PRIMARY KEY,
    org_id              text NOT NULL,
    tenant_id           text,
    key_id              text,
    channel             text NOT NULL,
    mode                text NOT NULL,
    status              text NOT NULL,
    sender              text NOT NULL DEFAULT '',
    recipient           text NOT NULL DEFAULT '',
    content             jsonb,
    tags                jsonb,
    metadata            jsonb,
    scheduled_at        timestamptz,
    job_id              bigint NOT NULL DEFAULT 0,
    claimed_at          timestamptz,
    provider            text NOT NULL DEFAULT '',
    provider_message_id text NOT NULL DEFAULT '',
    diagnostic          jsonb,
    attempts            integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    sent_at             timestamptz,
    completed_at        timestamptz
);
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
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    org_id     text NOT NULL,
    tenant_id  text,
    tag        text NOT NULL,
    PRIMARY KEY (message_id, position)
);
--bun:split
CREATE INDEX message_tags_message_tag_idx ON message_tags (message_id, tag);
--bun:split
CREATE INDEX message_tags_org_tag_idx ON message_tags (org_id, tag, message_id);
--bun:split
CREATE TABLE events (
    id         text PRIMARY KEY,
    org_id     text NOT NULL,
    tenant_id  text,
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    type       text NOT NULL,
    status     text NOT NULL DEFAULT '',
    recipient  text NOT NULL DEFAULT '',
    diagnostic jsonb,
    data       jsonb,
    created_at timestamptz NOT NULL
);
--bun:split
CREATE INDEX events_message_created_idx ON events (message_id, created_at, id);
--bun:split
CREATE INDEX events_org_created_idx ON events (org_id, created_at DESC, id DESC);
