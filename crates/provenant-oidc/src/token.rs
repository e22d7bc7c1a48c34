//! The cheap checks before any crypto: size, shape, the JOSE header, and the
//! (still unverified) claims that choose the issuer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::OidcError;

/// The longest token looked at: real identity tokens are 1–3 KiB.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Whether `s` has the shape of a JWT in compact form: three base64url
/// segments joined by `.`, the first a JSON object with an `alg`. Tells an
/// identity token from an opaque bearer token (`pvt_…`) without verifying
/// anything.
pub fn looks_like_jwt(s: &str) -> bool {
    if s.len() > MAX_TOKEN_LEN {
        return false;
    }
    let mut segments = s.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return false;
    };
    let b64url = |seg: &str| {
        seg.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if header.is_empty() || payload.is_empty() || !b64url(payload) || !b64url(signature) {
        return false;
    }
    parse_header(header).is_ok_and(|h| h.alg.is_some())
}

/// The header fields looked at before the key is chosen.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
}

fn decode_segment(seg: &str, what: &str) -> Result<Vec<u8>, OidcError> {
    URL_SAFE_NO_PAD
        .decode(seg)
        .map_err(|_| OidcError::malformed(format!("the {what} is not base64url")))
}

fn parse_header(seg: &str) -> Result<RawHeader, OidcError> {
    let bytes = decode_segment(seg, "header")?;
    serde_json::from_slice(&bytes)
        .map_err(|e| OidcError::malformed(format!("the header is not a JSON object: {e}")))
}

/// What the pre-checks learnt: the header's algorithm and key id, and the
/// unverified claims.
pub(crate) struct Unverified {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
}

/// Size, shape and header checks, then the payload as a JSON object.
/// Refuses `alg: none` and HMAC before anything else is looked at.
pub(crate) fn pre_check(token: &str) -> Result<Unverified, OidcError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(OidcError::TooLong {
            len: token.len(),
            max: MAX_TOKEN_LEN,
        });
    }
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(OidcError::malformed(
            "not three base64url segments joined by `.`",
        ));
    };
    let header = parse_header(header)?;
    let Some(alg_name) = header.alg else {
        return Err(OidcError::malformed("the header has no `alg`"));
    };
    let alg = match alg_name.as_str() {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        other if other.eq_ignore_ascii_case("none") => return Err(OidcError::AlgNone),
        other if other.to_ascii_uppercase().starts_with("HS") => {
            return Err(OidcError::HmacAlgorithm {
                alg: truncate(other),
            });
        }
        other => {
            return Err(OidcError::UnsupportedAlgorithm {
                alg: truncate(other),
            });
        }
    };
    let payload = decode_segment(payload, "payload")?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|e| OidcError::malformed(format!("the payload is not a JSON object: {e}")))?;
    Ok(Unverified {
        alg,
        kid: header.kid,
        claims,
    })
}

/// At most 64 characters of something the token said, for a message.
pub(crate) fn truncate(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The name of a JWS algorithm, as the header writes it.
pub(crate) fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn jwt_shape() {
        let h = b64(r#"{"alg":"ES256","kid":"k"}"#);
        let p = b64(r#"{"iss":"x"}"#);
        assert!(looks_like_jwt(&format!("{h}.{p}.c2ln")));
        assert!(looks_like_jwt(&format!("{h}.{p}.")));
        assert!(!looks_like_jwt(
            "pvt_abcdefghijklmnopqrstuvwxyz012345678901234"
        ));
        assert!(!looks_like_jwt(&format!("{h}.{p}")));
        assert!(!looks_like_jwt(&format!("{h}.{p}.sig.x")));
        assert!(!looks_like_jwt(&format!("{h}.{p}.si+g")));
        assert!(!looks_like_jwt(&format!(
            "{}.{p}.c2ln",
            b64(r#"{"typ":"JWT"}"#)
        )));
        assert!(!looks_like_jwt(&format!("{}.{p}.c2ln", b64("[1]"))));
        assert!(!looks_like_jwt(&format!(
            "{h}.{}.c2ln",
            "a".repeat(MAX_TOKEN_LEN)
        )));
    }

    #[test]
    fn pre_check_refusals() {
        let p = b64(r#"{"iss":"x"}"#);
        let tok = |header: &str| format!("{}.{p}.c2ln", b64(header));
        assert!(matches!(
            pre_check(&tok(r#"{"alg":"none"}"#)),
            Err(OidcError::AlgNone)
        ));
        assert!(matches!(
            pre_check(&tok(r#"{"alg":"NONE"}"#)),
            Err(OidcError::AlgNone)
        ));
        assert!(matches!(
            pre_check(&tok(r#"{"alg":"HS256"}"#)),
            Err(OidcError::HmacAlgorithm { alg }) if alg == "HS256"
        ));
        assert!(matches!(
            pre_check(&tok(r#"{"alg":"ES512"}"#)),
            Err(OidcError::UnsupportedAlgorithm { alg }) if alg == "ES512"
        ));
        assert!(matches!(
            pre_check(&tok(r#"{"kid":"k"}"#)),
            Err(OidcError::Malformed { .. })
        ));
        assert!(matches!(
            pre_check(&format!("{}.!!.c2ln", b64(r#"{"alg":"ES256"}"#))),
            Err(OidcError::Malformed { .. })
        ));
        assert!(matches!(
            pre_check(&format!("{}.{}.c2ln", b64(r#"{"alg":"ES256"}"#), b64("[]"))),
            Err(OidcError::Malformed { .. })
        ));
        assert!(matches!(
            pre_check(&"a".repeat(MAX_TOKEN_LEN + 1)),
            Err(OidcError::TooLong { len, max: MAX_TOKEN_LEN }) if len == MAX_TOKEN_LEN + 1
        ));
        let ok = pre_check(&tok(r#"{"alg":"EdDSA","kid":"k1"}"#)).unwrap();
        assert_eq!(ok.alg, Algorithm::EdDSA);
        assert_eq!(ok.kid.as_deref(), Some("k1"));
        assert_eq!(ok.claims["iss"], "x");
        assert_eq!(truncate(&"x".repeat(100)).chars().count(), 65);
    }
}
