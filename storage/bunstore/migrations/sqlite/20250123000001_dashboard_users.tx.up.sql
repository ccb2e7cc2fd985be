-- Dashboard users and their tokens. A token is a session (the browser's cookie) or a one-time
-- sign-in link; only its SHA-256 is stored. ended_at is set when a session is signed out or
-- revoked, or a link used: reads check it on every request, so that takes effect at once.
CREATE TABLE dashboard_users (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    tenant_id     TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;
--bun:split
CREATE UNIQUE INDEX dashboard_users_email_key ON dashboard_users (email);
--bun:split
CREATE INDEX dashboard_users_org_idx ON dashboard_users (org_id, created_at);
--bun:split
CREATE TABLE dashboard_tokens (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at   TEXT
) STRICT;
--bun:split
CREATE INDEX dashboard_tokens_user_idx ON dashboard_tokens (user_id);
