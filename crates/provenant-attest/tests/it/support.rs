use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use provenant_attest::PrivateKey;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn pki(name: &str) -> PathBuf {
    fixtures().join("pki").join(name)
}

/// The model used by interop and golden tests: nested directories, names
/// that sort differently per component (`a/b` < `a-c`) than per code point,
/// an empty file, git files that are ignored by default, and a file large
/// enough for several 100 kB shards.
pub fn build_model(dir: &Path) {
    fs::create_dir_all(dir.join("a")).unwrap();
    fs::create_dir_all(dir.join("nested/deep")).unwrap();
    fs::create_dir_all(dir.join(".git")).unwrap();
    fs::write(dir.join("a/b"), b"hi\n").unwrap();
    fs::write(dir.join("a-c"), b"x\n").unwrap();
    fs::write(dir.join("empty"), b"").unwrap();
    fs::write(dir.join("nested/deep/config.json"), br#"{"layers": 2}"#).unwrap();
    fs::write(dir.join(".gitignore"), b"*.tmp\n").unwrap();
    fs::write(dir.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
    let weights: Vec<u8> = (0..250_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(dir.join("weights.bin"), weights).unwrap();
}

pub fn key() -> PrivateKey {
    PrivateKey::from_pem_file(&fixtures().join("golden/key.pem"), None).unwrap()
}

/// The `model-signing` venv, or `None` after [`provenant_testkit::skip`]
/// when it is absent (under `CI` a missing peer fails the test).
pub fn peer() -> Option<PathBuf> {
    let venv = provenant_testkit::python_venv();
    if venv.join("bin/model_signing").is_file() {
        return Some(venv);
    }
    provenant_testkit::skip(format_args!(
        "model-signing is not installed in {} (set PROVENANT_PY_VENV; pip install 'model-signing==1.1.1' pyopenssl)",
        venv.display()
    ));
    None
}

/// Runs the peer's CLI; returns (success, stderr+stdout).
pub fn model_signing(venv: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(venv.join("bin/model_signing"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs a Python snippet with the peer's interpreter.
pub fn python(venv: &Path, code: &str) -> (bool, String) {
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(code)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
