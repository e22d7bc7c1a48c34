//! Error codes and the error body of every failed request.

use std::fmt;
use std::str::FromStr;

/// Declares [`ErrorCode`] once: the variants with their documentation, the
/// wire string of each (checked against serde's snake_case by a test), and
/// the list of all of them.
macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $code:literal, )*) => {
        /// Stable machine-readable code of a failed request: clients match on
        /// it, never on the message. Serialised in snake_case
        /// (`version_not_found`); the HTTP status that goes with each is the
        /// server's (README, "HTTP API").
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant),*];

            /// The code as it goes over the wire, e.g. `version_not_found`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    // Requests in general.
    /// 401: no token, or one that is unknown, expired or revoked.
    Unauthorized = "unauthorized",
    /// 403: the caller's roles (or its token's scope) do not allow this.
    Forbidden = "forbidden",
    /// 401: a bearer token that is no token this registry issued.
    UnknownToken = "unknown_token",
    /// 401: the token (or the identity token's `exp`) has passed.
    TokenExpired = "token_expired",
    /// 401: the token has been revoked.
    TokenRevoked = "token_revoked",
    /// 401: an OIDC identity token that does not verify: bad signature, an
    /// algorithm other than the key's, `alg: none`, wrong issuer or audience,
    /// not yet valid, issued in the future, or an unknown `kid`.
    InvalidIdentityToken = "invalid_identity_token",
    /// 401: a valid identity token whose claims match no mapping rule.
    UnmappedIdentity = "unmapped_identity",
    /// 429: too many failed authentications from this address; retry after
    /// the `Retry-After` seconds.
    TooManyFailures = "too_many_failures",
    /// 404: no such principal.
    PrincipalNotFound = "principal_not_found",
    /// 409: a principal of that name exists.
    PrincipalExists = "principal_exists",
    /// 404: no such token (of the caller's, or at all for an admin).
    TokenNotFound = "token_not_found",
    /// 409: the caller already has an unrevoked token of that name.
    TokenExists = "token_exists",
    /// 409: the namespace exists.
    NamespaceExists = "namespace_exists",
    /// 404: no such namespace.
    NamespaceNotFound = "namespace_not_found",
    /// 404: the principal holds no role in that namespace.
    RoleNotFound = "role_not_found",
    /// 403: the policy gate denied a push or an alias move (the body's
    /// `decision` holds every reason).
    PolicyDenied = "policy_denied",
    /// 400: an admission review the webhook cannot read (no uid to answer).
    InvalidAdmissionReview = "invalid_admission_review",
    /// 404: no such route.
    RouteNotFound = "route_not_found",
    /// 400: the JSON body does not parse (422: it parses but does not fit
    /// the route's type; 415: no JSON content type).
    InvalidBody = "invalid_body",
    /// 413: the body is over this route's limit.
    BodyTooLarge = "body_too_large",
    /// 408: the body arrived too slowly.
    BodyTimeout = "body_timeout",
    /// 400: the body ended early (the client went away).
    BodyInterrupted = "body_interrupted",
    /// 400: an unknown or malformed query parameter.
    InvalidQuery = "invalid_query",
    /// 400: `limit` is not 1 to 1000.
    InvalidLimit = "invalid_limit",
    /// 400: `cursor` is not one this listing gave out.
    InvalidCursor = "invalid_cursor",
    /// 400: a label (filter or change) is not `key=value`.
    InvalidLabel = "invalid_label",
    /// 400: a required input is missing or malformed.
    InvalidInput = "invalid_input",
    /// 503: the server serves its maximum number of connections.
    TooManyConnections = "too_many_connections",
    /// 500: a fault of the server (storage, database, a stored record it
    /// cannot read); the detail is in the server's log.
    Internal = "internal",

    // Names, references and version contents.
    /// 400: a namespace, model, alias or label name breaks the naming rules.
    InvalidName = "invalid_name",
    /// 400: a reference (`ns/name:N`, `@sha256:…`, `#alias`) does not parse.
    InvalidReference = "invalid_reference",
    /// 400: a file path is unsafe (absolute, `..`, colliding) or malformed.
    InvalidPath = "invalid_path",
    /// 400: a digest is not `sha256:<64 hex>`.
    InvalidDigest = "invalid_digest",
    /// 400: version metadata does not match the published schema.
    InvalidMetadata = "invalid_metadata",
    /// 400: a file path appears twice in one version.
    DuplicatePath = "duplicate_path",
    /// 400: a version needs at least one file.
    NoFiles = "no_files",
    /// 404: no such model.
    ModelNotFound = "model_not_found",
    /// 404: no such version.
    VersionNotFound = "version_not_found",

    // Blobs and uploads.
    /// 404: no such blob.
    BlobNotFound = "blob_not_found",
    /// 422: a version names a blob that was not uploaded.
    BlobMissing = "blob_missing",
    /// 422: a version declares a size other than its blob's.
    BlobSizeMismatch = "blob_size_mismatch",
    /// 400: the bytes received do not hash to the declared digest.
    DigestMismatch = "digest_mismatch",
    /// 400: more or fewer bytes than declared.
    SizeMismatch = "size_mismatch",
    /// 400: the bytes received do not give the declared CRC-64/NVME.
    ChecksumMismatch = "checksum_mismatch",
    /// 400: a checksum is not `crc64nvme:<16 hex>`.
    InvalidChecksum = "invalid_checksum",
    /// 400: an undeclared upload was committed with neither digest nor checksum.
    DeclarationRequired = "declaration_required",
    /// 400: this blob store needs the digest when an upload opens.
    DigestRequired = "digest_required",
    /// 400: the `Upload-Offset` header is missing or not a number.
    InvalidOffset = "invalid_offset",
    /// 409: the upload is at another offset than the request starts at.
    OffsetMismatch = "offset_mismatch",
    /// 404: no such upload session (expired, finished, or not the caller's).
    UploadNotFound = "upload_not_found",
    /// 409: the upload is receiving another request.
    UploadBusy = "upload_busy",
    /// 409: the upload declared its digest; it commits on its last byte.
    UploadDeclared = "upload_declared",
    /// 409: the upload has not received all its bytes.
    UploadIncomplete = "upload_incomplete",
    /// 429: the token holds as many upload sessions, or reserves as many
    /// bytes, as it may.
    UploadLimit = "upload_limit",
    /// 408: the upload's body stalled; the session is closed.
    UploadStalled = "upload_stalled",
    /// 400: an upload plan asks about too many sizes.
    TooManySizes = "too_many_sizes",
    /// 507: the blob store's disk has no room for the declared size (checked
    /// when an upload opens and again as bytes are written).
    InsufficientStorage = "insufficient_storage",

    // Lifecycle.
    /// 409: the version's state does not allow this (e.g. aliasing an archived version).
    InvalidState = "invalid_state",
    /// 409: archiving a version an alias points at.
    VersionAliased = "version_aliased",
    /// 400: deprecating or archiving needs a reason.
    ReasonRequired = "reason_required",

    // Signatures, attestations, trust, provenance, vulnerabilities.
    /// 400: the bundle is not a Sigstore bundle carrying an in-toto statement.
    InvalidBundle = "invalid_bundle",
    /// 400: the signature does not verify with the key or certificates sent or
    /// trusted, or the key material is unusable.
    InvalidSignature = "invalid_signature",
    /// 400: a signature's manifest does not match the version's files.
    SignatureMismatch = "signature_mismatch",
    /// 404: the namespace does not trust this key.
    KeyNotFound = "key_not_found",
    /// 400: validly signed, but by a key or root the namespace does not trust
    /// (a publish with `require_trusted`).
    Untrusted = "untrusted",
    /// 400: a signed statement this route does not take (its predicate type),
    /// or whose subject or predicate is wrong.
    InvalidAttestation = "invalid_attestation",
    /// 400: the statement names another version (provenance).
    SubjectMismatch = "subject_mismatch",
    /// 400: an SLSA provenance predicate that breaks the build type's rules.
    InvalidProvenance = "invalid_provenance",
    /// 400: a parent link would make a cycle in the lineage.
    LineageCycle = "lineage_cycle",
    /// 400: a vulnerability database import that cannot be applied.
    InvalidVulndb = "invalid_vulndb",

    // Transparency log.
    /// 400: not a C2SP tlog-tiles path.
    InvalidTilePath = "invalid_tile_path",
    /// 400: a log index is not a number.
    InvalidIndex = "invalid_index",
    /// 400: a leaf hash is not 64 hex digits.
    InvalidHash = "invalid_hash",
    /// 404: no such log entry (or not sequenced yet).
    LogEntryNotFound = "log_entry_not_found",
    /// 404: a tile or size beyond the published tree.
    LogBeyondTree = "log_beyond_tree",
    /// 400: an index or pair of sizes out of range for a proof.
    LogOutOfRange = "log_out_of_range",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code this build does not know (e.g. from a newer server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownErrorCode(pub String);

impl fmt::Display for UnknownErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown error code {:?}", self.0)
    }
}

impl std::error::Error for UnknownErrorCode {}

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownErrorCode(s.to_owned()))
    }
}

/// Error body of every failed request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation naming what is wrong and where; safe for
    /// clients (a server fault's detail stays in the server's log).
    pub message: String,
    /// With `policy_denied`: the recorded decision, every reason in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Box<crate::DecisionView>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_are_serdes_snake_case() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str(), "{code:?}");
            let back: ErrorCode = serde_json::from_value(json).unwrap();
            assert_eq!(back, *code);
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(*code));
        }
    }

    #[test]
    fn codes_are_unique_and_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
    }

    #[test]
    fn unknown_codes_are_refused() {
        assert_eq!(
            "no_such_code".parse::<ErrorCode>(),
            Err(UnknownErrorCode("no_such_code".into()))
        );
    }

    #[test]
    fn error_body_round_trips() {
        let body = ErrorBody {
            code: ErrorCode::KeyNotFound,
            message: "namespace ns does not trust key k".into(),
            decision: None,
        };
        let text = serde_json::to_string(&body).unwrap();
        assert_eq!(
            text,
            r#"{"code":"key_not_found","message":"namespace ns does not trust key k"}"#
        );
        assert_eq!(serde_json::from_str::<ErrorBody>(&text).unwrap(), body);
    }
}
