-- Suppressions managed through the API, and provider events in.
--
-- A suppression may expire (expires_at) and records the key that added it by hand
-- (created_by). Lifting one moves it to suppression_history with who lifted it and when, so
-- the live table keeps its one-row-per-address unique index and the send path's lookup stays
-- one index probe.
ALTER TABLE suppressions ADD COLUMN expires_at timestamptz;
--bun:split
ALTER TABLE suppressions ADD COLUMN created_by text NOT NULL DEFAULT '';
--bun:split
CREATE INDEX suppressions_namespace_created_idx ON suppressions (org_id, COALESCE(tenant_id, ''), created_at DESC, id DESC);
--bun:split
CREATE TABLE suppression_history (
    id         text PRIMARY KEY,
    org_id     text NOT NULL,
    tenant_id  text,
    channel    text NOT NULL,
    address    text NOT NULL,
    reason     text NOT NULL,
    message_id text NOT NULL DEFAULT '',
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    removed_at timestamptz NOT NULL,
    removed_by text NOT NULL DEFAULT ''
);
--bun:split
CREATE INDEX suppression_history_address_idx ON suppression_history (org_id, COALESCE(tenant_id, ''), channel, address, removed_at DESC);
--bun:split
-- Provider events name a message by the provider's id alone (an SES notification does not
-- say which of our providers sent it).
CREATE INDEX messages_provider_id_only_idx ON messages (provider_message_id) WHERE provider_message_id <> '';
--bun:split
-- The outcome of each recipient of a message, as its provider reported it.
CREATE TABLE message_recipients (
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    address    text NOT NULL,
    status     text NOT NULL,
    diagnostic jsonb,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (message_id, address)
);
--bun:split
-- Provider notifications already applied (SNS delivers at least once): the key is the
-- notification's own id, prefixed with its source.
CREATE TABLE provider_notifications (
    id          text PRIMARY KEY,
    received_at timestamptz NOT NULL
);
--bun:split
CREATE INDEX provider_notifications_received_idx ON provider_notifications (received_at);
