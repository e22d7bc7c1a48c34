//! Loading: discovery, compile errors, data, modes, digest, live reloading.

use std::time::Duration;

use provenant_policy::{
    LivePolicies, ModeOverrides, PolicyConfig, PolicyError, PolicySet, parse_mode_overrides,
};
use serde_json::json;

use crate::{compile, data, modules};

const SIGNED: &str =
    "package provenant.signed\n\ndeny contains \"unsigned\" if count(input.signatures) == 0\n";
const LIB: &str = "package lib.util\n\nnonempty(xs) if count(xs) > 0\n";

fn write(dir: &std::path::Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_directory_is_loaded_recursively_without_tests() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "signed.rego", SIGNED);
    write(dir.path(), "lib/util.rego", LIB);
    write(
        dir.path(),
        "signed_test.rego",
        "package provenant.signed_test\n\ntest_x if true\n",
    );
    write(dir.path(), "notes.txt", "not rego");
    let set = PolicySet::load(&PolicyConfig::new(dir.path())).unwrap();
    let paths: Vec<&str> = set.modules().iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["lib/util.rego", "signed.rego"]);
    assert_eq!(set.policies(), ["provenant.signed"]);
    assert_eq!(set.libraries(), ["lib.util"]);
    assert!(set.digest().starts_with("sha256:") && set.digest().len() == 71);
}

/// A ConfigMap volume as Kubernetes mounts it: the files live in a hidden
/// timestamped directory, `..data` links to it, and the visible names link
/// through `..data`. Each module loads once, under its visible name.
#[test]
fn hidden_entries_are_skipped_as_in_a_configmap_volume() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "..2026_12_05_12_00_00.1/signed.rego", SIGNED);
    std::os::unix::fs::symlink("..2026_12_05_12_00_00.1", dir.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/signed.rego", dir.path().join("signed.rego")).unwrap();
    write(
        dir.path(),
        ".#signed.rego",
        "package provenant.signed\n\nbroken {",
    );
    let set = PolicySet::load(&PolicyConfig::new(dir.path())).unwrap();
    let paths: Vec<&str> = set.modules().iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["signed.rego"]);
}

#[test]
fn a_parse_error_names_file_line_and_message() {
    let err = PolicySet::compile(
        &modules(&[
            ("ok.rego", SIGNED),
            (
                "sub/bad.rego",
                "package provenant.bad\n\ndeny contains msg if {\n  msg := \n}\n",
            ),
        ]),
        &[],
        &ModeOverrides::new(),
        Duration::from_millis(250),
    )
    .unwrap_err();
    match &err {
        PolicyError::Compile {
            path,
            line,
            message,
            ..
        } => {
            assert_eq!(path, "sub/bad.rego");
            assert_eq!(*line, 4);
            assert!(!message.is_empty() && !message.contains("-->"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().starts_with("sub/bad.rego:4:"), "{err}");
}

#[test]
fn an_unsafe_variable_is_a_compile_error_with_its_line() {
    let err = PolicySet::compile(
        &modules(&[(
            "a.rego",
            "package provenant.a\n\ndeny contains \"x\" if {\n  x == 1\n}\n",
        )]),
        &[],
        &ModeOverrides::new(),
        Duration::from_millis(250),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PolicyError::Compile { path, line: 4, message, .. } if path == "a.rego" && message.contains("unsafe")),
        "{err:?}"
    );
}

#[test]
fn data_files_merge_and_conflicts_name_both_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p/signed.rego", SIGNED);
    write(dir.path(), "a.json", r#"{"cfg": {"keys": ["k1"], "x": 1}}"#);
    write(dir.path(), "b.yaml", "cfg:\n  y: 2\n");
    write(dir.path(), "c.yml", "cfg:\n  x: 3\n");
    let mut config = PolicyConfig::new(dir.path().join("p"));
    config.data_files = vec![dir.path().join("a.json"), dir.path().join("b.yaml")];
    PolicySet::load(&config).unwrap();
    config.data_files.push(dir.path().join("c.yml"));
    match PolicySet::load(&config).unwrap_err() {
        PolicyError::DataConflict {
            pointer,
            first,
            second,
        } => {
            assert_eq!(pointer, "/cfg/x");
            assert!(first.ends_with("a.json"), "{first}");
            assert!(second.ends_with("c.yml"), "{second}");
        }
        other => panic!("{other:?}"),
    }
    write(dir.path(), "bad.json", "[1, 2]");
    config.data_files = vec![dir.path().join("bad.json")];
    assert!(matches!(
        PolicySet::load(&config),
        Err(PolicyError::Data { .. })
    ));
}

#[test]
fn an_invalid_mode_is_a_load_error_naming_the_package() {
    let err = PolicySet::compile(
        &modules(&[("a.rego", "package provenant.a\n\nmode := \"audit\"\n")]),
        &[],
        &ModeOverrides::new(),
        Duration::from_millis(250),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PolicyError::InvalidMode { package, value } if package == "provenant.a" && value == "\"audit\""),
        "{err:?}"
    );
    // Valid modes load.
    for mode in ["enforce", "warn", "dry-run"] {
        compile(&[(
            "a.rego",
            &format!("package provenant.a\n\nmode := \"{mode}\"\n"),
        )]);
    }
}

#[test]
fn mode_overrides_are_parsed_and_must_name_a_policy() {
    let o = parse_mode_overrides(&["provenant.signed=warn"]).unwrap();
    for bad in ["provenant.signed", "provenant.signed=audit", "lib.x=warn"] {
        assert!(
            matches!(
                parse_mode_overrides(&[bad]),
                Err(PolicyError::ModeOverride { .. })
            ),
            "{bad}"
        );
    }
    assert!(parse_mode_overrides(&["provenant.a=warn", "provenant.a=enforce"]).is_err());
    PolicySet::compile(
        &modules(&[("s.rego", SIGNED)]),
        &[],
        &o,
        Duration::from_millis(250),
    )
    .unwrap();
    let unknown = parse_mode_overrides(&["provenant.nope=warn"]).unwrap();
    assert!(matches!(
        PolicySet::compile(
            &modules(&[("s.rego", SIGNED)]),
            &[],
            &unknown,
            Duration::from_millis(250)
        ),
        Err(PolicyError::ModeOverride { .. })
    ));
}

#[test]
fn the_digest_covers_modules_data_and_modes_but_not_tests() {
    let base = |extra: &[(&str, &str)], d: serde_json::Value, modes: &[&str]| {
        let mut m = vec![("signed.rego", SIGNED), ("lib/util.rego", LIB)];
        m.extend_from_slice(extra);
        PolicySet::compile(
            &modules(&m),
            &[data("d.json", d)],
            &parse_mode_overrides(modes).unwrap(),
            Duration::from_millis(250),
        )
        .unwrap()
        .digest()
        .to_owned()
    };
    let d0 = base(&[], json!({"a": 1}), &[]);
    assert_eq!(d0, base(&[], json!({"a": 1}), &[]), "deterministic");
    assert_eq!(
        d0,
        base(
            &[(
                "signed_test.rego",
                "package provenant.signed_test\n\ntest_a if true\n"
            )],
            json!({"a": 1}),
            &[]
        ),
        "a test module does not change the digest"
    );
    assert_ne!(
        d0,
        base(
            &[("x.rego", "package lib.x\n\ny := 1\n")],
            json!({"a": 1}),
            &[]
        )
    );
    assert_ne!(d0, base(&[], json!({"a": 2}), &[]));
    assert_ne!(d0, base(&[], json!({"a": 1}), &["provenant.signed=warn"]));
    // The digest is the one the spec lists.
    use sha2::{Digest as _, Sha256};
    let h = |b: &[u8]| hex::encode(Sha256::digest(b));
    let listing = format!(
        "provenant-policy-set/v1\nmodule lib/util.rego {}\nmodule signed.rego {}\ndata {}\n",
        h(LIB.as_bytes()),
        h(SIGNED.as_bytes()),
        h(br#"{"a":1}"#)
    );
    assert_eq!(d0, format!("sha256:{}", h(listing.as_bytes())));
}

#[test]
fn live_policies_reload_on_change_and_keep_the_old_set_on_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "signed.rego", SIGNED);
    let live = LivePolicies::load(PolicyConfig::new(dir.path())).unwrap();
    let first = live.current().digest().to_owned();
    assert_eq!(live.reload_if_changed().unwrap(), None);

    write(dir.path(), "extra.rego", LIB);
    let r = live
        .reload_if_changed()
        .unwrap()
        .expect("a new file is a change");
    assert!(r.changed());
    assert_eq!(r.previous, first);
    assert_eq!(live.current().digest(), r.digest);

    let good = live.current().digest().to_owned();
    write(
        dir.path(),
        "broken.rego",
        "package provenant.broken\n\ndeny contains if {\n",
    );
    assert!(matches!(
        live.reload_if_changed(),
        Err(PolicyError::Compile { .. })
    ));
    assert_eq!(
        live.current().digest(),
        good,
        "the previous set stays in force"
    );
    // A broken edit is reported once, not at every poll.
    assert_eq!(live.reload_if_changed().unwrap(), None);

    std::fs::remove_file(dir.path().join("broken.rego")).unwrap();
    let r = live.reload_if_changed().unwrap().unwrap();
    assert!(!r.changed(), "same sources, same digest");
}

/// A call to a function the engine lacks (a trimmed builtin group, a
/// misspelling) is refused when the set loads, with its place, as OPA
/// refuses it; `check` reports it too.
#[test]
fn an_unknown_function_is_refused_at_load_with_its_place() {
    let text = "package provenant.enc\n\ndeny contains m if {\n  m := base64.encode(\"a\")\n}\n";
    let Err(err) = PolicySet::compile(
        &modules(&[("enc.rego", text)]),
        &[],
        &ModeOverrides::new(),
        Duration::from_millis(250),
    ) else {
        panic!("a set calling base64.encode loaded");
    };
    match &err {
        PolicyError::Compile {
            path,
            line,
            message,
            ..
        } => {
            assert_eq!((path.as_str(), *line), ("enc.rego", 4), "{err}");
            assert!(message.contains("unknown function base64.encode"), "{err}");
        }
        other => panic!("{other:?}"),
    }
    let reported = provenant_policy::check(&modules(&[("enc.rego", text)]));
    assert_eq!(reported.len(), 1, "{reported:?}");
}
