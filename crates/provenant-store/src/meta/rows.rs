//! The rows the metadata store reads and writes, and their decoding
//! (the `*_COLUMNS` lists and the `*_from_row` functions that map them).

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Digest, StoreError};

/// Parse a content digest read from `table.column`. The store writes them
/// as `sha256:<hex>` (`Digest`'s `Display`); anything else is a corrupt
/// record, named by table and column.
pub(crate) fn stored_digest(table: &str, column: &str, value: &str) -> Result<Digest, StoreError> {
    value.parse().map_err(|e| {
        StoreError::Corrupt(format!(
            "{table}.{column} holds {value:?}, not a content digest: {e}"
        ))
    })
}

/// Read the text of a digest column of `row` and parse it.
fn digest_at(row: &AnyRow, index: usize, table: &str, column: &str) -> Result<Digest, StoreError> {
    let value: String = row.try_get(index)?;
    stored_digest(table, column, &value)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelRow {
    pub id: i64,
    pub namespace: String,
    pub name: String,
    pub full_name: String,
    pub description: String,
    pub version_count: i64,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRow {
    pub id: i64,
    pub model_id: i64,
    pub model: String,
    pub number: i64,
    pub digest: Digest,
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
    pub config_digest: Digest,
    pub metadata: String,
    pub metadata_digest: Digest,
    pub size: i64,
    pub file_count: i64,
    pub state: String,
    pub state_reason: Option<String>,
    pub state_changed_at: Option<i64>,
    pub state_changed_by: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    /// Labels and aliases, when the query fetched them with the row (listings).
    pub annotations: Option<Annotations>,
}

/// A version's labels and the aliases pointing at it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotations {
    pub labels: BTreeMap<String, String>,
    /// Sorted by name.
    pub aliases: Vec<String>,
}

/// Which model a listing is about.
#[derive(Clone, Copy, Debug)]
pub enum ModelKey<'a> {
    Id(i64),
    /// `namespace/name`; resolved inside the listing query.
    Name(&'a str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    pub path: String,
    pub digest: Digest,
    pub size: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasRow {
    pub name: String,
    pub version_id: i64,
    pub number: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasEvent {
    pub id: i64,
    pub alias: String,
    pub number: i64,
    pub previous_number: Option<i64>,
    pub moved_at: i64,
    pub moved_by: String,
}

/// `key = value` filter on version labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelFilter {
    pub key: String,
    pub value: String,
}

/// One page of results and the cursor for the next page, if any.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<i64>,
}

/// Everything needed to publish a version, prepared by the registry.
#[derive(Clone, Debug)]
pub struct NewVersion {
    pub namespace: String,
    pub model_name: String,
    pub description: String,
    pub digest: Digest,
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
    pub config_digest: Digest,
    pub metadata: String,
    pub metadata_digest: Digest,
    pub files: Vec<FileRow>,
    pub labels: BTreeMap<String, String>,
    /// Text indexed for full-text search (names, description, metadata values).
    pub search_text: String,
    pub created_by: String,
}

/// A signed object attached to a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentRow {
    pub id: i64,
    pub version_id: i64,
    pub kind: String,
    pub media_type: String,
    pub digest: Digest,
    pub body: Vec<u8>,
    pub signer: String,
    pub fingerprint: String,
    pub created_at: i64,
    pub created_by: String,
    /// in-toto predicate type for attestations; empty for OMS signatures.
    pub predicate_type: String,
    /// Short JSON summary of an attestation (format, counts, ...); `{}` when none.
    pub summary: String,
}

/// An attachment to store (see [`Store::attachment_insert`]).
#[derive(Clone, Debug)]
pub struct NewAttachment {
    pub version_id: i64,
    pub kind: String,
    pub media_type: String,
    pub digest: Digest,
    pub body: Vec<u8>,
    pub signer: String,
    pub fingerprint: String,
    pub created_by: String,
    pub predicate_type: String,
    pub summary: String,
}

/// A key a namespace trusts (or trusted, when `removed_at` is set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKeyRow {
    pub id: i64,
    pub namespace: String,
    pub fingerprint: String,
    pub public_key: String,
    pub comment: String,
    pub added_at: i64,
    pub added_by: String,
    pub removed_at: Option<i64>,
    pub removed_by: Option<String>,
}

pub(super) const ATTACHMENT_COLUMNS: &str = "id, version_id, kind, media_type, digest, body, signer, fingerprint, created_at, created_by, predicate_type, summary";

pub(super) fn attachment_from_row(r: &AnyRow) -> Result<AttachmentRow, StoreError> {
    Ok(AttachmentRow {
        id: r.try_get(0)?,
        version_id: r.try_get(1)?,
        kind: r.try_get(2)?,
        media_type: r.try_get(3)?,
        digest: digest_at(r, 4, "attachments", "digest")?,
        body: r.try_get(5)?,
        signer: r.try_get(6)?,
        fingerprint: r.try_get(7)?,
        created_at: r.try_get(8)?,
        created_by: r.try_get(9)?,
        predicate_type: r.try_get(10)?,
        summary: r.try_get(11)?,
    })
}

pub(super) const KEY_COLUMNS: &str =
    "id, namespace, fingerprint, public_key, comment, added_at, added_by, removed_at, removed_by";

pub(super) fn key_from_row(r: &AnyRow) -> Result<TrustedKeyRow, sqlx::Error> {
    Ok(TrustedKeyRow {
        id: r.try_get(0)?,
        namespace: r.try_get(1)?,
        fingerprint: r.try_get(2)?,
        public_key: r.try_get(3)?,
        comment: r.try_get(4)?,
        added_at: r.try_get(5)?,
        added_by: r.try_get(6)?,
        removed_at: r.try_get(7)?,
        removed_by: r.try_get(8)?,
    })
}

pub(super) const VERSION_COLUMNS: &str = "v.id, v.model_id, m.full_name, v.number, v.digest, v.manifest, v.config, \
     v.config_digest, v.metadata, v.metadata_digest, v.size, v.file_count, v.state, v.state_reason, \
     v.state_changed_at, v.state_changed_by, v.created_at, v.created_by";

/// Map a row of [`VERSION_COLUMNS`].
pub(super) fn version_from_row(row: &AnyRow) -> Result<VersionRow, StoreError> {
    Ok(VersionRow {
        id: row.try_get(0)?,
        model_id: row.try_get(1)?,
        model: row.try_get(2)?,
        number: row.try_get(3)?,
        digest: digest_at(row, 4, "versions", "digest")?,
        manifest: row.try_get(5)?,
        config: row.try_get(6)?,
        config_digest: digest_at(row, 7, "versions", "config_digest")?,
        metadata: row.try_get(8)?,
        metadata_digest: digest_at(row, 9, "versions", "metadata_digest")?,
        size: row.try_get(10)?,
        file_count: row.try_get(11)?,
        state: row.try_get(12)?,
        state_reason: row.try_get(13)?,
        state_changed_at: row.try_get(14)?,
        state_changed_by: row.try_get(15)?,
        created_at: row.try_get(16)?,
        created_by: row.try_get(17)?,
        annotations: None,
    })
}

/// The columns of a listing page, without the manifest and config bytes
/// (callers of [`Store::version_list`] get them empty; single reads carry
/// them), with each version's labels (the row's JSON object); the page adds
/// its aliases (JSON array, by name).
pub(super) const LIST_COLUMNS: &str = "v.id, v.model_id, m.full_name, v.number, v.digest, \
     v.config_digest, v.metadata, v.metadata_digest, v.size, v.file_count, v.state, v.state_reason, \
     v.state_changed_at, v.state_changed_by, v.created_at, v.created_by, v.labels";

/// One version of a listing page, decoded from its JSON array.
#[derive(serde::Deserialize)]
pub(super) struct ListedVersion {
    id: i64,
    model_id: i64,
    model: String,
    number: i64,
    digest: String,
    config_digest: String,
    metadata: String,
    metadata_digest: String,
    size: i64,
    file_count: i64,
    state: String,
    state_reason: Option<String>,
    state_changed_at: Option<i64>,
    state_changed_by: Option<String>,
    created_at: i64,
    created_by: String,
    labels: Option<BTreeMap<String, String>>,
    aliases: Option<Vec<String>>,
}

/// Digests stay text in the page's JSON and are parsed here, so that a bad
/// one is a corrupt record naming its column rather than a JSON error.
impl TryFrom<ListedVersion> for VersionRow {
    type Error = StoreError;

    fn try_from(v: ListedVersion) -> Result<Self, StoreError> {
        let mut aliases = v.aliases.unwrap_or_default();
        aliases.sort_unstable();
        Ok(VersionRow {
            id: v.id,
            model_id: v.model_id,
            model: v.model,
            number: v.number,
            digest: stored_digest("versions", "digest", &v.digest)?,
            manifest: Vec::new(),
            config: Vec::new(),
            config_digest: stored_digest("versions", "config_digest", &v.config_digest)?,
            metadata: v.metadata,
            metadata_digest: stored_digest("versions", "metadata_digest", &v.metadata_digest)?,
            size: v.size,
            file_count: v.file_count,
            state: v.state,
            state_reason: v.state_reason,
            state_changed_at: v.state_changed_at,
            state_changed_by: v.state_changed_by,
            created_at: v.created_at,
            created_by: v.created_by,
            annotations: Some(Annotations {
                labels: v.labels.unwrap_or_default(),
                aliases,
            }),
        })
    }
}

pub(super) const MODEL_COLUMNS: &str =
    "m.id, n.name, m.name, m.full_name, m.description, m.next_number, m.created_at, m.created_by";

pub(super) fn model_from_row(row: &AnyRow) -> Result<ModelRow, sqlx::Error> {
    Ok(ModelRow {
        id: row.try_get(0)?,
        namespace: row.try_get(1)?,
        name: row.try_get(2)?,
        full_name: row.try_get(3)?,
        description: row.try_get(4)?,
        version_count: row.try_get(5)?,
        created_at: row.try_get(6)?,
        created_by: row.try_get(7)?,
    })
}

pub(super) fn alias_event(r: &AnyRow) -> Result<AliasEvent, sqlx::Error> {
    Ok(AliasEvent {
        id: r.try_get(0)?,
        alias: r.try_get(1)?,
        number: r.try_get(2)?,
        previous_number: r.try_get(3)?,
        moved_at: r.try_get(4)?,
        moved_by: r.try_get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_digest_reads_what_the_store_writes() {
        let d = Digest::sha256(b"model");
        assert_eq!(
            stored_digest("versions", "digest", &d.to_string()).unwrap(),
            d
        );
    }

    #[test]
    fn a_bad_stored_digest_is_corrupt_and_names_its_column() {
        for bad in ["", "sha256:zz", "d23c2b0e", "SHA256:00"] {
            match stored_digest("version_files", "digest", bad) {
                Err(StoreError::Corrupt(msg)) => {
                    assert!(msg.starts_with("version_files.digest holds"), "{msg}");
                    assert!(msg.contains(&format!("{bad:?}")), "{msg}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_listing_row_with_a_bad_digest_is_corrupt() {
        let good = Digest::sha256(b"x").to_string();
        let listed = |config_digest: &str| ListedVersion {
            id: 1,
            model_id: 1,
            model: "aiops/m".into(),
            number: 1,
            digest: good.clone(),
            config_digest: config_digest.into(),
            metadata: "{}".into(),
            metadata_digest: good.clone(),
            size: 0,
            file_count: 0,
            state: "active".into(),
            state_reason: None,
            state_changed_at: None,
            state_changed_by: None,
            created_at: 0,
            created_by: "t".into(),
            labels: None,
            aliases: None,
        };
        let row = VersionRow::try_from(listed(&good)).unwrap();
        assert_eq!(row.config_digest.to_string(), good);
        match VersionRow::try_from(listed("sha256:")) {
            Err(StoreError::Corrupt(msg)) => {
                assert!(msg.starts_with("versions.config_digest holds"), "{msg}")
            }
            other => panic!("{other:?}"),
        }
    }
}
