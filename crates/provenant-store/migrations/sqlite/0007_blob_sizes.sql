-- The size of every blob the store holds, for pushes that stream a large file
-- once (hashing while it uploads) unless a blob of that exact size exists:
-- equal content has equal size, so a size not held here means the file's
-- bytes are new and hashing it first could not spare the upload.
-- Filled when an upload commits; published versions' files seed it.
CREATE TABLE blob_sizes (
    digest TEXT PRIMARY KEY,
    size   BIGINT NOT NULL
);
INSERT INTO blob_sizes (digest, size)
    SELECT digest, MAX(size) FROM version_files GROUP BY digest;
CREATE INDEX blob_sizes_size ON blob_sizes(size);
