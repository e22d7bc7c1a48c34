//! Decisions: modes, exceptions, ids, order, input schema, fail closed.

use std::time::{Duration, Instant};

use provenant_policy::{
    Decision, ModeOverrides, PolicySet, Reason, Verdict, input_digest, parse_mode_overrides,
    validate_input,
};
use serde_json::json;

use crate::{NOW, compile, input, modules};

const SIGNED: &str = r#"package provenant.signed

deny contains {"msg": "no signature", "id": "unsigned"} if count(input.signatures) == 0

deny contains "second reason" if input.action == "deploy"

warn contains "a warning" if true

exception contains {"id": "unsigned", "justification": "bootstrap", "expires": "2031-01-01T00:00:00Z"} if input.artifact.labels.waive == "yes"

exception contains {"id": "unsigned", "justification": "", "expires": "2031-01-01T00:00:00Z"} if input.artifact.labels.waive == "empty"

exception contains {"id": "unsigned", "justification": "old", "expires": "2029-06-01T00:00:00Z"} if input.artifact.labels.waive == "expired"

exception contains {"id": "unsigned", "justification": "x", "expires": "soon"} if input.artifact.labels.waive == "garbled"
"#;

const LICENCES: &str = r#"package provenant.licences

mode := "warn"

deny contains "licence not allowed" if input.artifact.license != "apache-2.0"
"#;

fn reason(policy: &str, message: &str, id: Option<&str>) -> Reason {
    Reason {
        policy: policy.into(),
        message: message.into(),
        id: id.map(str::to_owned),
    }
}

fn with_label(waive: &str) -> serde_json::Value {
    let mut i = input();
    i["artifact"]["labels"]["waive"] = json!(waive);
    i
}

#[test]
fn enforce_denies_are_listed_sorted_with_ids() {
    let set = compile(&[("signed.rego", SIGNED)]);
    let d = set.evaluate(&input(), NOW);
    assert!(!d.allowed);
    assert_eq!(d.decision, Verdict::Deny);
    assert_eq!(
        d.deny,
        [
            reason("provenant.signed", "no signature", Some("unsigned")),
            reason("provenant.signed", "second reason", None),
        ]
    );
    assert_eq!(d.warn, [reason("provenant.signed", "a warning", None)]);
    assert_eq!(d.policy_set.as_deref(), Some(set.digest()));
    assert_eq!(d.input_digest, input_digest(&input()).unwrap());
    let text = serde_json::to_value(&d).unwrap();
    let keys: Vec<&str> = text
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "allowed",
            "decision",
            "deny",
            "dry_run",
            "exceptions",
            "input_digest",
            "policy_set",
            "warn"
        ]
    );
    assert_eq!(text["decision"], "deny");
}

#[test]
fn a_valid_exception_suppresses_denies_with_its_id_only() {
    let set = compile(&[("signed.rego", SIGNED)]);
    let d = set.evaluate(&with_label("yes"), NOW);
    assert_eq!(d.deny, [reason("provenant.signed", "second reason", None)]);
    assert_eq!(d.exceptions.len(), 1);
    assert_eq!(d.exceptions[0].id, "unsigned");
    assert_eq!(d.exceptions[0].justification, "bootstrap");
    assert_eq!(d.exceptions[0].expires, "2031-01-01T00:00:00Z");
}

#[test]
fn void_exceptions_suppress_nothing_and_warn_why() {
    let set = compile(&[("signed.rego", SIGNED)]);
    for (label, why) in [
        (
            "empty",
            "exception unsigned in provenant.signed has no justification",
        ),
        (
            "expired",
            "exception unsigned in provenant.signed expired at 2029-06-01T00:00:00Z",
        ),
        (
            "garbled",
            "exception unsigned in provenant.signed has an invalid expires \"soon\"",
        ),
    ] {
        let d = set.evaluate(&with_label(label), NOW);
        assert!(
            d.deny.iter().any(|r| r.id.as_deref() == Some("unsigned")),
            "{label}"
        );
        assert!(d.exceptions.is_empty(), "{label}");
        assert!(
            d.warn.iter().any(|r| r.message.starts_with(why)),
            "{label}: {:?}",
            d.warn
        );
    }
    // The same exception is valid a year earlier: expiry is judged at `now`.
    let d = set.evaluate(
        &with_label("expired"),
        time::macros::datetime!(2029-01-01 00:00 UTC),
    );
    assert!(d.deny.iter().all(|r| r.id.as_deref() != Some("unsigned")));
}

#[test]
fn modes_route_denies_and_overrides_win() {
    let m = modules(&[("signed.rego", SIGNED), ("licences.rego", LICENCES)]);
    let mut i = with_label("yes");
    i["action"] = json!("ingest");
    i["artifact"]["license"] = json!("cc-by-nc-4.0");
    let eval = |overrides: &[&str]| {
        PolicySet::compile(
            &m,
            &[],
            &parse_mode_overrides(overrides).unwrap(),
            Duration::from_millis(250),
        )
        .unwrap()
        .evaluate(&i, crate::NOW)
    };
    // licences is warn-mode: its deny is a warning, the decision allows.
    let d = eval(&[]);
    assert!(d.allowed, "{d:?}");
    assert!(
        d.warn
            .contains(&reason("provenant.licences", "licence not allowed", None))
    );
    // Overridden to enforce.
    let d = eval(&["provenant.licences=enforce"]);
    assert_eq!(
        d.deny,
        [reason("provenant.licences", "licence not allowed", None)]
    );
    // Dry run: reported, no effect.
    let d = eval(&["provenant.licences=dry-run"]);
    assert!(d.allowed);
    assert_eq!(
        d.dry_run,
        [reason("provenant.licences", "licence not allowed", None)]
    );
    assert!(!d.warn.iter().any(|r| r.policy == "provenant.licences"));
    // Different overrides, different sets.
    let a = PolicySet::compile(&m, &[], &ModeOverrides::new(), Duration::from_millis(250)).unwrap();
    assert_eq!(a.mode_overrides().len(), 0);
}

#[test]
fn from_raw_dedupes_sorts_and_handles_odd_values() {
    let raw = json!({
        "b": {"deny": ["z", "a", "a"], "warn": [], "helper": 3},
        "a": {"deny": [{"msg": "m", "id": "i"}, {"msg": "m", "id": "i"}, 42, {"no": "msg"}]},
        "nested": {"pkg": {"deny": ["deep"], "mode": "dry-run"}},
        "weird": {"mode": "audit"},
    });
    let d = Decision::from_raw(&raw, "sha256:set", "sha256:in", &ModeOverrides::new(), NOW);
    let msgs: Vec<(&str, &str)> = d
        .deny
        .iter()
        .map(|r| (r.policy.as_str(), r.message.as_str()))
        .collect();
    assert_eq!(
        msgs,
        [
            ("provenant.a", "m"),
            (
                "provenant.a",
                "malformed message (no \"msg\" string): {\"no\":\"msg\"}"
            ),
            ("provenant.a", "malformed message: 42"),
            ("provenant.b", "a"),
            ("provenant.b", "z"),
            (
                "provenant.weird",
                "mode must be \"enforce\", \"warn\" or \"dry-run\", not \"audit\""
            ),
        ]
    );
    assert_eq!(d.dry_run, [reason("provenant.nested.pkg", "deep", None)]);
    let empty = Decision::from_raw(&json!(null), "s", "i", &ModeOverrides::new(), NOW);
    assert!(empty.allowed);
    let bad = Decision::from_raw(&json!([1]), "s", "i", &ModeOverrides::new(), NOW);
    assert!(!bad.allowed);
}

#[test]
fn an_input_that_fails_the_schema_is_denied_naming_the_pointer() {
    let set = compile(&[("signed.rego", SIGNED)]);
    let cases = [
        ("/artifact/digest", {
            let mut i = input();
            i["artifact"]["digest"] = json!("md5:abc");
            i
        }),
        ("/action", {
            let mut i = input();
            i["action"] = json!("delete");
            i
        }),
        ("/findings/open/0/severity", {
            let mut i = input();
            i["findings"]["open"] = json!([{"id": "X", "aliases": [], "severity": "severe", "purl": "p", "package": "x", "installed_version": "1", "fixed_versions": [], "summary": "s"}]);
            i
        }),
        ("", {
            let mut i = input();
            i["extra"] = json!(1);
            i
        }),
    ];
    for (pointer, bad) in cases {
        let err = validate_input(&bad).unwrap_err();
        assert_eq!(err.pointer, pointer, "{err}");
        let d = set.evaluate(&bad, NOW);
        assert!(!d.allowed);
        assert_eq!(d.deny.len(), 1);
        assert_eq!(d.deny[0].id.as_deref(), Some("invalid_input"));
        assert!(d.deny[0].message.contains(pointer), "{}", d.deny[0].message);
    }
    validate_input(&input()).unwrap();
}

#[test]
fn a_set_without_policy_denies() {
    let set = compile(&[("lib.rego", "package lib.x\n\ny := 1\n")]);
    let d = set.evaluate(&input(), NOW);
    assert!(!d.allowed);
    assert_eq!(d.deny[0].id.as_deref(), Some("no_policy"));
}

#[test]
fn a_runaway_policy_is_denied_within_its_time_limit() {
    let slow = "package provenant.slow\n\ndeny contains \"never\" if {\n  xs := [x | some x in numbers.range(1, 10000); some y in numbers.range(1, 10000)]\n  count(xs) < 0\n}\n";
    let set = PolicySet::compile(
        &modules(&[("slow.rego", slow)]),
        &[],
        &ModeOverrides::new(),
        Duration::from_millis(100),
    )
    .unwrap();
    let started = Instant::now();
    let d = set.evaluate(&input(), NOW);
    let took = started.elapsed();
    assert!(!d.allowed);
    assert_eq!(d.deny[0].id.as_deref(), Some("timeout"), "{d:?}");
    assert!(
        d.deny[0].message.contains("time limit of 100 ms"),
        "{}",
        d.deny[0].message
    );
    assert!(took < Duration::from_millis(1000), "took {took:?}");
}

#[test]
fn a_runtime_error_is_denied_naming_it() {
    let bad = "package provenant.conflict\n\nx := 1 if true\nx := 2 if true\n\ndeny contains \"d\" if x == 3\n";
    let set = compile(&[("conflict.rego", bad)]);
    let d = set.evaluate(&input(), NOW);
    assert!(!d.allowed);
    assert_eq!(d.deny[0].id.as_deref(), Some("evaluation_error"), "{d:?}");
    assert!(
        d.deny[0].message.contains("conflict.rego"),
        "{}",
        d.deny[0].message
    );
}

#[test]
fn evaluation_is_shareable_across_threads() {
    let set = std::sync::Arc::new(compile(&[("signed.rego", SIGNED)]));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let set = set.clone();
            std::thread::spawn(move || set.evaluate(&input(), NOW))
        })
        .collect();
    let first = set.evaluate(&input(), NOW);
    for h in handles {
        assert_eq!(h.join().unwrap(), first);
    }
}

#[test]
fn raw_is_restricted_to_decision_rules() {
    let set = compile(&[("signed.rego", SIGNED), ("licences.rego", LICENCES)]);
    let raw = set.raw(&input()).unwrap();
    assert_eq!(
        raw,
        json!({
            "licences": {"deny": [], "mode": "warn"},
            "signed": {
                "deny": ["second reason", {"id": "unsigned", "msg": "no signature"}],
                "exception": [],
                "warn": ["a warning"]
            }
        })
    );
}
