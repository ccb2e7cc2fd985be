-- Idempotency keys: one row per (org, tenant, mode, route, key); tenant_id is '' for an
-- org-level key. token names the request that holds the row; state is locked (in flight)
-- or completed (status, headers and body are the response to replay). Rows older than 24 h
-- are deleted by a periodic job (created_at index).
CREATE TABLE idempotency_keys (
    org_id       TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    mode         TEXT NOT NULL,
    route        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    token        TEXT NOT NULL,
    state        TEXT NOT NULL,
    locked_at    TEXT NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    headers      TEXT,
    body         BLOB,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (org_id, tenant_id, mode, route, key)
) STRICT;
--bun:split
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
