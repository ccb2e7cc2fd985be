-- Dashboard users and their tokens. A token is a session (the browser's cookie) or a one-time
-- sign-in link; only its SHA-256 is stored. ended_at is set when a session is signed out or
-- revoked, or a link used: reads check it on every request, so that takes effect at once.
CREATE TABLE dashboard_users (
    id            text PRIMARY KEY,
    org_id        text NOT NULL,
    tenant_id     text NOT NULL DEFAULT '',
    email         text NOT NULL,
    role          text NOT NULL,
    password_hash text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
--bun:split
CREATE UNIQUE INDEX dashboard_users_email_key ON dashboard_users (email);
--bun:split
CREATE INDEX dashboard_users_org_idx ON dashboard_users (org_id, created_at);
--bun:split
CREATE TABLE dashboard_tokens (
    hash       text PRIMARY KEY,
    user_id    text NOT NULL,
    org_id     text NOT NULL,
    kind       text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz
);
--bun:split
CREATE INDEX dashboard_tokens_user_idx ON dashboard_tokens (user_id);
