-- When each API key last authenticated a request. The API writes it at most once a minute per
-- key, with a conditional UPDATE, so several nodes together write it about once a minute.
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
