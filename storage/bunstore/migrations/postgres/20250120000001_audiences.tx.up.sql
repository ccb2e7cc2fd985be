-- Audiences (sendoka/audience.go): named lists of contacts in a namespace like templates',
-- the org (tenant_id NULL) or one tenant of it.
CREATE TABLE audiences (
    id          text PRIMARY KEY,
    org_id      text NOT NULL,
    tenant_id   text,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
--bun:split
CREATE INDEX audiences_namespace_created_idx ON audiences (org_id, (COALESCE(tenant_id, '')), created_at DESC, id DESC);
--bun:split
-- A contact is keyed by its email in its audience, or by its phone when it has no email:
-- the two partial unique indexes are the conflict targets of the bulk upsert.
CREATE TABLE audience_contacts (
    id              text PRIMARY KEY,
    audience_id     text NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
    email           text,
    phone           text,
    first_name      text,
    last_name       text,
    data            jsonb,
    unsubscribed_at timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
--bun:split
CREATE UNIQUE INDEX audience_contacts_email_key ON audience_contacts (audience_id, email) WHERE email IS NOT NULL;
--bun:split
CREATE UNIQUE INDEX audience_contacts_phone_key ON audience_contacts (audience_id, phone) WHERE email IS NULL;
--bun:split
CREATE INDEX audience_contacts_created_idx ON audience_contacts (audience_id, created_at DESC, id DESC);
