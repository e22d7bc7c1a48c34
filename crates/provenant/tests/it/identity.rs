//! Identities through the real binary: a team set up with the CLI (principals,
//! a namespace with an owner, roles, tokens), each role's everyday commands
//! allowed or refused, tokens that expire and are revoked, the access trail;
//! and a CI job that authenticates with an OIDC identity token signed by a
//! test issuer, pushes, and is named by the version, its log entry and the
//! audit record.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use provenant_testkit::ServeDatabase;
use serde_json::{Value, json};

use crate::{BIN, Server, model_dir, start, start_with};

/// The CLI as someone else: `token` instead of the server's admin token.
fn as_(s: &Server, token: &str, cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("PROVENANT_URL", &s.url)
        .env("PROVENANT_TOKEN", token)
        .env("PROVENANT_CONFIG", cwd.join("no-config.toml"))
        .output()
        .unwrap()
}

fn ok_as(s: &Server, token: &str, cwd: &Path, args: &[&str]) -> String {
    let out = as_(s, token, cwd, args);
    assert!(
        out.status.success(),
        "provenant {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json_as(s: &Server, token: &str, cwd: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&ok_as(s, token, cwd, &a)).unwrap()
}

/// Refused with exit code 1 (401/403) and `needle` in the error.
fn refused_as(s: &Server, token: &str, cwd: &Path, args: &[&str], needle: &str) {
    let out = as_(s, token, cwd, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "provenant {args:?}: {err}");
    assert!(
        err.contains(needle),
        "provenant {args:?}: {needle:?} not in {err}"
    );
}

/// Creates a principal with `role` in `ns` and a token for it (as admin).
fn member(s: &Server, dir: &Path, name: &str, ns: &str, role: &str) -> String {
    s.ok(dir, &["principal", "create", name]);
    s.ok(dir, &["role", "grant", ns, name, role]);
    let t = s.json(dir, &["token", "create", "cli", "--owner", name]);
    assert_eq!(t["owner"], name);
    t["token"].as_str().unwrap().to_owned()
}

fn team_flow(s: &Server, dir: &Path) {
    model_dir(dir);
    // The team: a namespace owned by its maintainer, and a member per role.
    s.ok(dir, &["principal", "create", "mia"]);
    s.ok(dir, &["namespace", "create", "ml", "--owner", "mia"]);
    let maint = s.json(dir, &["token", "create", "cli", "--owner", "mia"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let publ = member(s, dir, "pat", "ml", "publisher");
    let view = member(s, dir, "vic", "ml", "viewer");
    s.ok(dir, &["principal", "create", "aud"]);
    s.ok(dir, &["role", "grant", "*", "aud", "auditor"]);
    let audit = s.json(dir, &["token", "create", "cli", "--owner", "aud"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another namespace the team has no role in.
    s.ok(dir, &["push", "model", "--model", "secret/other"]);

    let me = json_as(s, &publ, dir, &["whoami"]);
    assert_eq!(
        (&me["name"], &me["admin"], &me["roles"]),
        (
            &json!("pat"),
            &json!(false),
            &json!([{"namespace": "ml", "role": "publisher"}])
        )
    );

    // The publisher pushes; the version names it.
    let r = json_as(s, &publ, dir, &["push", "model", "--model", "ml/detector"]);
    assert_eq!(r["version"]["created_by"], "pat", "{r}");
    refused_as(
        s,
        &publ,
        dir,
        &["push", "model", "--model", "secret/mine"],
        "forbidden",
    );
    refused_as(
        s,
        &publ,
        dir,
        &["alias", "set", "ml/detector:1", "production"],
        "may not maintain",
    );

    // The maintainer promotes; the viewer reads and pulls but writes nothing.
    let a = json_as(
        s,
        &maint,
        dir,
        &["alias", "set", "ml/detector:1", "production"],
    );
    assert_eq!(a["moved_by"], "mia", "{a}");
    ok_as(s, &maint, dir, &["role", "grant", "ml", "vic", "viewer"]);
    let shown = json_as(s, &view, dir, &["show", "ml/detector#production"]);
    assert_eq!(shown["created_by"], "pat");
    ok_as(s, &view, dir, &["pull", "ml/detector:1", "pulled"]);
    refused_as(
        s,
        &view,
        dir,
        &["label", "ml/detector:1", "x=y"],
        "may not publish",
    );
    refused_as(s, &view, dir, &["show", "secret/other:1"], "may not read");
    let listed = ok_as(s, &view, dir, &["list"]);
    assert!(
        listed.contains("ml/detector") && !listed.contains("secret/"),
        "{listed}"
    );
    refused_as(
        s,
        &view,
        dir,
        &["role", "grant", "ml", "vic", "maintainer"],
        "forbidden",
    );
    refused_as(s, &view, dir, &["audit", "export"], "forbidden");

    // A scoped token: the maintainer's, limited to reading ml.
    let ro = json_as(
        s,
        &maint,
        dir,
        &[
            "token",
            "create",
            "ro",
            "--namespace",
            "ml",
            "--role",
            "viewer",
            "--expires",
            "1h",
        ],
    );
    let ro = ro["token"].as_str().unwrap().to_owned();
    ok_as(s, &ro, dir, &["show", "ml/detector:1"]);
    refused_as(s, &ro, dir, &["label", "ml/detector:1", "x=y"], "forbidden");
    // Nor can it mint a wider one.
    refused_as(s, &ro, dir, &["token", "create", "wide"], "forbidden");

    // Revoked, a token stops working at once; unknown and revoked differ.
    ok_as(s, &maint, dir, &["token", "revoke", "ro"]);
    refused_as(s, &ro, dir, &["whoami"], "revoked");
    refused_as(s, "pvt_not-a-real-token", dir, &["whoami"], "unknown token");
    // Expired: a token of one second, used once in time and once after.
    let short = json_as(
        s,
        &publ,
        dir,
        &["token", "create", "short", "--expires", "1s"],
    );
    let short = short["token"].as_str().unwrap().to_owned();
    let me = json_as(s, &short, dir, &["whoami"]);
    assert!(me["credential"]["expires_at"].is_string(), "{me}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    refused_as(s, &short, dir, &["whoami"], "token_expired");
    let listed = json_as(s, &publ, dir, &["token", "list"]);
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["cli", "short"],
        "{listed}"
    );

    // The auditor reads everything, writes nothing, and sees the denials.
    let shown = json_as(s, &audit, dir, &["show", "secret/other:1"]);
    assert_eq!(shown["reference"], "secret/other:1");
    refused_as(
        s,
        &audit,
        dir,
        &["label", "secret/other:1", "x=y"],
        "forbidden",
    );
    let trail = ok_as(s, &audit, dir, &["audit", "export"]);
    let lines: Vec<Value> = trail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let denial = lines
        .iter()
        .find(|l| l["what"] == "permission_denied" && l["who"] == "vic")
        .unwrap_or_else(|| panic!("no denial of vic in {trail}"));
    assert!(
        denial["target"].as_str().unwrap().starts_with("/api/v1/"),
        "{denial}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["what"] == "authentication_failed" && l["outcome"] == "token_revoked"),
        "{trail}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["what"] == "role_granted" && l["who"] == "mia"),
        "{trail}"
    );
    // The log's own entries name the real principals.
    assert!(
        lines
            .iter()
            .any(|l| l["what"] == "version.published" && l["who"] == "pat"),
        "{trail}"
    );
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// An Ed25519 test issuer: its JWKS file and a way to sign identity tokens.
struct Issuer {
    key: ring::signature::Ed25519KeyPair,
}

impl Issuer {
    fn new() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        Self {
            key: ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
        }
    }

    fn jwks(&self) -> Value {
        use ring::signature::KeyPair as _;
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ci-1", "alg": "EdDSA",
            "use": "sig", "x": b64(self.key.public_key().as_ref())}]})
    }

    fn token(&self, header: Value, claims: Value) -> String {
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64(sig.as_ref()))
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn github_claims(repository: &str, aud: &str, exp: u64) -> Value {
    let t = now();
    json!({
        "iss": GITHUB, "aud": aud, "sub": format!("repo:{repository}:ref:refs/heads/main"),
        "iat": t - 5, "nbf": t - 5, "exp": exp,
        "repository": repository, "ref": "refs/heads/main",
        "workflow_ref": format!("{repository}/.github/workflows/train.yml@refs/heads/main"),
        "job_workflow_ref": format!("{repository}/.github/workflows/train.yml@refs/heads/main"),
        "sha": "0123456789abcdef0123456789abcdef01234567", "environment": "training",
    })
}

fn ci_flow(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let issuer = Issuer::new();
    std::fs::write(dir.join("jwks.json"), issuer.jwks().to_string()).unwrap();
    std::fs::write(
        dir.join("rules.yaml"),
        format!(
            "rules:\n  - issuer: {GITHUB}\n    claims: {{ repository: acme/train, ref: refs/heads/main }}\n    service_account: ci-train\n    grants: [ {{ namespace: ml, role: publisher }} ]\n"
        ),
    )
    .unwrap();
    let jwks = dir.join("jwks.json");
    let rules = dir.join("rules.yaml");
    let s = start_with(
        dir,
        db,
        &[
            "--oidc-issuer",
            GITHUB,
            "--oidc-audience",
            "provenant",
            "--oidc-jwks",
            jwks.to_str().unwrap(),
            "--oidc-rules",
            rules.to_str().unwrap(),
            // The refusals below come from this one address; the limit on
            // failed authentications has its own test (tls.rs).
            "--auth-failure-burst",
            "1000",
        ],
    );
    model_dir(dir);
    let header = json!({"alg": "EdDSA", "kid": "ci-1", "typ": "JWT"});
    let jwt = issuer.token(
        header.clone(),
        github_claims("acme/train", "provenant", now() + 300),
    );
    let workload = "github:acme/train:.github/workflows/train.yml@refs/heads/main";

    let me = json_as(&s, &jwt, dir, &["whoami"]);
    assert_eq!(
        (&me["name"], &me["credential"]["kind"]),
        (&json!(workload), &json!("oidc")),
        "{me}"
    );
    let r = json_as(&s, &jwt, dir, &["push", "model", "--model", "ml/trained"]);
    assert_eq!(r["version"]["created_by"], workload, "{r}");
    // Its grant is in ml only.
    refused_as(
        &s,
        &jwt,
        dir,
        &["push", "model", "--model", "prod/trained"],
        "forbidden",
    );
    // The log entry and the audit record name the workload.
    let (status, events) = s.api(
        "GET",
        "/api/v1/log/versions?ref=ml%2Ftrained%3A1",
        Value::Null,
    );
    assert_eq!(status, 200, "{events}");
    let entry: Value = serde_json::from_str(events[0]["entry"].as_str().unwrap()).unwrap();
    assert_eq!(entry["who"], workload, "{entry}");
    let (status, records) = s.api("GET", "/api/v1/admin/log/records", Value::Null);
    assert_eq!(status, 200);
    assert!(
        records
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["who"] == workload && r["type"] == "version.published"),
        "{records}"
    );

    // Refusals: each 401 with its code, recorded, and nothing changed.
    let t = now();
    let hs256 = {
        // An HMAC token "signed" with the issuer's public key (algorithm confusion).
        let h = json!({"alg": "HS256", "kid": "ci-1", "typ": "JWT"});
        let input = format!(
            "{}.{}",
            b64(h.to_string().as_bytes()),
            b64(github_claims("acme/train", "provenant", t + 300)
                .to_string()
                .as_bytes())
        );
        format!("{input}.{}", b64(b"not a real mac"))
    };
    let none = {
        let h = json!({"alg": "none", "typ": "JWT"});
        format!(
            "{}.{}.",
            b64(h.to_string().as_bytes()),
            b64(github_claims("acme/train", "provenant", t + 300)
                .to_string()
                .as_bytes())
        )
    };
    let mut tampered = issuer.token(
        header.clone(),
        github_claims("acme/train", "provenant", t + 300),
    );
    // Change one character well inside the signature (the last one carries
    // unused bits, and may decode to the same bytes).
    let at = tampered.len() - 10;
    let swapped = if &tampered[at..=at] == "A" { "B" } else { "A" };
    tampered.replace_range(at..=at, swapped);
    let cases: Vec<(String, &str)> = vec![
        (
            issuer.token(
                header.clone(),
                github_claims("acme/train", "someone-else", t + 300),
            ),
            "invalid_identity_token",
        ),
        (
            issuer.token(
                header.clone(),
                github_claims("acme/train", "provenant", t - 600),
            ),
            "token_expired",
        ),
        (
            issuer.token(
                json!({"alg": "EdDSA", "kid": "nope", "typ": "JWT"}),
                github_claims("acme/train", "provenant", t + 300),
            ),
            "invalid_identity_token",
        ),
        (
            issuer.token(
                header.clone(),
                github_claims("mallory/fork", "provenant", t + 300),
            ),
            "unmapped_identity",
        ),
        (
            issuer.token(header.clone(), {
                let mut c = github_claims("acme/train", "provenant", t + 600);
                c["nbf"] = json!(t + 300);
                c
            }),
            "invalid_identity_token",
        ),
        (hs256, "invalid_identity_token"),
        (none, "invalid_identity_token"),
        (tampered, "invalid_identity_token"),
    ];
    for (token, code) in &cases {
        let out = as_(
            &s,
            token,
            dir,
            &["push", "model", "--model", "ml/refused", "--json"],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{code}: {err}");
        assert!(err.contains(code), "expected {code} in {err}");
    }
    let (status, _) = s.api("GET", "/api/v1/models/ml%2Frefused", Value::Null);
    assert_eq!(status, 404, "a refused push changed something");
    let (status, events) = s.api("GET", "/api/v1/admin/access-events", Value::Null);
    assert_eq!(status, 200);
    let failures = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "authentication_failed")
        .count();
    assert!(failures >= cases.len(), "{events}");
}

provenant_testkit::both!(sync team_roles_through_the_cli, |db: &ServeDatabase| {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), db.url());
    team_flow(&s, dir.path());
});

provenant_testkit::both!(sync ci_identity_token_pushes_and_is_named, |db: &ServeDatabase| {
    ci_flow(db.url());
});
