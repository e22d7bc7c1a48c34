-- Listings of one model's versions, newest first, walk this index: no sort,
-- and filters on labels are checked before a version row is read.
CREATE INDEX versions_model_newest ON versions(model_id, id);
-- A version's aliases in name order straight from the index (listings
-- carry them with each row).
DROP INDEX lineage_aliases_version;
CREATE INDEX aliases_version_name ON aliases(version_id, name);
-- A label filter within one model reads exactly the matching versions:
-- labels carry their version's model (a version never changes model).
ALTER TABLE version_labels ADD COLUMN model_id BIGINT REFERENCES models(id);
UPDATE version_labels SET model_id = (SELECT v.model_id FROM versions v WHERE v.id = version_labels.version_id);
ALTER TABLE version_labels ALTER COLUMN model_id SET NOT NULL;
CREATE INDEX version_labels_model ON version_labels(model_id, key, value, version_id);
-- Each version's labels as a JSON object (keys sorted), kept with the row so
-- that a listing reads them with the version; version_labels stays the
-- index for filtering. Both are written in the same transaction.
ALTER TABLE versions ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
UPDATE versions v SET labels = (
    SELECT json_object_agg(key, value ORDER BY key)::text
    FROM version_labels WHERE version_id = v.id
) WHERE EXISTS (SELECT 1 FROM version_labels WHERE version_id = v.id);
-- Every lookup by manifest digest is within a model (the UNIQUE
-- (model_id, digest) index); a digest-only index cost each publish a write
-- to a random page.
DROP INDEX versions_digest;
