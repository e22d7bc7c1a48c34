//! Claims to service accounts and principal names, through the verifier:
//! GitHub Actions, GitLab CI and Kubernetes tokens as those platforms issue
//! them (claims abridged).

use provenant_api::{Grant, NamespaceRole};
use provenant_oidc::{GITHUB_ISSUER, OidcConfig, OidcError, Rule, Verifier};
use serde_json::{Value, json};

use crate::support::*;

fn verifier_for(dir: &std::path::Path, issuer: &str, key: &TestKey, rules: Vec<Rule>) -> Verifier {
    let path = write_jwks(dir, &[key]);
    Verifier::new(file_config(issuer, &path, rules)).unwrap()
}

/// A GitHub Actions token of `acme/train`'s `workflow` on `git_ref`.
fn github_claims(workflow: &str, git_ref: &str) -> Value {
    claims_at(
        GITHUB_ISSUER,
        now(),
        json!({
            "sub": format!("repo:acme/train:ref:{git_ref}"),
            "repository": "acme/train",
            "repository_owner": "acme",
            "ref": git_ref,
            "ref_type": "branch",
            "workflow": "train",
            "workflow_ref": format!("acme/train/{workflow}@{git_ref}"),
            "job_workflow_ref": format!("acme/train/{workflow}@{git_ref}"),
            "event_name": "push",
            "run_attempt": "1",
            "environment": "production",
        }),
    )
}

#[tokio::test]
async fn github_rule_from_a_rules_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("gh");
    let jwks = write_jwks(dir.path(), &[&key]);
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        r#"
rules:
  - issuer: https://token.actions.githubusercontent.com
    claims: { repository: acme/train, ref: refs/heads/main, workflow_ref: "acme/train/.github/workflows/*.yml@refs/heads/main" }
    service_account: ci-train
    grants: [ { namespace: aiops, role: publisher } ]
  - issuer: https://token.actions.githubusercontent.com
    claims: { repository: acme/train, environment: production }
    service_account: ci-deploy
    grants: [ { namespace: aiops, role: maintainer }, { namespace: "*", role: viewer } ]
"#,
    )
    .unwrap();
    let config = OidcConfig::from_flags(
        &[GITHUB_ISSUER.into()],
        &[AUD.into()],
        &[jwks.display().to_string()],
        Some(&rules),
    )
    .unwrap();
    let v = Verifier::new(config).unwrap();

    let token = key.sign(&github_claims(
        ".github/workflows/train.yml",
        "refs/heads/main",
    ));
    let w = v.verify(&token, now()).await.unwrap();
    assert_eq!(
        w.principal,
        "github:acme/train:.github/workflows/train.yml@refs/heads/main"
    );
    assert_eq!(w.service_account, "ci-train");
    assert_eq!(w.rule, 0);
    assert_eq!(
        w.grants,
        [Grant {
            namespace: "aiops".into(),
            role: NamespaceRole::Publisher
        }]
    );
    assert_eq!(w.claims["environment"], "production");

    // The glob spans directories.
    let token = key.sign(&github_claims(
        ".github/workflows/nightly/train.yml",
        "refs/heads/main",
    ));
    let w = v.verify(&token, now()).await.unwrap();
    assert_eq!(w.service_account, "ci-train");
    assert_eq!(
        w.principal,
        "github:acme/train:.github/workflows/nightly/train.yml@refs/heads/main"
    );

    // Another branch misses the first rule; the second (environment) maps it.
    let token = key.sign(&github_claims(
        ".github/workflows/train.yml",
        "refs/heads/dev",
    ));
    let w = v.verify(&token, now()).await.unwrap();
    assert_eq!((w.service_account.as_str(), w.rule), ("ci-deploy", 1));
    assert_eq!(w.grants.len(), 2);
    assert_eq!(
        w.principal,
        "github:acme/train:.github/workflows/train.yml@refs/heads/dev"
    );

    // A `.yaml` workflow on main without the environment: no rule.
    let mut c = github_claims(".github/workflows/train.yaml", "refs/heads/main");
    c.as_object_mut().unwrap().remove("environment");
    let err = v.verify(&key.sign(&c), now()).await.unwrap_err();
    assert!(matches!(err, OidcError::NoMatchingRule { .. }), "{err}");
}

#[tokio::test]
async fn gitlab_ci() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::p256("gl");
    let iss = "https://gitlab.com";
    let v = verifier_for(
        dir.path(),
        iss,
        &key,
        vec![rule(
            iss,
            &[
                ("project_path", "ml/*"),
                ("ref", "main"),
                ("ref_protected", "true"),
            ],
            "gitlab-ml",
        )],
    );
    let claims = claims_at(
        iss,
        now(),
        json!({
            "sub": "project_path:ml/train:ref_type:branch:ref:main",
            "namespace_path": "ml", "project_path": "ml/train",
            "ref": "main", "ref_type": "branch", "ref_protected": "true",
            "pipeline_source": "push",
            "ci_config_ref_uri": "gitlab.com/ml/train//.gitlab-ci.yml@refs/heads/main",
        }),
    );
    let w = v.verify(&key.sign(&claims), now()).await.unwrap();
    assert_eq!(w.principal, "gitlab:ml/train@refs/heads/main");
    assert_eq!(w.service_account, "gitlab-ml");

    let mut unprotected = claims.clone();
    unprotected["ref_protected"] = json!("false");
    let err = v.verify(&key.sign(&unprotected), now()).await.unwrap_err();
    assert!(matches!(err, OidcError::NoMatchingRule { .. }), "{err}");
}

#[tokio::test]
async fn kubernetes_service_account_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::p256("k8s");
    let iss = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123";
    let v = verifier_for(
        dir.path(),
        iss,
        &key,
        vec![rule(
            iss,
            &[("sub", "system:serviceaccount:ml:trainer")],
            "k8s-trainer",
        )],
    );
    let claims = claims_at(
        iss,
        now(),
        json!({
            "sub": "system:serviceaccount:ml:trainer",
            "kubernetes.io": {"namespace": "ml", "serviceaccount": {"name": "trainer", "uid": "9f"}},
        }),
    );
    let w = v.verify(&key.sign(&claims), now()).await.unwrap();
    assert_eq!(
        w.principal,
        "k8s:ml/trainer@oidc.eks.eu-west-1.amazonaws.com/id/ABC123"
    );
    assert_eq!(w.subject, "system:serviceaccount:ml:trainer");

    let mut other = claims.clone();
    other["sub"] = json!("system:serviceaccount:ml:default");
    let err = v.verify(&key.sign(&other), now()).await.unwrap_err();
    assert!(matches!(err, OidcError::NoMatchingRule { .. }), "{err}");
}

#[tokio::test]
async fn name_templates_and_rule_order() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("k1");
    let templated = Rule {
        name: Some("ghes:{repository}@{ref}".into()),
        ..rule(ISS, &[("repository", "acme/*")], "first")
    };
    let missing = Rule {
        name: Some("x:{no_such_claim}".into()),
        ..rule(ISS, &[("repository", "beta/*")], "second")
    };
    let v = verifier_for(
        dir.path(),
        ISS,
        &key,
        vec![
            templated,
            missing,
            rule(ISS, &[("repository", "*")], "catch-all"),
        ],
    );
    let w = v
        .verify(
            &key.sign(&claims(
                json!({"repository": "acme/x", "ref": "refs/heads/main"}),
            )),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(w.principal, "ghes:acme/x@refs/heads/main");
    assert_eq!(w.service_account, "first");

    let err = v
        .verify(&key.sign(&claims(json!({"repository": "beta/y"}))), now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::NameClaimMissing { rule: 1, claim, .. } if claim == "no_such_claim"),
        "{err}"
    );
    assert_eq!(err.code(), provenant_api::ErrorCode::UnmappedIdentity);

    let w = v
        .verify(&key.sign(&claims(json!({"repository": "gamma/z"}))), now())
        .await
        .unwrap();
    assert_eq!((w.service_account.as_str(), w.rule), ("catch-all", 2));
}

#[tokio::test]
async fn rules_apply_only_to_their_issuer() {
    let dir_a = tempfile::tempdir().unwrap();
    let key = TestKey::ed25519("k1");
    let jwks = write_jwks(dir_a.path(), &[&key]);
    let other = "https://other.example";
    let mut config = file_config(ISS, &jwks, vec![rule(other, &[("sub", "*")], "other-ci")]);
    let mut second = config.issuers[0].clone();
    second.issuer = other.into();
    config.issuers.push(second);
    let v = Verifier::new(config).unwrap();
    // Same key, same claims: only the token of `other` is mapped.
    let err = v
        .verify(&key.sign(&claims(json!({}))), now())
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::NoMatchingRule { .. }), "{err}");
    let w = v
        .verify(&key.sign(&claims_at(other, now(), json!({}))), now())
        .await
        .unwrap();
    assert_eq!(w.service_account, "other-ci");
}
