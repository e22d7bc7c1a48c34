//! Provenant storage.
//!
//! - [`BlobStore`]: content-addressed blobs (SHA-256) over the `object_store` crate —
//!   a local directory by default, `s3://`, `gs://`, `az://` by URL. Uploads stream
//!   into an [`Upload`] session that hashes the bytes as they flow and commits the blob
//!   only when the digest matches the one the client declared.
//! - [`Store`]: the metadata store over `sqlx`, SQLite (WAL) as the embedded default and
//!   PostgreSQL for scale-out, one API and one set of migrations per backend.
//! - The transparency log's tables (`log_events` outbox and index,
//!   `log_state`), and its objects under `log/` in the blob store. Entries
//!   are opaque here: the registry's [`EntryEncoder`] writes them.
//!
//! Streaming file I/O (chunked reads, preallocation, writeback) lives in
//! `provenant-fs`, shared with the CLI's push and pull.

mod blob;
mod digest;
mod error;
mod log;
mod meta;
mod vulnstore;

pub use blob::{BlobStore, Declaration, Upload};
pub use digest::Digest;
pub use error::StoreError;
pub use log::{
    Assigned, AuditRecord, Change, EncodedEntry, EntryEncoder, EntryInput, LogBatch, LogEventRow,
    LogRecord, LogStateRow, LogTarget, PendingEntry,
};
pub use meta::{
    AccessEventRow, AliasEvent, AliasRow, Annotations, AttachmentRow, Backend, DecisionRow,
    FileRow, GrantRow, ImpactRow, LabelFilter, LineageEdgeRow, MAX_LINEAGE_DEPTH, ModelKey,
    ModelRow, NamespaceRow, NewAttachment, NewDecision, NewLineageEdge, NewToken, NewVersion, Page,
    PolicySetRow, PrincipalRow, RoleBindingRow, Store, TokenRow, TrustedKeyRow, VersionRow,
    now_millis,
};
pub use vulnstore::{FindingRow, FindingsChange, NewFinding, OsvRow, ScanRow, VulnDbState};
