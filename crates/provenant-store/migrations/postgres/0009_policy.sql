-- Policy decisions: every verdict of the gate (ingestion, promotion,
-- deployment, admission), with the whole decision document, the digests of
-- the policy set and of the input it was made on. version_id is NULL for a
-- push the gate refused (nothing was published); the model and digest name
-- what was decided about either way. Each row has its log entry.
CREATE TABLE policy_decisions (
    id           BIGSERIAL PRIMARY KEY,
    model        TEXT NOT NULL,
    digest       TEXT NOT NULL,
    version_id   BIGINT REFERENCES versions(id),
    action       TEXT NOT NULL,
    environment  TEXT NOT NULL DEFAULT '',
    allowed      BIGINT NOT NULL,
    policy_set   TEXT NOT NULL,
    input_digest TEXT NOT NULL,
    decision     TEXT NOT NULL,
    decided_at   BIGINT NOT NULL,
    decided_by   TEXT NOT NULL
);
CREATE INDEX policy_decisions_subject ON policy_decisions(model, digest, id);

-- Policy sets the server loaded (at start and on each change): who, when,
-- the set's digest and what it holds (module paths and digests, data
-- digest, mode overrides). Each row has its log entry.
CREATE TABLE policy_sets (
    id          BIGSERIAL PRIMARY KEY,
    digest      TEXT NOT NULL,
    description TEXT NOT NULL,
    loaded_at   BIGINT NOT NULL,
    loaded_by   TEXT NOT NULL
);
CREATE INDEX policy_sets_digest ON policy_sets(digest, id);
