-- Webhook endpoints: each in the namespace of its org (tenant_id NULL) or of one tenant.
-- Secrets are kept as they are: every delivery is signed with them.
CREATE TABLE webhook_endpoints (
    id                         text PRIMARY KEY,
    org_id                     text NOT NULL,
    tenant_id                  text,
    url                        text NOT NULL,
    description                text NOT NULL DEFAULT '',
    events                     text,
    filter_tags                text,
    enabled                    boolean NOT NULL DEFAULT true,
    disabled_reason            text NOT NULL DEFAULT '',
    secret                     text NOT NULL,
    previous_secret            text NOT NULL DEFAULT '',
    previous_secret_expires_at timestamptz,
    failing_since              timestamptz,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL
);
--bun:split
CREATE INDEX webhook_endpoints_namespace_created_idx ON webhook_endpoints (org_id, (COALESCE(tenant_id, '')), created_at DESC, id DESC);
--bun:split
-- Deliveries: one event on its way to one endpoint. payload is text, not jsonb, so the bytes
-- signed at the first attempt are the bytes every retry sends; attempts is a JSON list.
CREATE TABLE webhook_deliveries (
    id            text PRIMARY KEY,
    org_id        text NOT NULL,
    tenant_id     text,
    endpoint_id   text NOT NULL,
    event_id      text,
    event_type    text NOT NULL,
    message_id    text,
    payload       text,
    status        text NOT NULL,
    attempts      text,
    next_retry_at timestamptz,
    replay_of     text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
--bun:split
CREATE INDEX webhook_deliveries_endpoint_created_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX webhook_deliveries_endpoint_status_idx ON webhook_deliveries (endpoint_id, status, created_at);
