-- Email: attachment contents (their descriptions stay in messages.content), the links click
-- tracking rewrote, and instance secrets (the tracking signing secret, generated on first use).
-- Attachment bytes live apart so that reading or listing messages never loads them.
CREATE TABLE message_attachments (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    content    BLOB NOT NULL,
    PRIMARY KEY (message_id, position)
) STRICT;
--bun:split
CREATE TABLE message_links (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    url        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (message_id, position)
) STRICT;
--bun:split
CREATE TABLE instance_secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
