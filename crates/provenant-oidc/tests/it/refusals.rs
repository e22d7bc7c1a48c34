//! Every refusal, each with its own error variant and API code.

use jsonwebtoken::{Algorithm, Header};
use provenant_api::ErrorCode;
use provenant_oidc::{MAX_TOKEN_LEN, OidcError, Verifier};
use serde_json::json;

use crate::support::*;

/// A refusal's message never carries the token's payload or signature.
fn assert_no_echo(err: &OidcError, token: &str) {
    let text = err.to_string();
    for segment in token.split('.').skip(1).filter(|s| s.len() > 8) {
        assert!(!text.contains(segment), "{text} echoes the token");
    }
}

async fn refuse(verifier: &Verifier, token: &str) -> OidcError {
    let err = verifier.verify(token, now()).await.unwrap_err();
    assert_no_echo(&err, token);
    err
}

#[tokio::test]
async fn a_valid_token_passes() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::p256("k1");
    let v = file_verifier(dir.path(), &[&key]);
    let w = v
        .verify(&key.sign(&claims(json!({}))), now())
        .await
        .unwrap();
    assert_eq!(w.issuer, ISS);
    assert_eq!(w.service_account, "ci");
    assert_eq!(secs(w.expires_at), secs(now()) + 600);
    assert_eq!(
        w.principal,
        format!("oidc:{ISS}#repo:acme/train:ref:refs/heads/main")
    );
}

#[tokio::test]
async fn bad_signature() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = TestKey::ed25519("k1");
    let impostor = TestKey::ed25519("k1");
    let v = file_verifier(dir.path(), &[&trusted]);
    let err = refuse(&v, &impostor.sign(&claims(json!({})))).await;
    assert!(
        matches!(&err, OidcError::BadSignature { issuer, kid } if issuer == ISS && kid == "k1"),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);

    // A trusted token whose payload is swapped for another's.
    let good = trusted.sign(&claims(json!({})));
    let forged_payload = b64(claims(json!({"sub": "admin"})).to_string());
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let err = refuse(&v, &forged).await;
    assert!(matches!(err, OidcError::BadSignature { .. }), "{err}");

    // A signature that is no base64url.
    let err = refuse(&v, &format!("{}.{}.!!!", parts[0], parts[1])).await;
    assert!(matches!(err, OidcError::Malformed { .. }), "{err}");
}

#[tokio::test]
async fn alg_none() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("k1");
    let v = file_verifier(dir.path(), &[&key]);
    let header = b64(r#"{"alg":"none","kid":"k1"}"#);
    let payload = b64(claims(json!({})).to_string());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}.c2ln"),
    ] {
        let err = refuse(&v, &token).await;
        assert!(matches!(err, OidcError::AlgNone), "{err}");
        assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
    }
}

/// HMAC-SHA256 keyed with `secret`: the algorithm-confusion forgery.
fn hs256_token(kid: &str, secret: &[u8]) -> String {
    let header = b64(json!({"alg": "HS256", "typ": "JWT", "kid": kid}).to_string());
    let payload = b64(claims(json!({})).to_string());
    let input = format!("{header}.{payload}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

#[tokio::test]
async fn hmac_with_the_public_key_as_secret() {
    let dir = tempfile::tempdir().unwrap();
    let ec = TestKey::p256("ec");
    let Some(rsa) = TestKey::rsa("rsa") else {
        return;
    };
    let v = file_verifier(dir.path(), &[&ec, &rsa]);
    // The RSA key as published: its DER and its JWK text, both public.
    for secret in [rsa.public.clone(), rsa.jwk.to_string().into_bytes()] {
        let err = refuse(&v, &hs256_token("rsa", &secret)).await;
        assert!(
            matches!(&err, OidcError::HmacAlgorithm { alg } if alg == "HS256"),
            "{err}"
        );
    }
    let err = refuse(&v, &hs256_token("ec", &ec.public)).await;
    assert!(matches!(err, OidcError::HmacAlgorithm { .. }), "{err}");
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
    // RS256 itself verifies with the same key.
    v.verify(&rsa.sign(&claims(json!({}))), now())
        .await
        .unwrap();
}

#[tokio::test]
async fn header_alg_must_be_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let ed = TestKey::ed25519("ed");
    let ec = TestKey::p256("ec");
    let v = file_verifier(dir.path(), &[&ed]);
    // A genuine ES256 signature, by a key the issuer does not have, naming
    // the issuer's Ed25519 key.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ed".into());
    let err = refuse(&v, &ec.sign_with(header, &claims(json!({})))).await;
    assert!(
        matches!(&err, OidcError::AlgorithmMismatch { kid, header_alg, key_alg, .. }
            if kid == "ed" && header_alg == "ES256" && key_alg == "EdDSA"),
        "{err}"
    );
    // An algorithm nobody supports.
    let header = b64(r#"{"alg":"ES512","kid":"ed"}"#);
    let payload = b64(claims(json!({})).to_string());
    let err = refuse(&v, &format!("{header}.{payload}.c2ln")).await;
    assert!(
        matches!(err, OidcError::UnsupportedAlgorithm { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_issuer_and_wrong_audience() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("k1");
    let v = file_verifier(dir.path(), &[&key]);
    let err = refuse(
        &v,
        &key.sign(&claims(json!({"iss": "https://evil.example"}))),
    )
    .await;
    assert!(
        matches!(&err, OidcError::UntrustedIssuer { issuer } if issuer == "https://evil.example"),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
    // The issuer with a trailing slash is another issuer.
    let err = refuse(&v, &key.sign(&claims(json!({"iss": format!("{ISS}/")})))).await;
    assert!(matches!(err, OidcError::UntrustedIssuer { .. }), "{err}");

    let err = refuse(&v, &key.sign(&claims(json!({"aud": "sigstore"})))).await;
    assert!(
        matches!(&err, OidcError::WrongAudience { found, expected, .. }
            if found == &["sigstore"] && expected == &[AUD]),
        "{err}"
    );
    let err = refuse(&v, &key.sign(&claims(json!({"aud": ["a", "b"]})))).await;
    assert!(matches!(err, OidcError::WrongAudience { .. }), "{err}");
    // Our audience among others is enough.
    v.verify(&key.sign(&claims(json!({"aud": ["a", AUD]}))), now())
        .await
        .unwrap();
}

#[tokio::test]
async fn expired_not_yet_valid_and_issued_in_the_future() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("k1");
    let v = file_verifier(dir.path(), &[&key]);
    let t = secs(now());

    let err = refuse(
        &v,
        &key.sign(&claims(json!({"exp": t - 3600, "iat": t - 7200}))),
    )
    .await;
    assert!(
        matches!(&err, OidcError::Expired { exp, now, leeway_secs: 60, .. } if *exp == t - 3600 && *now == t),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::TokenExpired);

    let err = refuse(
        &v,
        &key.sign(&claims(json!({"nbf": t + 3600, "exp": t + 7200}))),
    )
    .await;
    assert!(
        matches!(&err, OidcError::NotYetValid { nbf, .. } if *nbf == t + 3600),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);

    let err = refuse(
        &v,
        &key.sign(&claims(json!({"iat": t + 3600, "nbf": null}))),
    )
    .await;
    assert!(
        matches!(&err, OidcError::IssuedInFuture { iat, .. } if *iat == t + 3600),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
}

#[tokio::test]
async fn unknown_and_missing_kid() {
    let dir = tempfile::tempdir().unwrap();
    let k1 = TestKey::ed25519("k1");
    let k2 = TestKey::ed25519("k2");
    let stranger = TestKey::ed25519("k9");
    let v = file_verifier(dir.path(), &[&k1, &k2]);
    let err = refuse(&v, &stranger.sign(&claims(json!({})))).await;
    assert!(
        matches!(&err, OidcError::UnknownKid { issuer, kid } if issuer == ISS && kid == "k9"),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);

    // No kid, two keys: no way to choose.
    let unnamed = k1.sign_with(Header::new(Algorithm::EdDSA), &claims(json!({})));
    let err = refuse(&v, &unnamed).await;
    assert!(
        matches!(err, OidcError::MissingKid { keys: 2, .. }),
        "{err}"
    );
    // No kid, one key: that key.
    let dir1 = tempfile::tempdir().unwrap();
    let v1 = file_verifier(dir1.path(), &[&k1]);
    v1.verify(&unnamed, now()).await.unwrap();
}

#[tokio::test]
async fn claims_that_match_no_rule() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("k1");
    let path = write_jwks(dir.path(), &[&key]);
    let v = Verifier::new(file_config(
        ISS,
        &path,
        vec![rule(ISS, &[("repository", "acme/train")], "ci")],
    ))
    .unwrap();
    let err = refuse(&v, &key.sign(&claims(json!({"repository": "acme/other"})))).await;
    assert!(
        matches!(&err, OidcError::NoMatchingRule { issuer, subject }
            if issuer == ISS && subject == "repo:acme/train:ref:refs/heads/main"),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::UnmappedIdentity);
    // Without the claim at all, neither.
    let err = refuse(&v, &key.sign(&claims(json!({})))).await;
    assert!(matches!(err, OidcError::NoMatchingRule { .. }), "{err}");
}

#[tokio::test]
async fn malformed_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("k1");
    let v = file_verifier(dir.path(), &[&key]);
    let good = key.sign(&claims(json!({})));
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        String::new(),
        "pvt_notajwt".to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{good}.x"),
        format!("{}.{}.{}", b64("not json"), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], b64("[1,2]"), parts[2]),
        format!("{}.{}.{}", parts[0], "%%%", parts[2]),
        format!("{}.{}.{}", b64(r#"{"kid":"k1"}"#), parts[1], parts[2]),
    ];
    for token in &cases {
        let err = refuse(&v, token).await;
        assert!(
            matches!(err, OidcError::Malformed { .. }),
            "{token:?}: {err}"
        );
        assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
    }
    let long = format!("{good}{}", "A".repeat(MAX_TOKEN_LEN));
    let err = refuse(&v, &long).await;
    assert!(matches!(err, OidcError::TooLong { .. }), "{err}");
}

#[tokio::test]
async fn required_claims() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("k1");
    let v = file_verifier(dir.path(), &[&key]);
    for claim in ["iss", "aud", "exp", "sub"] {
        let err = refuse(&v, &key.sign(&claims(json!({ claim: null })))).await;
        assert!(
            matches!(&err, OidcError::MissingClaim { claim: c } if *c == claim),
            "{claim}: {err}"
        );
    }
    let err = refuse(&v, &key.sign(&claims(json!({"exp": "tomorrow"})))).await;
    assert!(
        matches!(err, OidcError::InvalidClaim { claim: "exp", .. }),
        "{err}"
    );
    let err = refuse(&v, &key.sign(&claims(json!({"iss": 7})))).await;
    assert!(
        matches!(err, OidcError::InvalidClaim { claim: "iss", .. }),
        "{err}"
    );
    // A fractional NumericDate is fine.
    let t = secs(now()) as f64;
    v.verify(&key.sign(&claims(json!({"exp": t + 600.5}))), now())
        .await
        .unwrap();
}

#[tokio::test]
async fn unreadable_jwks_file_is_a_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.json");
    let err = Verifier::new(file_config(
        ISS,
        &missing,
        vec![rule(ISS, &[("sub", "*")], "ci")],
    ))
    .unwrap_err();
    assert!(
        matches!(&err, OidcError::JwksFile { path, .. } if path == &missing),
        "{err}"
    );
    let symmetric = dir.path().join("oct.json");
    std::fs::write(
        &symmetric,
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}"#,
    )
    .unwrap();
    let err = Verifier::new(file_config(
        ISS,
        &symmetric,
        vec![rule(ISS, &[("sub", "*")], "ci")],
    ))
    .unwrap_err();
    assert!(err.to_string().contains("no usable signing key"), "{err}");
}
