//! The clock-skew allowance: exactly the configured leeway, no more.

use std::time::Duration;

use provenant_oidc::{MAX_LEEWAY, OidcError, Verifier};
use serde_json::json;

use crate::support::*;

fn verifier(dir: &std::path::Path, key: &TestKey, leeway: Duration) -> Result<Verifier, OidcError> {
    let path = write_jwks(dir, &[key]);
    let mut config = file_config(ISS, &path, vec![rule(ISS, &[("sub", "*")], "ci")]);
    config.leeway = leeway;
    Verifier::new(config)
}

#[tokio::test]
async fn leeway_edges() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("k1");
    let v = verifier(dir.path(), &key, Duration::from_secs(60)).unwrap();
    let t = secs(now());
    let check = |extra: serde_json::Value| {
        let token = key.sign(&claims(extra));
        let v = &v;
        async move { v.verify(&token, now()).await }
    };
    // exp 59 s ago: inside the leeway; 60 s ago: expired.
    check(json!({"exp": t - 59, "iat": t - 600, "nbf": null}))
        .await
        .unwrap();
    let err = check(json!({"exp": t - 60, "iat": t - 600, "nbf": null}))
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::Expired { .. }), "{err}");
    // nbf 60 s ahead: fine; 61 s: not yet.
    check(json!({"nbf": t + 60})).await.unwrap();
    let err = check(json!({"nbf": t + 61})).await.unwrap_err();
    assert!(matches!(err, OidcError::NotYetValid { .. }), "{err}");
    // iat likewise.
    check(json!({"iat": t + 60, "nbf": null})).await.unwrap();
    let err = check(json!({"iat": t + 61, "nbf": null}))
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::IssuedInFuture { .. }), "{err}");
}

#[tokio::test]
async fn zero_leeway_and_the_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("k1");
    let v = verifier(dir.path(), &key, Duration::ZERO).unwrap();
    let t = secs(now());
    let token = key.sign(&claims(json!({"exp": t, "iat": t - 10, "nbf": null})));
    let err = v.verify(&token, now()).await.unwrap_err();
    assert!(
        matches!(err, OidcError::Expired { leeway_secs: 0, .. }),
        "{err}"
    );
    let token = key.sign(&claims(json!({"exp": t + 1, "iat": t, "nbf": t})));
    v.verify(&token, now()).await.unwrap();

    verifier(dir.path(), &key, MAX_LEEWAY).unwrap();
    let err = verifier(dir.path(), &key, MAX_LEEWAY + Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, OidcError::Config { .. }), "{err}");
    assert!(err.to_string().contains("301 s"), "{err}");
}
