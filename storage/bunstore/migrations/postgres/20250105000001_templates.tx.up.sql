-- Templates: a slug is unique in its namespace, the org (tenant_id NULL) or one tenant of it.
-- COALESCE makes the org-level namespace one value, since NULLs never collide in a unique index.
CREATE TABLE templates (
    id         text PRIMARY KEY,
    org_id     text NOT NULL,
    tenant_id  text,
    slug       text NOT NULL,
    channel    text NOT NULL,
    name       text NOT NULL DEFAULT '',
    subject    text NOT NULL DEFAULT '',
    html       text NOT NULL DEFAULT '',
    text_body  text NOT NULL DEFAULT '',
    body       text NOT NULL DEFAULT '',
    variables  jsonb,
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
--bun:split
CREATE UNIQUE INDEX templates_namespace_slug_key ON templates (org_id, (COALESCE(tenant_id, '')), slug);
--bun:split
CREATE INDEX templates_namespace_created_idx ON templates (org_id, (COALESCE(tenant_id, '')), created_at DESC, id DESC);
