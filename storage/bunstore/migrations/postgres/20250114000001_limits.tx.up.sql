-- Plans and limits: an org's own limits beside its plan's (NULL: the plan's).
ALTER TABLE orgs ADD COLUMN burst_per_minute bigint;
--bun:split
ALTER TABLE orgs ADD COLUMN monthly_emails bigint;
--bun:split
ALTER TABLE orgs ADD COLUMN monthly_sms bigint;
--bun:split
-- Burst limits: one GCRA row per limited thing (an API key), its theoretical arrival time in
-- microseconds since the epoch; granted is scratch for the statement that took tokens.
CREATE TABLE rate_limits (
    key     text PRIMARY KEY,
    tat_us  bigint NOT NULL,
    granted bigint NOT NULL DEFAULT 0
);
--bun:split
-- Monthly quotas: what was reserved per org, channel and month (YYYY-MM, UTC).
CREATE TABLE quota_counters (
    org_id  text NOT NULL,
    channel text NOT NULL,
    period  text NOT NULL,
    used    bigint NOT NULL,
    granted bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, channel, period)
);
--bun:split
-- Domain warmup: live sends per domain and UTC day (YYYY-MM-DD).
CREATE TABLE warmup_counters (
    domain_id text NOT NULL,
    day       text NOT NULL,
    sent      bigint NOT NULL,
    granted   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (domain_id, day)
);
--bun:split
-- A tenant's own monthly caps (platform mode), beside its org's quota; 0: none.
ALTER TABLE tenants ADD COLUMN monthly_emails bigint NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE tenants ADD COLUMN monthly_sms bigint NOT NULL DEFAULT 0;
--bun:split
-- An SMS sender's daily cap, where carriers ask for one; 0: none.
ALTER TABLE phone_numbers ADD COLUMN daily_cap bigint NOT NULL DEFAULT 0;
