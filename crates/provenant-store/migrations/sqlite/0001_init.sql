-- Provenant metadata schema, SQLite flavour. Timestamps are Unix milliseconds.
CREATE TABLE namespaces (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE models (
    id           INTEGER PRIMARY KEY,
    namespace_id BIGINT NOT NULL REFERENCES namespaces(id),
    name         TEXT NOT NULL,
    full_name    TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    next_number  BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    UNIQUE (namespace_id, name)
);

CREATE TABLE versions (
    id               INTEGER PRIMARY KEY,
    model_id         BIGINT NOT NULL REFERENCES models(id),
    number           BIGINT NOT NULL,
    digest           TEXT NOT NULL,
    manifest         BLOB NOT NULL,
    config           BLOB NOT NULL,
    config_digest    TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    metadata_digest  TEXT NOT NULL,
    size             BIGINT NOT NULL,
    file_count       BIGINT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'active',
    state_reason     TEXT,
    state_changed_at BIGINT,
    state_changed_by TEXT,
    created_at       BIGINT NOT NULL,
    created_by       TEXT NOT NULL,
    UNIQUE (model_id, number),
    UNIQUE (model_id, digest)
);
CREATE INDEX versions_digest ON versions(digest);

CREATE TABLE version_files (
    version_id BIGINT NOT NULL REFERENCES versions(id),
    path       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    PRIMARY KEY (version_id, path)
);

CREATE TABLE version_labels (
    version_id BIGINT NOT NULL REFERENCES versions(id),
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (version_id, key)
);
CREATE INDEX version_labels_kv ON version_labels(key, value, version_id);

CREATE TABLE aliases (
    model_id   BIGINT NOT NULL REFERENCES models(id),
    name       TEXT NOT NULL,
    version_id BIGINT NOT NULL REFERENCES versions(id),
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (model_id, name)
);

CREATE TABLE alias_history (
    id                  INTEGER PRIMARY KEY,
    model_id            BIGINT NOT NULL REFERENCES models(id),
    alias               TEXT NOT NULL,
    version_id          BIGINT NOT NULL REFERENCES versions(id),
    previous_version_id BIGINT REFERENCES versions(id),
    moved_at            BIGINT NOT NULL,
    moved_by            TEXT NOT NULL
);
CREATE INDEX alias_history_lookup ON alias_history(model_id, alias, id);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

-- Full-text search over versions (model name, description, metadata, labels).
CREATE VIRTUAL TABLE version_fts USING fts5(base, labels, tokenize = 'unicode61');
