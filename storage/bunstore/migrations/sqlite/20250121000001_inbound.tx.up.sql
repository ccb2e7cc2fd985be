-- Inbound routes (sendoka/inbound_route.go): an address, or *@domain, whose mail becomes
-- inbound emails of the route's namespace (its org, or one tenant). A match is unique across
-- the installation: one address has one owner.
CREATE TABLE inbound_routes (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    tenant_id       TEXT,
    match           TEXT NOT NULL,
    forward_webhook INTEGER NOT NULL,
    created_at      TEXT NOT NULL
) STRICT;
--bun:split
CREATE UNIQUE INDEX inbound_routes_match_idx ON inbound_routes (match);
--bun:split
CREATE INDEX inbound_routes_namespace_created_idx ON inbound_routes (org_id, COALESCE(tenant_id, ''), created_at DESC, id DESC);
--bun:split
-- Inbound emails (sendoka/inbound_email.go): one message received for one route, with its
-- parsed parts; headers and the attachments' descriptions are JSON lists, the attachments'
-- contents are rows of inbound_attachments.
CREATE TABLE inbound_emails (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    tenant_id    TEXT,
    route_id     TEXT NOT NULL,
    mail_from    TEXT NOT NULL,
    rcpt_to      TEXT NOT NULL,
    from_header  TEXT NOT NULL,
    to_header    TEXT NOT NULL,
    cc_header    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    in_reply_to  TEXT NOT NULL,
    text_body    TEXT NOT NULL,
    html_body    TEXT NOT NULL,
    headers      TEXT NOT NULL,
    attachments  TEXT NOT NULL,
    size         INTEGER NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;
--bun:split
CREATE INDEX inbound_emails_namespace_created_idx ON inbound_emails (org_id, COALESCE(tenant_id, ''), created_at DESC, id DESC);
--bun:split
CREATE TABLE inbound_attachments (
    email_id TEXT NOT NULL REFERENCES inbound_emails (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    content  BLOB NOT NULL,
    PRIMARY KEY (email_id, position)
) STRICT;
