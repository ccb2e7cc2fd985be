-- Postgres replaces its created_at B-tree on idempotency_keys with a BRIN index here.
-- SQLite has no BRIN: its B-tree stays. The migration exists on both dialects so their
-- lists stay the same.
SELECT 1;
