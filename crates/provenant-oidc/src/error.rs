//! The one error type of the crate: every refusal of an identity token has
//! its own variant, and so has every configuration and JWKS fault.

use std::path::PathBuf;

use provenant_api::ErrorCode;

/// Why an identity token was refused, or why the OIDC configuration or an
/// issuer's keys could not be loaded.
///
/// Messages name the issuer, key or claim at fault; none of them echoes the
/// token (at most the `iss`, `sub`, `aud` or `kid` it carries).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    // ---- The token is refused --------------------------------------------
    /// The token is longer than [`crate::MAX_TOKEN_LEN`].
    #[error("identity token is {len} bytes, over the limit of {max}")]
    TooLong { len: usize, max: usize },

    /// Not a JWS in compact form: not three base64url segments, a header or
    /// payload that is not a JSON object, an unsupported `crit` header.
    #[error("malformed identity token: {reason}")]
    Malformed { reason: String },

    /// The header says `alg: none`: an unsigned token.
    #[error("identity token is unsigned (`alg: none`)")]
    AlgNone,

    /// The header names an HMAC algorithm (`HS256`, …): a shared-secret MAC,
    /// never accepted from an issuer that publishes public keys (the classic
    /// algorithm-confusion attack signs with the RSA public key as secret).
    #[error(
        "identity token uses the HMAC algorithm {alg}: only public-key signatures are accepted"
    )]
    HmacAlgorithm { alg: String },

    /// The header names an algorithm this crate does not verify.
    #[error(
        "identity token uses the algorithm {alg:?}: supported are RS256, RS384, RS512, PS256, \
         PS384, PS512, ES256, ES384 and EdDSA"
    )]
    UnsupportedAlgorithm { alg: String },

    /// A claim every accepted token must carry (`iss`, `sub`, `aud`, `exp`).
    #[error("identity token has no `{claim}` claim")]
    MissingClaim { claim: &'static str },

    /// A registered claim of the wrong type (`exp` that is not a number, …).
    #[error("identity token claim `{claim}` is malformed: {reason}")]
    InvalidClaim { claim: &'static str, reason: String },

    /// `iss` names no configured issuer.
    #[error("identity token issuer {issuer:?} is not a trusted issuer")]
    UntrustedIssuer { issuer: String },

    /// The header's `kid` is not among the issuer's keys, also after the
    /// JWKS was fetched again (or could not be, within the refetch interval).
    #[error(
        "identity token from {issuer} names key {kid:?}, which the issuer's JWKS does not hold"
    )]
    UnknownKid { issuer: String, kid: String },

    /// The header has no `kid` and the issuer publishes several keys (or
    /// none): the key cannot be chosen.
    #[error(
        "identity token from {issuer} names no key (`kid`) and the issuer's JWKS holds {keys} \
         usable keys"
    )]
    MissingKid { issuer: String, keys: usize },

    /// The header's `alg` is not the algorithm of the key it names: the
    /// algorithm comes from the key (its `kty`/`crv`/`alg`), never from the
    /// token alone.
    #[error(
        "identity token from {issuer} says `alg: {header_alg}` but key {kid:?} is a {key_alg} key"
    )]
    AlgorithmMismatch {
        issuer: String,
        kid: String,
        header_alg: String,
        key_alg: String,
    },

    /// The signature does not verify with the issuer's key.
    #[error("identity token from {issuer}: the signature does not verify with key {kid:?}")]
    BadSignature { issuer: String, kid: String },

    /// `aud` names none of the issuer's configured audiences.
    #[error("identity token from {issuer} is for audience {found:?}, expected one of {expected:?}")]
    WrongAudience {
        issuer: String,
        found: Vec<String>,
        expected: Vec<String>,
    },

    /// `exp` has passed (beyond the allowed clock skew).
    #[error(
        "identity token from {issuer} expired at {exp} (unix seconds; now {now}, leeway {leeway_secs} s)"
    )]
    Expired {
        issuer: String,
        exp: i64,
        now: i64,
        leeway_secs: u64,
    },

    /// `nbf` is still ahead (beyond the allowed clock skew).
    #[error(
        "identity token from {issuer} is not valid before {nbf} (unix seconds; now {now}, leeway \
         {leeway_secs} s)"
    )]
    NotYetValid {
        issuer: String,
        nbf: i64,
        now: i64,
        leeway_secs: u64,
    },

    /// `iat` is in the future (beyond the allowed clock skew).
    #[error(
        "identity token from {issuer} was issued in the future, at {iat} (unix seconds; now \
         {now}, leeway {leeway_secs} s)"
    )]
    IssuedInFuture {
        issuer: String,
        iat: i64,
        now: i64,
        leeway_secs: u64,
    },

    /// A valid token whose claims match no mapping rule.
    #[error("identity token from {issuer} for subject {subject:?} matches no mapping rule")]
    NoMatchingRule { issuer: String, subject: String },

    /// The matching rule's principal-name template names a claim the token
    /// lacks (or holds as a non-scalar).
    #[error(
        "mapping rule {rule} names the claim `{claim}` in its principal name, but the identity \
         token from {issuer} has no such text claim"
    )]
    NameClaimMissing {
        rule: usize,
        claim: String,
        issuer: String,
    },

    // ---- Configuration and keys ------------------------------------------
    /// The repeated `--oidc-*` flags do not pair up.
    #[error("--{flag} is given {given} times for {issuers} --oidc-issuer: {hint}")]
    FlagCount {
        flag: &'static str,
        given: usize,
        issuers: usize,
        hint: &'static str,
    },

    /// An invalid issuer, audience, JWKS location, leeway or rule.
    #[error("OIDC configuration: {what}")]
    Config { what: String },

    /// The rules file cannot be read or parsed; `reason` names the field.
    #[error("OIDC rules file {}: {reason}", path.display())]
    RulesFile { path: PathBuf, reason: String },

    /// An issuer's JWKS file cannot be read or holds no usable key.
    #[error("JWKS file {} of issuer {issuer}: {reason}", path.display())]
    JwksFile {
        issuer: String,
        path: PathBuf,
        reason: String,
    },

    /// An issuer's JWKS (or its discovery document) could not be fetched.
    #[error("JWKS of issuer {issuer} from {url}: {reason}")]
    JwksFetch {
        issuer: String,
        url: String,
        reason: String,
    },
}

impl OidcError {
    /// The stable code a server answers with: `token_expired` for an expired
    /// token, `unmapped_identity` for a valid token no rule maps,
    /// `invalid_identity_token` for every other refusal, and `internal` for
    /// faults of the configuration or of fetching an issuer's keys (the
    /// token may be fine; the server could not decide).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Expired { .. } => ErrorCode::TokenExpired,
            Self::NoMatchingRule { .. } | Self::NameClaimMissing { .. } => {
                ErrorCode::UnmappedIdentity
            }
            Self::TooLong { .. }
            | Self::Malformed { .. }
            | Self::AlgNone
            | Self::HmacAlgorithm { .. }
            | Self::UnsupportedAlgorithm { .. }
            | Self::MissingClaim { .. }
            | Self::InvalidClaim { .. }
            | Self::UntrustedIssuer { .. }
            | Self::UnknownKid { .. }
            | Self::MissingKid { .. }
            | Self::AlgorithmMismatch { .. }
            | Self::BadSignature { .. }
            | Self::WrongAudience { .. }
            | Self::NotYetValid { .. }
            | Self::IssuedInFuture { .. } => ErrorCode::InvalidIdentityToken,
            Self::FlagCount { .. }
            | Self::Config { .. }
            | Self::RulesFile { .. }
            | Self::JwksFile { .. }
            | Self::JwksFetch { .. } => ErrorCode::Internal,
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Self::Malformed {
            reason: reason.into(),
        }
    }

    pub(crate) fn config(what: impl Into<String>) -> Self {
        Self::Config { what: what.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_refusal() {
        let expired = OidcError::Expired {
            issuer: "https://i".into(),
            exp: 1,
            now: 100,
            leeway_secs: 60,
        };
        assert_eq!(expired.code(), ErrorCode::TokenExpired);
        let unmapped = OidcError::NoMatchingRule {
            issuer: "https://i".into(),
            subject: "s".into(),
        };
        assert_eq!(unmapped.code(), ErrorCode::UnmappedIdentity);
        assert_eq!(OidcError::AlgNone.code(), ErrorCode::InvalidIdentityToken);
        let fetch = OidcError::JwksFetch {
            issuer: "https://i".into(),
            url: "https://i/jwks".into(),
            reason: "timed out".into(),
        };
        assert_eq!(fetch.code(), ErrorCode::Internal);
    }
}
