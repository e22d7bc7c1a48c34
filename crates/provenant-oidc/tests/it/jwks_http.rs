//! Keys over HTTP from a local server: caching, refetch on an unknown
//! `kid` (once, shared, at most once per interval), discovery, failures;
//! and a JWKS file that changes.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use provenant_api::ErrorCode;
use provenant_oidc::{IssuerConfig, JwksSource, MAX_JWKS_BYTES, OidcConfig, OidcError, Verifier};
use serde_json::json;

use crate::support::*;

fn url_verifier(
    server: &JwksServer,
    source: JwksSource,
    tweak: impl FnOnce(&mut OidcConfig),
) -> Verifier {
    let mut config = OidcConfig::new(
        vec![IssuerConfig {
            issuer: server.base.clone(),
            audiences: vec![AUD.into()],
            jwks: source,
        }],
        vec![rule(&server.base, &[("sub", "*")], "ci")],
    );
    tweak(&mut config);
    Verifier::new(config).unwrap()
}

fn token(server: &JwksServer, key: &TestKey) -> String {
    key.sign(&claims_at(&server.base, SystemTime::now(), json!({})))
}

#[tokio::test]
async fn fetched_once_then_cached() {
    let k1 = TestKey::p256("k1");
    let server = JwksServer::start(jwks(&[&k1])).await;
    let v = url_verifier(&server, JwksSource::Url(server.jwks_url()), |_| {});
    assert_eq!(server.jwks_hits(), 0, "keys are fetched on first use");
    for _ in 0..3 {
        let w = v
            .verify(&token(&server, &k1), SystemTime::now())
            .await
            .unwrap();
        assert_eq!(w.issuer, server.base);
    }
    assert_eq!(server.jwks_hits(), 1);
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_interval() {
    let k1 = TestKey::ed25519("k1");
    let k2 = TestKey::ed25519("k2");
    let server = JwksServer::start(jwks(&[&k1])).await;
    // The default interval: one minute.
    let v = url_verifier(&server, JwksSource::Url(server.jwks_url()), |_| {});
    v.verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(server.jwks_hits(), 1);

    // The issuer rotates in k2 right after our fetch: within the interval,
    // tokens naming k2 are refused without a fetch, however many come.
    server.set_jwks(jwks(&[&k1, &k2]));
    for _ in 0..5 {
        let err = v
            .verify(&token(&server, &k2), SystemTime::now())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, OidcError::UnknownKid { kid, .. } if kid == "k2"),
            "{err}"
        );
    }
    assert_eq!(server.jwks_hits(), 1, "no fetch within the interval");
}

#[tokio::test]
async fn unknown_kid_refetch_picks_up_a_rotated_key() {
    let k1 = TestKey::ed25519("k1");
    let k2 = TestKey::p256("k2");
    let stranger = TestKey::ed25519("k9");
    let server = JwksServer::start(jwks(&[&k1])).await;
    let interval = Duration::from_millis(300);
    let v = url_verifier(&server, JwksSource::Url(server.jwks_url()), |c| {
        c.jwks_refetch_interval = interval;
    });
    v.verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap();
    server.set_jwks(jwks(&[&k1, &k2]));
    tokio::time::sleep(interval).await;
    // k2 is unknown: one refetch finds it.
    v.verify(&token(&server, &k2), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(server.jwks_hits(), 2);
    // A kid the issuer never published: one refetch, then refused...
    tokio::time::sleep(interval).await;
    let err = v
        .verify(&token(&server, &stranger), SystemTime::now())
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::UnknownKid { .. }), "{err}");
    assert_eq!(server.jwks_hits(), 3);
    // ...and again right away without one.
    let err = v
        .verify(&token(&server, &stranger), SystemTime::now())
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::UnknownKid { .. }), "{err}");
    assert_eq!(server.jwks_hits(), 3);
    // Known keys never wait for a fetch.
    v.verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(server.jwks_hits(), 3);
}

#[tokio::test]
async fn concurrent_verifications_share_one_fetch() {
    let k1 = TestKey::ed25519("k1");
    let server = JwksServer::start(jwks(&[&k1])).await;
    server.set_delay(Duration::from_millis(300));
    // No refetch interval: only the single flight keeps the count at one.
    let v = Arc::new(url_verifier(
        &server,
        JwksSource::Url(server.jwks_url()),
        |c| {
            c.jwks_refetch_interval = Duration::ZERO;
        },
    ));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let v = v.clone();
            let t = token(&server, &k1);
            tokio::spawn(async move { v.verify(&t, SystemTime::now()).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.jwks_hits(), 1);
}

#[tokio::test]
async fn discovery() {
    let k1 = TestKey::p256("k1");
    let server = JwksServer::start(jwks(&[&k1])).await;
    let v = url_verifier(&server, JwksSource::Discover, |_| {});
    v.verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap();
    assert_eq!((server.discovery_hits(), server.jwks_hits()), (1, 1));

    // A discovery document for another issuer is not believed.
    let server = JwksServer::start(jwks(&[&k1])).await;
    server.set_discovery_issuer("https://evil.example");
    let v = url_verifier(&server, JwksSource::Discover, |_| {});
    let err = v
        .verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::JwksFetch { reason, .. } if reason.contains("evil.example")),
        "{err}"
    );
    assert_eq!(server.jwks_hits(), 0);
}

#[tokio::test]
async fn fetch_failures() {
    let k1 = TestKey::ed25519("k1");
    let server = JwksServer::start(jwks(&[&k1])).await;
    server.set_status(500);
    let v = url_verifier(&server, JwksSource::Url(server.jwks_url()), |_| {});
    let err = v
        .verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::JwksFetch { reason, .. } if reason.contains("500")),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::Internal);
    assert_eq!(server.jwks_hits(), 1);
    // Within the refetch interval: no new fetch, but still the fetch error
    // (no key was ever loaded), not an unknown key.
    let err = v
        .verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::JwksFetch { reason, .. } if reason.contains("not retried")),
        "{err}"
    );
    assert_eq!(server.jwks_hits(), 1);
    // A prefetch ignores the interval, and reports.
    assert_eq!(v.prefetch().await.len(), 1);
    assert_eq!(server.jwks_hits(), 2);

    // Over the size cap.
    let server = JwksServer::start(" ".repeat(MAX_JWKS_BYTES + 1)).await;
    let v = url_verifier(&server, JwksSource::Url(server.jwks_url()), |_| {});
    let err = v
        .verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::JwksFetch { reason, .. } if reason.contains("over")),
        "{err}"
    );

    // Not a JWK set.
    let server = JwksServer::start("<html>".into()).await;
    let v = url_verifier(&server, JwksSource::Url(server.jwks_url()), |_| {});
    let err = v
        .verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::JwksFetch { .. }), "{err}");
}

#[tokio::test]
async fn stale_keys_are_refreshed_and_kept_when_the_issuer_is_down() {
    let k1 = TestKey::ed25519("k1");
    let server = JwksServer::start(jwks(&[&k1])).await;
    let age = Duration::from_millis(200);
    let v = url_verifier(&server, JwksSource::Url(server.jwks_url()), |c| {
        c.jwks_max_age = age;
        c.jwks_refetch_interval = age;
    });
    assert!(v.prefetch().await.is_empty());
    assert_eq!(server.jwks_hits(), 1);
    v.verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(server.jwks_hits(), 1);
    tokio::time::sleep(age).await;
    v.verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(server.jwks_hits(), 2, "an old set is fetched again");

    server.set_status(503);
    tokio::time::sleep(age).await;
    v.verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(server.jwks_hits(), 3, "tried, failed, kept the old keys");
}

#[tokio::test]
async fn a_changed_jwks_file_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let k1 = TestKey::ed25519("k1");
    let k2 = TestKey::p256("k2");
    let v = file_verifier(dir.path(), &[&k1]);
    let err = v
        .verify(&k2.sign(&claims(json!({}))), now())
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::UnknownKid { .. }), "{err}");
    write_jwks(dir.path(), &[&k1, &k2]);
    v.verify(&k2.sign(&claims(json!({}))), now()).await.unwrap();
    v.verify(&k1.sign(&claims(json!({}))), now()).await.unwrap();

    // A file that turns bad: its last good keys stay in use.
    std::fs::write(dir.path().join("jwks.json"), "{}").unwrap();
    v.verify(&k1.sign(&claims(json!({}))), now()).await.unwrap();
    let k3 = TestKey::ed25519("k3");
    let err = v
        .verify(&k3.sign(&claims(json!({}))), now())
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::JwksFile { .. }), "{err}");
}

#[tokio::test]
async fn a_slow_refresh_does_not_hold_up_known_keys() {
    let k1 = TestKey::ed25519("k1");
    let server = JwksServer::start(jwks(&[&k1])).await;
    let age = Duration::from_millis(200);
    let v = Arc::new(url_verifier(
        &server,
        JwksSource::Url(server.jwks_url()),
        |c| {
            c.jwks_max_age = age;
            c.jwks_refetch_interval = age;
        },
    ));
    assert!(v.prefetch().await.is_empty());
    tokio::time::sleep(age).await;
    server.set_delay(Duration::from_secs(2));
    // This one finds the keys old and refreshes them, slowly...
    let refresher = {
        let (v, t) = (v.clone(), token(&server, &k1));
        tokio::spawn(async move { v.verify(&t, SystemTime::now()).await })
    };
    while server.jwks_hits() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...while others go on with the keys they have.
    let start = std::time::Instant::now();
    v.verify(&token(&server, &k1), SystemTime::now())
        .await
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "waited {:?} for another task's refresh",
        start.elapsed()
    );
    refresher.await.unwrap().unwrap();
    assert_eq!(server.jwks_hits(), 2);
}
