//! Wire types of the Provenant HTTP API shared by the server and the CLI:
//! the stable error codes ([`ErrorCode`]) and the error body ([`ErrorBody`])
//! of every failed request, the request bodies both sides use
//! ([`PublishBody`], [`BundleBody`], [`LabelsBody`], …) and the views every
//! route answers ([`VersionView`], [`SignatureView`], [`FindingsView`], …),
//! with the closed sets they carry as enums ([`VersionState`],
//! [`AttachmentKind`], [`TrustedKeyKind`]). Pure: serde
//! and utoipa only, no HTTP client or server; the server publishes these
//! types in its OpenAPI 3.1 document
//! (<https://spec.openapis.org/oas/v3.1.0>) at `/api/v1/openapi.json`.
//! Database rows are never served as they are: each has its view here, and
//! the server or registry converts.

pub mod admission;
mod error;
mod identity;
mod log;
mod models;
mod policy;
mod provenance;
mod requests;
mod signing;
mod uploads;
mod version;
mod vulns;

pub use error::{ErrorBody, ErrorCode, UnknownErrorCode};
pub use identity::{
    ALL_NAMESPACES, AccessEventView, CredentialView, Grant, NamespaceBody, NamespaceRole,
    NamespaceView, Permission, PermissionMatrix, PrincipalBody, PrincipalKind, PrincipalView,
    RoleBindingView, RoleBody, RolePermissions, RoutePermission, TokenBody, TokenCreated,
    TokenView, UnknownRole, WhoAmI,
};
pub use log::{AuditRecordView, ConsistencyView, EntryView, InclusionView, LogEventView};
pub use models::{AliasEventView, AliasView, ModelView};
pub use policy::{
    DecisionDocument, DecisionException, DecisionMessage, DecisionView, GateBody,
    POLICY_INPUT_SCHEMA_ID, PolicyAction, PolicyApproval, PolicyArtifact, PolicyCertificate,
    PolicyCommitSignature, PolicyComponentLicences, PolicyDataset, PolicyFinding, PolicyFindings,
    PolicyImage, PolicyInput, PolicyProvenance, PolicySbom, PolicySetView, PolicySignature,
    PolicySuppressed, PolicyTarget, PolicyWorkload,
};
pub use provenance::{
    ImpactView, ImpactedVersion, LineageEdgeKind, LineageEdgeView, LineageView, ProvenanceSummary,
    ProvenanceView,
};
pub use requests::{
    AliasTarget, BundleBody, KeyBody, LabelsBody, PublishBody, PublishFile, ReasonBody,
    VulnDbImportBody,
};
pub use signing::{
    AttachmentKind, AttestationView, SbomSummary, SignatureView, TrustedKeyKind, TrustedKeyView,
    UnknownAttachmentKind,
};
pub use uploads::{CommitUpload, NewUpload, UploadPlan, UploadPlanRequest, UploadStatus};
pub use version::{
    JsonDocument, ManifestFile, PageOf, Published, UnknownVersionState, VersionState, VersionView,
};
pub use vulns::{FindingView, FindingsView, VulnDbImport, VulnDbStatus};
