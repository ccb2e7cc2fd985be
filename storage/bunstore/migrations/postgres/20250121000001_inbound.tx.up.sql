-- Inbound routes (sendoka/inbound_route.go): an address, or *@domain, whose mail becomes
-- inbound emails of the route's namespace (its org, or one tenant). A match is unique across
-- the installation: one address has one owner.
CREATE TABLE inbound_routes (
    id              text PRIMARY KEY,
    org_id          text NOT NULL,
    tenant_id       text,
    match           text NOT NULL,
    forward_webhook boolean NOT NULL,
    created_at      timestamptz NOT NULL
);
--bun:split
CREATE UNIQUE INDEX inbound_routes_match_idx ON inbound_routes (match);
--bun:split
CREATE INDEX inbound_routes_namespace_created_idx ON inbound_routes (org_id, COALESCE(tenant_id, ''), created_at DESC, id DESC);
--bun:split
-- Inbound emails (sendoka/inbound_email.go): one message received for one route, with its
-- parsed parts; headers and the attachments' descriptions are JSON lists, the attachments'
-- contents are rows of inbound_attachments.
CREATE TABLE inbound_emails (
    id           text PRIMARY KEY,
    org_id       text NOT NULL,
    tenant_id    text,
    route_id     text NOT NULL,
    mail_from    text NOT NULL,
    rcpt_to      text NOT NULL,
    from_header  text NOT NULL,
    to_header    text NOT NULL,
    cc_header    text NOT NULL,
    subject      text NOT NULL,
    message_id   text NOT NULL,
    in_reply_to  text NOT NULL,
    text_body    text NOT NULL,
    html_body    text NOT NULL,
    headers      text NOT NULL,
    attachments  text NOT NULL,
    size         bigint NOT NULL,
    created_at   timestamptz NOT NULL
);
--bun:split
CREATE INDEX inbound_emails_namespace_created_idx ON inbound_emails (org_id, COALESCE(tenant_id, ''), created_at DESC, id DESC);
--bun:split
CREATE TABLE inbound_attachments (
    email_id text NOT NULL REFERENCES inbound_emails (id) ON DELETE CASCADE,
    position integer NOT NULL,
    content  bytea NOT NULL,
    PRIMARY KEY (email_id, position)
);
