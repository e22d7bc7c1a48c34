//! Interop with the real peers: Python's `packaging` (PEP 440 reference
//! implementation), `dpkg --compare-versions`, `cyclonedx-py` SBOMs, and
//! this machine's own installed packages.
//!
//! Peers come from the venv at `$PROVENANT_PY_VENV` (default
//! `/var/tmp/provenant-venv`, with `packaging` and `cyclonedx-bom`
//! installed) and the system's `dpkg`. With `CI` set a missing peer fails
//! the test; otherwise the test is skipped with a message.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use crate::common::{full_pypa_index, pypa_index};
use provenant_testkit::{python_venv, require_program, skip};
use provenant_vuln::{Index, ScanOptions, Scheme, Version, scan};

fn venv_python() -> Option<PathBuf> {
    let py = python_venv().join("bin/python");
    py.exists().then_some(py)
}

fn parse(s: Scheme, v: &str) -> Option<Version> {
    s.parse(v).ok()
}

#[test]
fn pep440_order_matches_python_packaging_on_every_pypa_subset_version() {
    // Every version the repository's subset names.
    // 531 distinct versions that Python's `packaging` accepts.
    pep440_order_matches_python_packaging(pypa_index(), |n| n == 531);
}

#[test]
fn pep440_order_matches_python_packaging_on_every_full_pypa_version() {
    if let Some(index) =
        full_pypa_index("pep440_order_matches_python_packaging_on_every_full_pypa_version")
    {
        pep440_order_matches_python_packaging(index, |n| n > 10_000);
    }
}

/// Our PEP 440 validity and order agree with Python's `packaging` on every
/// version `index` names; `count_ok` checks how many versions packaging
/// accepts.
fn pep440_order_matches_python_packaging(index: &Index, count_ok: fn(usize) -> bool) {
    let Some(py) = venv_python() else {
        return skip("the Python venv (PROVENANT_PY_VENV) is missing: it needs `packaging`");
    };
    let mut all = BTreeSet::new();
    for e in index.entries() {
        for a in &e.record.affected {
            all.extend(a.versions.iter().cloned());
            for r in &a.ranges {
                for ev in &r.events {
                    if let Some(k) = ev.kind() {
                        all.insert(k.version().to_string());
                    }
                }
            }
        }
    }
    all.remove("0");
    let all: Vec<String> = all
        .into_iter()
        .filter(|v| !v.contains('\n') && !v.contains('\t'))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("versions.txt");
    std::fs::write(&input, all.join("\n")).unwrap();
    // Rank of each valid version's equivalence class in packaging's order;
    // "-" for versions packaging rejects.
    let script = r#"
import sys
from packaging.version import Version, InvalidVersion
vs = open(sys.argv[1]).read().split("\n")
parsed = {}
for v in vs:
    try: parsed[v] = Version(v)
    except InvalidVersion: pass
classes = sorted(set(parsed.values()))
rank = {c: i for i, c in enumerate(classes)}
for v in vs:
    print(v + "\t" + (str(rank[parsed[v]]) if v in parsed else "-"))
"#;
    let out = match Command::new(&py).arg("-c").arg(script).arg(&input).output() {
        Ok(o) if o.status.success() => o,
        _ => return skip("the Python module `packaging` is not in the venv (PROVENANT_PY_VENV)"),
    };
    let text = String::from_utf8(out.stdout).unwrap();
    let mut ranked: Vec<(Version, usize, String)> = Vec::new();
    let mut mismatched_validity = Vec::new();
    for line in text.lines() {
        let (v, rank) = line.rsplit_once('\t').unwrap();
        match (parse(Scheme::Pep440, v), rank) {
            (Some(p), r) if r != "-" => ranked.push((p, r.parse().unwrap(), v.to_string())),
            (None, "-") => {}
            (ours, theirs) => mismatched_validity.push(format!(
                "{v:?}: ours {}, packaging {theirs}",
                ours.is_some()
            )),
        }
    }
    assert!(mismatched_validity.is_empty(), "{mismatched_validity:#?}");
    assert!(count_ok(ranked.len()), "{} versions", ranked.len());
    ranked.sort_by(|a, b| a.0.cmp(&b.0));
    for w in ranked.windows(2) {
        let ours = w[0].0.cmp(&w[1].0);
        let theirs = w[0].1.cmp(&w[1].1);
        assert_eq!(ours, theirs, "{} vs {}", w[0].2, w[1].2);
    }
}

#[test]
fn dpkg_order_matches_dpkg_on_this_machines_packages() {
    let Ok(status) = std::fs::read_to_string("/var/lib/dpkg/status") else {
        return skip("/var/lib/dpkg/status is missing (not a Debian system)");
    };
    if !require_program("dpkg") {
        return;
    }
    let mut versions: BTreeSet<String> = status
        .lines()
        .filter_map(|l| l.strip_prefix("Version: "))
        .map(str::to_string)
        .collect();
    // Hand-made edge cases: tildes, epochs, revisions, letters vs digits.
    for v in [
        "1.0~rc1",
        "1.0~~",
        "1.0~",
        "1.0",
        "1.0+",
        "1.0.",
        "1.0a",
        "1:0.9",
        "2:0",
        "1.0-1~bpo1",
        "1.0-1",
        "1.0-1.1",
        "1.00",
        "01.0",
        "1.0-0",
    ] {
        versions.insert(v.to_string());
    }
    let mut parsed: Vec<(Version, String)> = Vec::new();
    for v in &versions {
        match Scheme::Dpkg.parse(v) {
            Ok(p) => parsed.push((p, v.clone())),
            Err(e) => panic!("real dpkg version did not parse: {e}"),
        }
    }
    assert!(parsed.len() > 200, "{}", parsed.len());
    parsed.sort_by(|a, b| a.0.cmp(&b.0));
    // Check every adjacent pair of our order against dpkg itself, and a
    // spread of far pairs.
    let mut pairs: Vec<(usize, usize)> = (1..parsed.len()).map(|i| (i - 1, i)).collect();
    pairs.extend(
        (0..parsed.len())
            .step_by(17)
            .map(|i| (i, parsed.len() - 1 - i)),
    );
    for (i, j) in pairs {
        let (a, b) = (&parsed[i], &parsed[j]);
        let ours = a.0.cmp(&b.0);
        let op = match ours {
            Ordering::Less => "lt",
            Ordering::Equal => "eq",
            Ordering::Greater => "gt",
        };
        let ok = Command::new("dpkg")
            .args(["--compare-versions", &a.1, op, &b.1])
            .status()
            .unwrap()
            .success();
        assert!(ok, "dpkg disagrees: {} {op} {}", a.1, b.1);
    }
}

#[test]
fn real_cyclonedx_sbom_of_a_python_environment_scans() {
    let Some(py) = venv_python() else {
        return skip("the Python venv (PROVENANT_PY_VENV) is missing: it needs cyclonedx-bom");
    };
    let cdx = py.with_file_name("cyclonedx-py");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("env.cdx.json");
    let ok = Command::new(&cdx)
        .args(["environment", "--of", "JSON", "-o"])
        .arg(&out)
        .arg(&py)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        return skip(
            "cyclonedx-py (pip package cyclonedx-bom) is not in the venv (PROVENANT_PY_VENV)",
        );
    }
    let (_format, sbom) = provenant_sbom::read_sbom(&out).unwrap();
    assert!(sbom.components.len() > 10, "{}", sbom.components.len());
    assert!(sbom.warnings.is_empty(), "{:?}", sbom.warnings);
    for c in &sbom.components {
        let p = c.package_url().expect("cyclonedx-py writes purls").unwrap();
        assert_eq!(p.ty(), "pypi");
        let v = c.version.as_deref().unwrap();
        assert!(
            Scheme::Pep440.parse(v).is_ok(),
            "installed version {v} of {}",
            c.name
        );
    }
    let r = scan(pypa_index(), &sbom, &ScanOptions::default());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // Every finding must be re-derivable from its record's own data.
    for f in &r.findings {
        assert!(pypa_index().get(&f.id).is_some());
    }
}

#[test]
fn this_machines_site_packages_versions_are_pep440() {
    let mut seen = 0;
    let dirs = [
        "/usr/lib/python3/dist-packages",
        "/var/tmp/provenant-venv/lib",
    ];
    let mut stack: Vec<PathBuf> = dirs
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect();
    if stack.is_empty() {
        return skip("no Python site-packages directory here");
    }
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".dist-info") {
                let Ok(meta) = std::fs::read_to_string(p.join("METADATA")) else {
                    continue;
                };
                let v = meta
                    .lines()
                    .find_map(|l| l.strip_prefix("Version: "))
                    .unwrap();
                assert!(Scheme::Pep440.parse(v).is_ok(), "{name}: {v}");
                seen += 1;
            } else if p.is_dir()
                && !name.starts_with('_')
                && (name.starts_with("python") || name.ends_with("-packages") || d.ends_with("lib"))
            {
                stack.push(p);
            }
        }
    }
    assert!(seen > 5, "{seen}");
}
