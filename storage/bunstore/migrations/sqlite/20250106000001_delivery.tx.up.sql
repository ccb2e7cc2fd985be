-- Delivery that never sends twice: a claim carries a short lease its attempt renews, each
-- attempt is recorded on the message, the next retry time is visible, and a hand-off cut
-- short is recorded as sent with outcome 'unknown'.
ALTER TABLE messages ADD COLUMN lease_until TEXT;
--bun:split
ALTER TABLE messages ADD COLUMN next_retry_at TEXT;
--bun:split
ALTER TABLE messages ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE messages ADD COLUMN delivery_attempts TEXT;
--bun:split
-- Recovery looks for lapsed claims; only claimed messages in flight are indexed.
CREATE INDEX messages_lapsed_claims_idx ON messages (lease_until)
    WHERE claimed_at IS NOT NULL AND status IN ('queued', 'scheduled');
