-- Retention (sendoka/retention.go): when a message's content was purged, and the positions of
-- periodic scans. Purges walk the messages' primary key (ids sort by creation time), so no
-- index is added to the send path.
ALTER TABLE messages ADD COLUMN content_purged_at timestamptz;
--bun:split
CREATE TABLE scan_cursors (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL
);
