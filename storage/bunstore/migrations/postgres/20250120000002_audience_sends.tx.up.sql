-- Streams: broadcast for the messages of audience sends, NULL (transactional) otherwise.
ALTER TABLE messages ADD COLUMN stream text;
--bun:split
-- Audience sends (sendoka/audience_send.go): the call's request, the counts it answered, and
-- where the fan-out job is (fanout_cursor: the last contact id it turned into a message).
CREATE TABLE audience_sends (
    id                   text PRIMARY KEY,
    org_id               text NOT NULL,
    tenant_id            text,
    audience_id          text NOT NULL,
    key_id               text,
    mode                 text NOT NULL,
    channel              text NOT NULL,
    request              jsonb NOT NULL,
    recipients           integer NOT NULL,
    skipped_suppressed   integer NOT NULL,
    skipped_unsubscribed integer NOT NULL,
    processed            integer NOT NULL DEFAULT 0,
    refused              integer NOT NULL DEFAULT 0,
    fanout_cursor        text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL,
    finished_at          timestamptz
);
--bun:split
CREATE INDEX audience_sends_audience_created_idx ON audience_sends (audience_id, created_at DESC, id DESC);
--bun:split
-- The recipients a send counted when it was made; each gets at most one message (message_id),
-- or the reason it got none (error).
CREATE TABLE audience_send_recipients (
    send_id    text NOT NULL REFERENCES audience_sends (id) ON DELETE CASCADE,
    contact_id text NOT NULL,
    address    text NOT NULL,
    message_id text,
    error      text,
    PRIMARY KEY (send_id, contact_id)
);
