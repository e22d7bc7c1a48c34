//! Agreement with OPA (the reference for Rego) on the shipped library:
//! `opa eval 'data.provenant'` gives the same raw sets as the engine, and
//! [`Decision::from_raw`] on OPA's raw result gives the same decision as
//! [`PolicySet::evaluate`]; `opa test` passes and our runner passes as many.
//!
//! OPA is `$PROVENANT_OPA`, else `opa` on `PATH`, else
//! `/var/tmp/provenant-go/bin/opa` (where `.ci/run` installs it); without it
//! the tests are skipped (a failure under `CI`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use provenant_policy::{
    Decision, ModeOverrides, PolicyConfig, PolicySet, input_digest, normalize_raw, read_modules,
    run_tests,
};
use serde_json::Value;

use crate::NOW;

fn opa() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROVENANT_OPA") {
        return Some(PathBuf::from(p));
    }
    let on_path = Command::new("opa").arg("version").output();
    if on_path.is_ok_and(|o| o.status.success()) {
        return Some(PathBuf::from("opa"));
    }
    let installed = PathBuf::from("/var/tmp/provenant-go/bin/opa");
    if installed.is_file() {
        return Some(installed);
    }
    provenant_testkit::skip("OPA is not installed (set PROVENANT_OPA or put opa on PATH)");
    None
}

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// The corpus: `corpus/<name>.json` or `corpus/<name>/input.json`, named
/// `<policy>-<allow|deny>-<case>`.
fn corpus(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root.join("corpus")) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let file = if path.is_dir() {
            path.join("input.json")
        } else {
            path.clone()
        };
        if name == "expected" || !file.is_file() || file.extension().is_none_or(|e| e != "json") {
            continue;
        }
        out.push((name, file));
    }
    out.sort();
    out
}

/// `--data` files (and `-d` for OPA): `policies/data.example.json` if present.
fn data_files(root: &Path) -> Vec<PathBuf> {
    let data = root.join("data.example.json");
    if data.is_file() {
        vec![data]
    } else {
        Vec::new()
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("OPA runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn opa_and_the_engine_agree_on_the_corpus() {
    let Some(opa) = opa() else { return };
    let root = library();
    let cases = corpus(&root);
    if cases.is_empty() {
        provenant_testkit::skip(format!("no corpus inputs under {}/corpus", root.display()));
        return;
    }
    let mut config = PolicyConfig::new(&root);
    config.data_files = data_files(&root);
    config.time_limit = Duration::from_secs(5);
    let set = PolicySet::load(&config).unwrap();
    let decision_modules: Vec<PathBuf> = read_modules(&root)
        .unwrap()
        .into_iter()
        .filter(|m| !m.is_test())
        .map(|m| root.join(m.path))
        .collect();
    let expected: Option<Value> = std::fs::read_to_string(root.join("corpus/expected.json"))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());

    for (name, file) in &cases {
        let input: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let mut cmd = Command::new(&opa);
        cmd.args(["eval", "--format", "json"]);
        for m in &decision_modules {
            cmd.arg("-d").arg(m);
        }
        for d in &config.data_files {
            cmd.arg("-d").arg(d);
        }
        cmd.arg("-i").arg(file).arg("data.provenant");
        let out: Value = serde_json::from_str(&run(&mut cmd)).unwrap();
        let opa_raw = out["result"][0]["expressions"][0]["value"].clone();

        let ours = set.raw(&input).unwrap();
        assert_eq!(
            ours,
            normalize_raw(&opa_raw),
            "{name}: raw data.provenant differs"
        );

        let digest = input_digest(&input).unwrap();
        let from_opa =
            Decision::from_raw(&opa_raw, set.digest(), &digest, &ModeOverrides::new(), NOW);
        let decision = set.evaluate(&input, NOW);
        assert_eq!(decision, from_opa, "{name}: decisions differ");

        let want_allow = if name.contains("-allow-") {
            true
        } else if name.contains("-deny-") {
            false
        } else {
            panic!("{name}: a corpus case is named <policy>-<allow|deny>-<case>")
        };
        assert_eq!(decision.allowed, want_allow, "{name}: {decision:#?}");

        let listed = expected
            .as_ref()
            .and_then(|e| e.get("expected"))
            .and_then(|cases| cases.get(name))
            .and_then(Value::as_array);
        if let Some(list) = listed {
            let mut want: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            want.sort_unstable();
            let got: Vec<String> = decision
                .deny
                .iter()
                .map(|r| format!("{} {}", r.policy, r.id.as_deref().unwrap_or("")))
                .collect();
            let mut got: Vec<&str> = got.iter().map(|s| s.trim_end()).collect();
            got.sort_unstable();
            got.dedup();
            assert_eq!(got, want, "{name}: denies differ from corpus/expected.json");
        }
    }
}

#[test]
fn opa_test_passes_and_our_runner_passes_as_many() {
    let Some(opa) = opa() else { return };
    let root = library();
    let modules = read_modules(&root).unwrap();
    if modules.is_empty() {
        provenant_testkit::skip(format!("no policies under {}", root.display()));
        return;
    }
    // The modules only: `opa test DIR` would also load every JSON file of
    // the directory (the corpus) as data.
    let mut cmd = Command::new(&opa);
    cmd.arg("test");
    for m in &modules {
        cmd.arg(root.join(&m.path));
    }
    let text = run(&mut cmd);
    let summary = text
        .lines()
        .find_map(|l| l.strip_prefix("PASS: "))
        .unwrap_or_else(|| panic!("no PASS line in opa test output:\n{text}"));
    let (passed, total) = summary.split_once('/').unwrap();
    assert_eq!(passed, total, "opa test: {text}");

    let report = run_tests(&modules, &[], Duration::from_secs(5)).unwrap();
    assert!(report.success(), "{}", report.render(false));
    assert_eq!(
        report.passed().to_string(),
        passed,
        "our runner and opa test count different tests:\n{}",
        report.render(true)
    );
}
