-- Lineage graph from training provenance: the inputs of each version
-- (dataset, source commit, container image) and parent versions (fine-tunes).
-- input: 'sha256:<hex>' for datasets and images, the commit id for commits,
-- '<ns/name>@sha256:<manifest hex>' for parents (parent_id then set).
CREATE TABLE lineage_edges (
    id            INTEGER PRIMARY KEY,
    version_id    BIGINT NOT NULL REFERENCES versions(id),
    kind          TEXT NOT NULL CHECK (kind IN ('dataset', 'commit', 'image', 'parent')),
    input         TEXT NOT NULL,
    uri           TEXT NOT NULL DEFAULT '',
    parent_id     BIGINT REFERENCES versions(id),
    attachment_id BIGINT REFERENCES attachments(id),
    created_at    BIGINT NOT NULL,
    UNIQUE (kind, input, version_id)
);
-- impact: (kind, input) → versions is the UNIQUE index above;
-- lineage upstream: version → its edges; downstream: parent → children.
CREATE INDEX lineage_edges_version ON lineage_edges(version_id, kind);
CREATE INDEX lineage_edges_parent ON lineage_edges(parent_id, version_id) WHERE parent_id IS NOT NULL;
-- Aliases currently pointing at a version (impact lists them).
CREATE INDEX lineage_aliases_version ON aliases(version_id);
