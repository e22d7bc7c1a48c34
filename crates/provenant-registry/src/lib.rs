//! Provenant domain services.
//!
//! Names and references (`ns/name:7`, `ns/name@sha256:…`, `ns/name#alias`), version
//! metadata validated against a published JSON Schema, versions as OCI image
//! manifests v1.1 with CNCF ModelPack media types
//! (<https://github.com/modelpack/model-spec>), and the operations the server
//! exposes: publish, resolve, labels, aliases with history, deprecate/archive.
//! [`TransparencyLog`] sequences the registry's changes into an RFC 6962 log
//! stored as C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>) and serves
//! tiles and proofs.
//!
//! The stores are private to the registry: the server reaches them through
//! its operations and a few narrow capabilities (opening the stores, blobs and
//! upload sessions, tokens, log reads; see `access.rs`).

mod access;
mod attach;
mod attestations;
mod error;
mod gate;
mod identity;
mod log_entry;
mod manifest;
mod metadata;
mod names;
mod provenance;
mod reference;
mod service;
mod signatures;
mod transparency;
mod trust;
mod vulnscan;

pub use access::{
    AliasEvent, AliasRow, AuditRecord, BlobLocation, Blobs, DatabaseLocation, Declaration,
    LogEventRow, ModelRow, Page, StoreError, Upload, VersionRow,
};
pub use attach::AttachmentInput;
pub use attestations::{
    ATTESTATION_MEDIA_TYPE, AttachmentKind, AttestationView, CYCLONEDX_PREDICATE,
    SLSA_PROVENANCE_PREDICATE, SPDX_PREDICATE, attestation_statement, oms_root_digest,
};
pub use error::RegistryError;
pub use gate::{GateHandle, GateRequest, IngestGate};
pub use identity::{
    Caller, Credential, Permissions, TOKEN_PREFIX, TokenRefusal, Visibility, WorkloadIdentity,
    credential_label, generate_token, hash_token, is_token_shaped, validate_principal_name,
};
pub use log_entry::{
    ENTRY_SCHEMA_VERSION, EntryKind, LogEntries, canonical_entry, entry_details, entry_leaf_hash,
};
pub use manifest::{BuiltManifest, ManifestFile, build_manifest, layer_media_type};
pub use metadata::{
    MAX_METADATA_BYTES, MAX_METADATA_FIELD_BYTES, METADATA_SCHEMA, Metadata, validate_metadata,
};
pub use names::{
    ModelName, validate_alias, validate_file_path, validate_file_set, validate_label_key,
    validate_label_value,
};
pub use provenance::{
    ImpactInput, ImpactView, ImpactedVersion, LineageEdgeView, LineageView, ProvenanceSummary,
    ProvenanceView,
};
pub use provenant_store::AccessEventRow;
pub use reference::{Reference, Selector};
pub use service::{
    LabelFilter, PublishRequest, Published, Registry, VersionQuery, VersionState, VersionView,
    parse_state, rfc3339,
};
pub use signatures::{
    SIGNATURE_MEDIA_TYPE, SignatureView, TrustedKeyKind, TrustedKeyView, normalize_fingerprint,
    parse_key_or_certificate,
};
pub use transparency::{LogConfig, LogError, LogHead, TransparencyLog};
pub use vulnscan::{
    FindingView, FindingsView, LocalVulnDb, VersionScan, VulnDbImport, VulnDbStatus,
};
