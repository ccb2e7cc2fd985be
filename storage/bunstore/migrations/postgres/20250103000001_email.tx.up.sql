-- Email: attachment contents (their descriptions stay in messages.content), the links click
-- tracking rewrote, and instance secrets (the tracking signing secret, generated on first use).
-- Attachment bytes live apart so that reading or listing messages never loads them.
CREATE TABLE message_attachments (
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    content    bytea NOT NULL,
    PRIMARY KEY (message_id, position)
);
--bun:split
CREATE TABLE message_links (
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    url        text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (message_id, position)
);
--bun:split
CREATE TABLE instance_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL
);
