-- Signed objects attached to a version (OMS signatures now; provenance and SBOMs later).
CREATE TABLE attachments (
    id          INTEGER PRIMARY KEY,
    version_id  BIGINT NOT NULL REFERENCES versions(id),
    kind        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    digest      TEXT NOT NULL,
    body        BLOB NOT NULL,
    signer      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    UNIQUE (version_id, digest)
);
CREATE INDEX attachments_version ON attachments(version_id, kind);

-- Keys a namespace trusts for signatures; removals are kept as history.
CREATE TABLE trusted_keys (
    id          INTEGER PRIMARY KEY,
    namespace   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    added_at    BIGINT NOT NULL,
    added_by    TEXT NOT NULL,
    removed_at  BIGINT,
    removed_by  TEXT
);
CREATE INDEX trusted_keys_ns ON trusted_keys(namespace, fingerprint);
