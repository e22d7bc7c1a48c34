//! Skipping a test whose prerequisite is missing, loudly, and never in CI.

use std::fmt::Display;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The variable naming a file each skip line is appended to (`.ci/run`
/// sets it and counts the lines).
const SKIP_LOG: &str = "PROVENANT_SKIP_LOG";

/// The test cannot run here because `reason` (a peer, a variable, a
/// privilege is missing); the caller returns right after.
///
/// Outside CI this prints `SKIPPED <test> [<crate>]: <reason>` straight to
/// the process's stderr (libtest captures `eprintln!` of passing tests; a
/// skip must be seen) and appends the line to the file named by
/// `PROVENANT_SKIP_LOG`, when set. The test is named by its thread, which
/// libtest names after the test.
///
/// # Panics
/// When `CI` is set: there a missing prerequisite fails the test.
#[track_caller]
pub fn skip(reason: impl Display) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed thread>")
        .to_owned();
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set, so a missing prerequisite fails the test: {reason}");
    }
    // Cargo sets the package name in the environment of the tests it runs.
    let krate = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "?".into());
    let line = format!("SKIPPED {test} [{krate}]: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(path) = std::env::var_os(SKIP_LOG) {
        // One append of one short line: lines of parallel tests stay whole.
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = appended {
            panic!(
                "cannot append to {SKIP_LOG}={}: {e}",
                PathBuf::from(path).display()
            );
        }
    }
}

/// The Python virtual environment of the interop peers: `$PROVENANT_PY_VENV`,
/// else `/var/tmp/provenant-venv` (where `.ci/run` installs
/// `.ci/requirements.txt`).
pub fn python_venv() -> PathBuf {
    std::env::var_os("PROVENANT_PY_VENV")
        .map_or_else(|| PathBuf::from("/var/tmp/provenant-venv"), PathBuf::from)
}

/// Whether `program` can be started here; when it cannot, the test is
/// [`skip`]ped (a failure under `CI`) and this returns false.
#[track_caller]
pub fn require_program(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        skip(format_args!("{program} is not installed"));
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_program_that_exists_is_found() {
        assert!(require_program("sh"));
    }

    /// Runs [`skip_here`] in a child process of this test binary, with this
    /// environment.
    fn run_skip_here(env: &[(&str, &std::path::Path)], ci: bool) -> std::process::Output {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.args(["--ignored", "--exact", "skip::tests::skip_here"]);
        c.env_remove("CI").env_remove(SKIP_LOG);
        if ci {
            c.env("CI", "true");
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    #[test]
    fn a_skip_is_one_line_logged_outside_ci_and_a_failure_under_ci() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("skipped.log");
        let out = run_skip_here(&[(SKIP_LOG, &log)], false);
        assert!(out.status.success(), "{out:?}");
        let line = "SKIPPED skip::tests::skip_here [provenant-testkit]: the peer is missing\n";
        assert_eq!(std::fs::read_to_string(&log).unwrap(), line);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(line),
            "{out:?}"
        );

        let out = run_skip_here(&[(SKIP_LOG, &log)], true);
        assert!(!out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(
                "CI is set, so a missing prerequisite fails the test: the peer is missing"
            ),
            "{text}"
        );
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            line,
            "no line under CI"
        );
    }

    #[test]
    #[ignore = "run in a child process by the test above"]
    fn skip_here() {
        skip("the peer is missing");
    }
}
