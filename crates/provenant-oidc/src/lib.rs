//! Workload identity for Provenant: OIDC identity tokens (JWTs) from
//! configured issuers, verified and mapped to a service account and its
//! roles.
//!
//! A CI job or a pod presents the identity token its platform gives it
//! (GitHub Actions, GitLab CI, a Kubernetes projected service-account token)
//! as `Authorization: Bearer <jwt>`. The [`Verifier`] checks it:
//!
//! - the JWS (RFC 7515, <https://www.rfc-editor.org/rfc/rfc7515>) in compact
//!   form, at most [`MAX_TOKEN_LEN`] bytes; `alg: none` and HMAC refused
//!   before anything else; RS256/384/512, PS256/384/512, ES256, ES384 and
//!   EdDSA verified with `ring`, the algorithm taken from the issuer's key
//!   (its `kty`/`crv`/`alg`), never from the token alone;
//! - the JWT claims (RFC 7519, <https://www.rfc-editor.org/rfc/rfc7519>):
//!   `iss` a configured issuer, `aud` one of its audiences, `exp`, `nbf` and
//!   `iat` within a bounded leeway, `sub` present;
//! - the issuer's keys (JWK, RFC 7517, <https://www.rfc-editor.org/rfc/rfc7517>)
//!   from a file, a URL, or OpenID Connect Discovery
//!   (<https://openid.net/specs/openid-connect-discovery-1_0.html>), cached
//!   and fetched again (once, shared, at most once a minute) when a token
//!   names an unknown `kid`;
//! - then the mapping rules: the first whose claim patterns match gives the
//!   service account and grants; the principal name records the workload
//!   (`github:org/repo:.github/workflows/train.yml@refs/heads/main`).
//!
//! Every refusal is its own [`OidcError`] variant, with the API error code
//! a server answers ([`OidcError::code`]). JWS parsing is the
//! `jsonwebtoken` crate's, over this crate's `ring` provider ([`install_crypto_provider`]);
//! the claim checks are ours, against the caller's clock. `docs/oidc.md`
//! documents the flags, the rules file and the principal names.

mod config;
mod crypto;
mod error;
mod jwks;
mod mapping;
mod token;
mod verifier;

pub use config::{
    DEFAULT_JWKS_MAX_AGE, DEFAULT_LEEWAY, DEFAULT_REFETCH_INTERVAL, IssuerConfig, JwksSource,
    MAX_LEEWAY, OidcConfig, Rule,
};
pub use crypto::install as install_crypto_provider;
pub use error::OidcError;
pub use jwks::{FETCH_TIMEOUT, MAX_JWKS_BYTES};
pub use mapping::{GITHUB_ISSUER, derived_name, glob_match};
pub use token::{MAX_TOKEN_LEN, looks_like_jwt};
pub use verifier::{Verifier, Workload};
