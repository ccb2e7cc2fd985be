-- Idempotency records are written in created_at order and deleted by age only (the
-- retention job's range delete): a BRIN index serves that delete at almost no cost per
-- insert, where the B-tree it replaces cost one more index entry on every keyed send.
DROP INDEX IF EXISTS idempotency_keys_created_idx;
--bun:split
CREATE INDEX idempotency_keys_created_brin ON idempotency_keys USING brin (created_at);
