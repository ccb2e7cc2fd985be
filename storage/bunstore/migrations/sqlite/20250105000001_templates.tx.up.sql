-- Templates: a slug is unique in its namespace, the org (tenant_id NULL) or one tenant of it.
-- COALESCE makes the org-level namespace one value, since NULLs never collide in a unique index.
CREATE TABLE templates (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    tenant_id  TEXT,
    slug       TEXT NOT NULL,
    channel    TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    subject    TEXT NOT NULL DEFAULT '',
    html       TEXT NOT NULL DEFAULT '',
    text_body  TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL DEFAULT '',
    variables  TEXT,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
--bun:split
CREATE UNIQUE INDEX templates_namespace_slug_key ON templates (org_id, COALESCE(tenant_id, ''), slug);
--bun:split
CREATE INDEX templates_namespace_created_idx ON templates (org_id, COALESCE(tenant_id, ''), created_at DESC, id DESC);
