-- Webhook endpoints: each in the namespace of its org (tenant_id NULL) or of one tenant.
-- Secrets are kept as they are: every delivery is signed with them.
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY,
    org_id                     TEXT NOT NULL,
    tenant_id                  TEXT,
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL DEFAULT '',
    events                     TEXT,
    filter_tags                TEXT,
    enabled                    INTEGER NOT NULL DEFAULT 1,
    disabled_reason            TEXT NOT NULL DEFAULT '',
    secret                     TEXT NOT NULL,
    previous_secret            TEXT NOT NULL DEFAULT '',
    previous_secret_expires_at TEXT,
    failing_since              TEXT,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
) STRICT;
--bun:split
CREATE INDEX webhook_endpoints_namespace_created_idx ON webhook_endpoints (org_id, COALESCE(tenant_id, ''), created_at DESC, id DESC);
--bun:split
-- Deliveries: one event on its way to one endpoint. payload is TEXT, not jsonb, so the bytes
-- signed at the first attempt are the bytes every retry sends; attempts is a JSON list.
CREATE TABLE webhook_deliveries (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    tenant_id     TEXT,
    endpoint_id   TEXT NOT NULL,
    event_id      TEXT,
    event_type    TEXT NOT NULL,
    message_id    TEXT,
    payload       TEXT,
    status        TEXT NOT NULL,
    attempts      TEXT,
    next_retry_at TEXT,
    replay_of     TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;
--bun:split
CREATE INDEX webhook_deliveries_endpoint_created_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX webhook_deliveries_endpoint_status_idx ON webhook_deliveries (endpoint_id, status, created_at);
