//! Running the Python peers (validators, cyclonedx-py) from the test venv.

use std::path::PathBuf;
use std::process::Command;

pub fn venv() -> PathBuf {
    provenant_testkit::python_venv()
}

/// The venv's python if it has `module`; else `None`, after
/// [`provenant_testkit::skip`] (a failure under `CI`).
pub fn python_with(module: &str) -> Option<PathBuf> {
    let py = venv().join("bin/python");
    let ok = py.is_file()
        && Command::new(&py)
            .args(["-c", &format!("import {module}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    if ok {
        return Some(py);
    }
    provenant_testkit::skip(format_args!(
        "{} lacks the Python module {module} (set PROVENANT_PY_VENV; pip install 'cyclonedx-python-lib[json-validation]' spdx-tools cyclonedx-bom)",
        py.display()
    ));
    None
}

const CDX_VALIDATE: &str = r#"
import sys
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.schema import SchemaVersion
err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if err is not None:
    print(err)
    sys.exit(1)
"#;

/// Validate CycloneDX JSON with the official 1.6 schema (strict). Returns false when skipped.
pub fn validate_cyclonedx(bytes: &[u8]) -> bool {
    let Some(py) = python_with("cyclonedx.validation.json") else {
        return false;
    };
    let f = tempfile::NamedTempFile::with_suffix(".cdx.json").unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    let out = Command::new(py)
        .args(["-c", CDX_VALIDATE])
        .arg(f.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "CycloneDX schema rejected our document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// Validate SPDX 2.3 JSON with pyspdxtools. Returns false when skipped.
pub fn validate_spdx(bytes: &[u8]) -> bool {
    if python_with("spdx_tools").is_none() {
        return false;
    }
    let f = tempfile::NamedTempFile::with_suffix(".spdx.json").unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    let out = Command::new(venv().join("bin/pyspdxtools"))
        .arg("-i")
        .arg(f.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyspdxtools rejected our document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}
