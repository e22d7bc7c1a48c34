-- Transparency log. `log_events` is the outbox and the index of the log:
-- every registry state change inserts its canonical entry here in the same
-- transaction as the change (log_index NULL = pending); the sequencer assigns
-- log_index and leaf_hash when a checkpoint covers the entry. `source` and
-- `source_id` name the row the entry records (versions, attachments,
-- alias_history, trusted_keys, ...), so each such row's log index is
-- `SELECT log_index FROM log_events WHERE source = ? AND source_id = ?`.
CREATE TABLE log_events (
    id          BIGSERIAL PRIMARY KEY,
    type        TEXT NOT NULL,
    source      TEXT NOT NULL,
    source_id   BIGINT NOT NULL,
    entry       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    log_index   BIGINT UNIQUE,
    leaf_hash   TEXT
);
CREATE INDEX log_events_pending ON log_events(id) WHERE log_index IS NULL;
CREATE INDEX log_events_source ON log_events(source, source_id);
CREATE INDEX log_events_leaf ON log_events(leaf_hash);
CREATE INDEX log_events_created ON log_events(created_at, id);

-- Sequencing state: one row, locked by the sequencer for each batch.
CREATE TABLE log_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    size        BIGINT NOT NULL,
    root        TEXT NOT NULL,
    checkpoint  TEXT NOT NULL,
    cosigned    TEXT,
    updated_at  BIGINT NOT NULL
);
