-- Suppressions managed through the API, and provider events in.
--
-- A suppression may expire (expires_at) and records the key that added it by hand
-- (created_by). Lifting one moves it to suppression_history with who lifted it and when, so
-- the live table keeps its one-row-per-address unique index and the send path's lookup stays
-- one index probe.
ALTER TABLE suppressions ADD COLUMN expires_at TEXT;
--bun:split
ALTER TABLE suppressions ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
--bun:split
CREATE INDEX suppressions_namespace_created_idx ON suppressions (org_id, COALESCE(tenant_id, ''), created_at DESC, id DESC);
--bun:split
CREATE TABLE suppression_history (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    tenant_id  TEXT,
    channel    TEXT NOT NULL,
    address    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT,
    removed_at TEXT NOT NULL,
    removed_by TEXT NOT NULL DEFAULT ''
) STRICT;
--bun:split
CREATE INDEX suppression_history_address_idx ON suppression_history (org_id, COALESCE(tenant_id, ''), channel, address, removed_at DESC);
--bun:split
-- Provider events name a message by the provider's id alone (an SES notification does not
-- say which of our providers sent it).
CREATE INDEX messages_provider_id_only_idx ON messages (provider_message_id) WHERE provider_message_id <> '';
--bun:split
-- The outcome of each recipient of a message, as its provider reported it.
CREATE TABLE message_recipients (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    address    TEXT NOT NULL,
    status     TEXT NOT NULL,
    diagnostic TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (message_id, address)
) STRICT;
--bun:split
-- Provider notifications already applied (SNS delivers at least once): the key is the
-- notification's own id, prefixed with its source.
CREATE TABLE provider_notifications (
    id          TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
) STRICT;
--bun:split
CREATE INDEX provider_notifications_received_idx ON provider_notifications (received_at);
