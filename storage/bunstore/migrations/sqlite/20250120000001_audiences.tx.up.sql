-- Audiences (sendoka/audience.go): named lists of contacts in a namespace like templates',
-- the org (tenant_id NULL) or one tenant of it.
CREATE TABLE audiences (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    tenant_id   TEXT,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
--bun:split
CREATE INDEX audiences_namespace_created_idx ON audiences (org_id, COALESCE(tenant_id, ''), created_at DESC, id DESC);
--bun:split
-- A contact is keyed by its email in its audience, or by its phone when it has no email:
-- the two partial unique indexes are the conflict targets of the bulk upsert.
CREATE TABLE audience_contacts (
    id              TEXT PRIMARY KEY,
    audience_id     TEXT NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
    email           TEXT,
    phone           TEXT,
    first_name      TEXT,
    last_name       TEXT,
    data            TEXT,
    unsubscribed_at TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
--bun:split
CREATE UNIQUE INDEX audience_contacts_email_key ON audience_contacts (audience_id, email) WHERE email IS NOT NULL;
--bun:split
CREATE UNIQUE INDEX audience_contacts_phone_key ON audience_contacts (audience_id, phone) WHERE email IS NULL;
--bun:split
CREATE INDEX audience_contacts_created_idx ON audience_contacts (audience_id, created_at DESC, id DESC);
