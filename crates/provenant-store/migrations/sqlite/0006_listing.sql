-- Listings of one model's versions, newest first, walk this index: no sort,
-- and filters on labels are checked before a version row is read.
CREATE INDEX versions_model_newest ON versions(model_id, id);
-- A version's aliases in name order straight from the index (listings
-- carry them with each row).
DROP INDEX lineage_aliases_version;
CREATE INDEX aliases_version_name ON aliases(version_id, name);
