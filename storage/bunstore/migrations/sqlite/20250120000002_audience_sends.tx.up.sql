-- Streams: broadcast for the messages of audience sends, NULL (transactional) otherwise.
ALTER TABLE messages ADD COLUMN stream TEXT;
--bun:split
-- Audience sends (sendoka/audience_send.go): the call's request, the counts it answered, and
-- where the fan-out job is (fanout_cursor: the last contact id it turned into a message).
CREATE TABLE audience_sends (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL,
    tenant_id            TEXT,
    audience_id          TEXT NOT NULL,
    key_id               TEXT,
    mode                 TEXT NOT NULL,
    channel              TEXT NOT NULL,
    request              TEXT NOT NULL,
    recipients           INTEGER NOT NULL,
    skipped_suppressed   INTEGER NOT NULL,
    skipped_unsubscribed INTEGER NOT NULL,
    processed            INTEGER NOT NULL DEFAULT 0,
    refused              INTEGER NOT NULL DEFAULT 0,
    fanout_cursor        TEXT NOT NULL DEFAULT '',
    created_at           TEXT NOT NULL,
    finished_at          TEXT
) STRICT;
--bun:split
CREATE INDEX audience_sends_audience_created_idx ON audience_sends (audience_id, created_at DESC, id DESC);
--bun:split
-- The recipients a send counted when it was made; each gets at most one message (message_id),
-- or the reason it got none (error).
CREATE TABLE audience_send_recipients (
    send_id    TEXT NOT NULL REFERENCES audience_sends (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL,
    address    TEXT NOT NULL,
    message_id TEXT,
    error      TEXT,
    PRIMARY KEY (send_id, contact_id)
) STRICT;
