//! Time per verification with a cached key: `cargo bench -p provenant-oidc`.
//!
//! A plain loop (no criterion): for ES256, EdDSA and RS256 (2048-bit, made
//! by `openssl genpkey`; left out with a note when openssl cannot run) it
//! verifies one realistic GitHub Actions token over and over and prints the
//! mean time per verification, the whole path included: pre-checks, key
//! lookup, signature, claim checks, rule matching and the principal name.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use provenant_api::{Grant, NamespaceRole};
use provenant_oidc::{GITHUB_ISSUER, IssuerConfig, JwksSource, OidcConfig, Rule, Verifier};
use ring::rand::SystemRandom;
use ring::signature::{self as rs, KeyPair as _};
use serde_json::{Value, json};

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// (algorithm, signing key, public JWK)
fn keys() -> Vec<(Algorithm, EncodingKey, Value)> {
    let rng = SystemRandom::new();
    let mut out = Vec::new();

    let alg = &rs::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = rs::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let point = rs::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng)
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    out.push((
        Algorithm::ES256,
        EncodingKey::from_ec_der(pkcs8.as_ref()),
        json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]), "kid": "ES256"}),
    ));

    let pkcs8 = rs::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let public = rs::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    out.push((
        Algorithm::EdDSA,
        EncodingKey::from_ed_der(pkcs8.as_ref()),
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&public), "kid": "EdDSA"}),
    ));

    let openssl = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-outform",
            "DER",
        ])
        .output();
    match openssl {
        Ok(o) if o.status.success() => {
            let pair = rs::RsaKeyPair::from_der(&o.stdout)
                .or_else(|_| rs::RsaKeyPair::from_pkcs8(&o.stdout))
                .unwrap();
            let c: rs::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
            out.push((
                Algorithm::RS256,
                EncodingKey::from_rsa_der(&o.stdout),
                json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e), "kid": "RS256"}),
            ));
        }
        _ => eprintln!("RS256 left out: openssl genpkey cannot run here"),
    }
    out
}

fn main() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let jwks_path = dir.path().join("jwks.json");
    let jwks = json!({"keys": keys.iter().map(|(_, _, jwk)| jwk.clone()).collect::<Vec<_>>()});
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    let rule = Rule {
        issuer: GITHUB_ISSUER.into(),
        claims: BTreeMap::from([
            ("repository".to_owned(), "acme/train".to_owned()),
            (
                "workflow_ref".to_owned(),
                "acme/train/.github/workflows/*.yml@refs/heads/main".to_owned(),
            ),
        ]),
        service_account: "ci-train".into(),
        grants: vec![Grant {
            namespace: "aiops".into(),
            role: NamespaceRole::Publisher,
        }],
        name: None,
    };
    let config = OidcConfig::new(
        vec![IssuerConfig {
            issuer: GITHUB_ISSUER.into(),
            audiences: vec!["provenant".into()],
            jwks: JwksSource::File(jwks_path),
        }],
        vec![rule],
    );
    let verifier = Verifier::new(config).unwrap();
    let now = SystemTime::now();
    let t = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({
        "iss": GITHUB_ISSUER, "aud": "provenant", "iat": t, "nbf": t, "exp": t + 3600,
        "jti": "d1b7c9e2-7f7e-4b1e-9b8e-3a3f0c2b1a11",
        "sub": "repo:acme/train:ref:refs/heads/main", "ref": "refs/heads/main",
        "sha": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4", "repository": "acme/train",
        "repository_owner": "acme", "repository_owner_id": "1234", "repository_id": "5678",
        "repository_visibility": "private", "run_id": "9876543210", "run_number": "42",
        "run_attempt": "1", "runner_environment": "github-hosted", "actor": "octocat",
        "actor_id": "1", "workflow": "train", "head_ref": "", "base_ref": "",
        "event_name": "push", "ref_type": "branch", "ref_protected": "true",
        "workflow_ref": "acme/train/.github/workflows/train.yml@refs/heads/main",
        "workflow_sha": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4",
        "job_workflow_ref": "acme/train/.github/workflows/train.yml@refs/heads/main",
        "job_workflow_sha": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4",
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    println!(
        "verification with a cached key (a {}-claim GitHub Actions token):",
        claims.as_object().unwrap().len()
    );
    for (alg, key, _) in &keys {
        let mut header = Header::new(*alg);
        header.kid = Some(format!("{alg:?}"));
        let token = jsonwebtoken::encode(&header, &claims, key).unwrap();
        runtime.block_on(async {
            // Warm up, and check it verifies at all.
            let w = verifier.verify(&token, now).await.unwrap();
            assert_eq!(w.service_account, "ci-train");
            // Enough iterations for about half a second.
            let start = Instant::now();
            let mut probe = 0u32;
            while start.elapsed() < Duration::from_millis(100) {
                black_box(verifier.verify(black_box(&token), now).await.unwrap());
                probe += 1;
            }
            let n = (probe * 5).max(100);
            let start = Instant::now();
            for _ in 0..n {
                black_box(verifier.verify(black_box(&token), now).await.unwrap());
            }
            let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
            println!(
                "  {:<6} {per:8.1} µs per verification ({n} runs, token {} bytes)",
                format!("{alg:?}"),
                token.len()
            );
        });
    }
}
