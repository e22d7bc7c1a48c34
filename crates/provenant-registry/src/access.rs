//! What the server needs of the stores beyond the domain operations, as
//! narrow, named capabilities: opening the stores, blob reads and upload
//! sessions ([`Blobs`]), and reads of the log's
//! outbox and audit records. The server reaches the stores only through
//! these and the registry's operations.

use std::path::PathBuf;

use bytes::Bytes;
use futures::stream::BoxStream;
use provenant_digest::Digest;
use provenant_store::{BlobStore, Store};

pub use provenant_store::{
    AliasEvent, AliasRow, AuditRecord, Declaration, LogEventRow, ModelRow, Page, StoreError,
    Upload, VersionRow,
};

use crate::{Registry, RegistryError};

/// Where the registry keeps its metadata.
#[derive(Clone, Debug)]
pub enum DatabaseLocation {
    /// `postgres://…` or `sqlite://…`.
    Url(String),
    /// An SQLite file (created with its directory when missing).
    SqliteFile(PathBuf),
}

/// Where the registry keeps its blobs.
#[derive(Clone, Debug)]
pub enum BlobLocation {
    /// `s3://…`, `gs://…`, `az://…`, `file://…` or a path.
    Url(String),
    /// A local directory (created when missing).
    Directory(PathBuf),
}

impl Registry {
    /// Opens (and migrates) the metadata store and opens the blob store.
    pub async fn open(
        database: &DatabaseLocation,
        blobs: &BlobLocation,
    ) -> Result<Self, StoreError> {
        let store = match database {
            DatabaseLocation::Url(url) => Store::connect(url).await?,
            DatabaseLocation::SqliteFile(path) => Store::open_sqlite(path).await?,
        };
        let blobs = match blobs {
            BlobLocation::Url(url) => BlobStore::open(url)?,
            BlobLocation::Directory(dir) => BlobStore::local(dir)?,
        };
        Ok(Self::new(store, blobs))
    }

    /// Closes the database connections (once every request is done).
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// The blob store's location, for the start-up banner.
    pub fn blob_location(&self) -> &str {
        self.blobs.location()
    }

    /// The blob store, for blob reads and upload sessions.
    pub fn blobs(&self) -> Blobs<'_> {
        Blobs { registry: self }
    }
    /// Opens the transparency log over this registry's stores.
    pub async fn open_log(
        &self,
        signer: provenant_tlog::Ed25519Signer,
        config: crate::LogConfig,
    ) -> Result<crate::TransparencyLog, crate::LogError> {
        crate::TransparencyLog::open(self.store.clone(), self.blobs.clone(), signer, config).await
    }

    /// Models in name order whose full name starts with `prefix`, after the
    /// model named `after`, at most `limit`; only in the namespaces `only`
    /// names, when given (what the caller may read).
    pub async fn models(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: i64,
        only: Option<&[String]>,
    ) -> Result<Vec<ModelRow>, RegistryError> {
        Ok(self.store.model_list(prefix, after, limit, only).await?)
    }

    /// The aliases of a model and the versions they point at.
    pub async fn aliases(&self, model: &ModelRow) -> Result<Vec<AliasRow>, RegistryError> {
        Ok(self.store.alias_list(model.id).await?)
    }

    /// The log event sequenced at `index`.
    pub async fn log_event_by_index(
        &self,
        index: u64,
    ) -> Result<Option<LogEventRow>, RegistryError> {
        Ok(self.store.log_event_by_index(index).await?)
    }

    /// The log event whose leaf hash is `leaf`.
    pub async fn log_event_by_leaf_hash(
        &self,
        leaf: &provenant_tlog::Hash,
    ) -> Result<Option<LogEventRow>, RegistryError> {
        Ok(self.store.log_event_by_leaf_hash(&leaf.to_hex()).await?)
    }

    /// The audit trail: events created at or after `since` (Unix ms), after
    /// outbox id `after`, at most `limit`.
    pub async fn log_events_since(
        &self,
        since: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LogEventRow>, RegistryError> {
        Ok(self.store.log_events_since(since, after, limit).await?)
    }

    /// The log events recording one version (publish, attachments, labels, state).
    pub async fn log_events_of_version(
        &self,
        version: &VersionRow,
    ) -> Result<Vec<LogEventRow>, RegistryError> {
        Ok(self.store.log_events_of_version(version.id).await?)
    }

    /// The sequenced log event of a version's signature attachment named by
    /// its bundle's digest, if it has one.
    pub async fn signature_log_event(
        &self,
        version: &VersionRow,
        digest: &Digest,
    ) -> Result<Option<LogEventRow>, RegistryError> {
        let Some(att) = self
            .store
            .attachments(version.id, crate::AttachmentKind::Signature.as_str())
            .await?
            .into_iter()
            .find(|a| a.digest == *digest)
        else {
            return Ok(None);
        };
        Ok(self
            .store
            .log_events_of("attachments", att.id)
            .await?
            .into_iter()
            .find(|e| e.log_index.is_some()))
    }

    /// What every logged registry row says and its log index.
    pub async fn audit_records(&self) -> Result<Vec<AuditRecord>, RegistryError> {
        Ok(self.store.log_audit_records().await?)
    }
}

/// The registry's blob store as the blob and upload routes use it.
#[derive(Clone, Copy)]
pub struct Blobs<'a> {
    registry: &'a Registry,
}

impl Blobs<'_> {
    /// The stored size of a blob, if it is stored.
    pub async fn size(&self, digest: &Digest) -> Result<Option<u64>, StoreError> {
        self.registry.blobs.size(digest).await
    }

    /// A blob's size and its bytes, streamed.
    pub async fn get(
        &self,
        digest: &Digest,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, StoreError>>), StoreError> {
        self.registry.blobs.get(digest).await
    }

    /// Starts an upload of `size` bytes that must hash to `declared`.
    pub async fn begin_upload(&self, declared: Digest, size: u64) -> Result<Upload, StoreError> {
        self.registry.blobs.begin_upload(declared, size).await
    }

    /// Starts an upload of `size` bytes whose digest or checksum is declared
    /// when it commits (local blob stores only).
    pub async fn begin_undeclared_upload(&self, size: u64) -> Result<Upload, StoreError> {
        self.registry.blobs.begin_undeclared_upload(size).await
    }

    /// Whether uploads may declare their digest when they commit.
    pub fn accepts_undeclared(&self) -> bool {
        self.registry.blobs.accepts_undeclared()
    }

    /// Which of `sizes` the store holds blobs of (the size index).
    pub async fn sizes_held(&self, sizes: &[u64]) -> Result<Vec<u64>, StoreError> {
        self.registry.store.blob_sizes_held(sizes).await
    }

    /// Records a committed blob's size in the size index.
    pub async fn record_size(&self, digest: &Digest, size: u64) -> Result<(), StoreError> {
        self.registry.store.blob_size_record(digest, size).await
    }
}
