-- Attestations (SBOMs, provenance) are attachments with a predicate type and
-- a short JSON summary shown by `show` without reparsing the bundle.
ALTER TABLE attachments ADD COLUMN predicate_type TEXT NOT NULL DEFAULT '';
ALTER TABLE attachments ADD COLUMN summary TEXT NOT NULL DEFAULT '{}';

-- The server's OSV database: one row per advisory, as the vulnerability
-- crate's typed record (JSON), with the source that supplied it.
CREATE TABLE osv_records (
    id         TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    modified   TEXT NOT NULL,
    record     TEXT NOT NULL
);

-- Bumped on every database change; scans remember which generation they saw.
CREATE TABLE vulndb_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  BIGINT NOT NULL,
    records     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- Findings per version from scanning its attached SBOMs. A finding that no
-- longer matches (advisory withdrawn or its range changed) is kept with
-- resolved_at set; one that comes back is reopened.
CREATE TABLE vuln_findings (
    id           BIGSERIAL PRIMARY KEY,
    version_id   BIGINT NOT NULL REFERENCES versions(id),
    fingerprint  TEXT NOT NULL,
    advisory_id  TEXT NOT NULL,
    purl         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    finding      TEXT NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    resolved_at  BIGINT,
    UNIQUE (version_id, fingerprint)
);
CREATE INDEX vuln_findings_advisory ON vuln_findings(advisory_id);

-- Last scan of each version: when, against which database generation, and
-- what could not be judged.
CREATE TABLE vuln_scans (
    version_id   BIGINT PRIMARY KEY REFERENCES versions(id),
    generation   BIGINT NOT NULL,
    scanned_at   BIGINT NOT NULL,
    components   BIGINT NOT NULL,
    warnings     TEXT NOT NULL
);
