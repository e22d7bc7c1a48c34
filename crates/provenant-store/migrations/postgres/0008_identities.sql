-- Identities and roles per namespace. A principal is a user or a service
-- account; global administrators have admin = 1. Tokens act as their owner
-- (principal_id), limited by their scopes when they have any. Roles are
-- granted per namespace name (a grant may precede the namespace's first
-- version; '*' grants a role in every namespace).
CREATE TABLE principals (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    admin      BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

ALTER TABLE tokens ADD COLUMN principal_id BIGINT REFERENCES principals(id);
ALTER TABLE tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
CREATE INDEX tokens_principal ON tokens(principal_id, name);

CREATE TABLE token_scopes (
    token_id  BIGINT NOT NULL REFERENCES tokens(id),
    namespace TEXT NOT NULL,
    role      TEXT NOT NULL,
    PRIMARY KEY (token_id, namespace, role)
);

CREATE TABLE role_bindings (
    namespace    TEXT NOT NULL,
    principal_id BIGINT NOT NULL REFERENCES principals(id),
    role         TEXT NOT NULL,
    granted_at   BIGINT NOT NULL,
    granted_by   TEXT NOT NULL,
    PRIMARY KEY (namespace, principal_id)
);
CREATE INDEX role_bindings_principal ON role_bindings(principal_id, namespace);

ALTER TABLE namespaces ADD COLUMN owner_id BIGINT REFERENCES principals(id);

-- The access part of the audit trail: authentication failures, permission
-- denials and changes to identities and roles. Never in the public log.
CREATE TABLE access_events (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    principal  TEXT NOT NULL,
    credential TEXT NOT NULL,
    peer       TEXT NOT NULL,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    code       TEXT NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX access_events_at ON access_events(at, id);

-- Which namespaces hold a blob (who may download it).
CREATE INDEX version_files_digest ON version_files(digest);

-- Who proved they hold a blob's content by uploading it: they may publish it
-- (and then read it) even when only namespaces they cannot read hold it.
CREATE TABLE blob_holders (
    digest    TEXT NOT NULL,
    principal TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (digest, principal)
);

-- Until now the only token was the bootstrap administrator's.
INSERT INTO principals (name, kind, admin, created_at, created_by)
    SELECT 'admin', 'user', 1, MIN(created_at), 'bootstrap' FROM tokens
    WHERE role = 'admin' HAVING COUNT(*) > 0;
UPDATE tokens SET principal_id = (SELECT id FROM principals WHERE name = 'admin'),
    created_by = 'bootstrap'
    WHERE role = 'admin';
