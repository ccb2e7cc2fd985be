-- Idempotency keys: one row per (org, tenant, mode, route, key); tenant_id is '' for an
-- org-level key. token names the request that holds the row; state is locked (in flight)
-- or completed (status, headers and body are the response to replay). Rows older than 24 h
-- are deleted by a periodic job (created_at index).
CREATE TABLE idempotency_keys (
    org_id       text NOT NULL,
    tenant_id    text NOT NULL,
    mode         text NOT NULL,
    route        text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    token        text NOT NULL,
    state        text NOT NULL,
    locked_at    timestamptz NOT NULL,
    status       integer NOT NULL DEFAULT 0,
    headers      text,
    body         bytea,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (org_id, tenant_id, mode, route, key)
);
--bun:split
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
