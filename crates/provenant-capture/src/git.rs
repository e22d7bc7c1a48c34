//! The source of a training run: a git working tree, its commit and the
//! commit's signature.

use std::path::Path;
use std::process::Command;

use provenant_provenance::{CommitSignature, Source, valid_commit};

use crate::error::{CaptureError, Result};

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| CaptureError::Tool {
            tool: "git".into(),
            reason: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(CaptureError::Tool {
            tool: "git".into(),
            reason: format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}

/// A URL without user info (`https://user:token@host/x` → `https://host/x`).
fn without_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some((_, host)) = authority.rsplit_once('@') {
            return format!("{scheme}://{host}/{path}");
        }
    }
    url.to_owned()
}

/// Reads the source of a git working tree: remote URL, commit, ref, dirty
/// state and commit signature. A dirty tree (tracked changes or untracked,
/// not ignored files) is refused unless `allow_dirty`.
///
/// Signatures are checked as `git verify-commit` does: SSH signatures
/// against `allowed_signers` (git's `gpg.ssh.allowedSignersFile`, which runs
/// `ssh-keygen -Y verify`), GPG signatures against the user's keyring.
///
/// # Errors
/// Not a git repository, no commit, a dirty tree, or git missing.
pub fn git_source(dir: &Path, allow_dirty: bool, allowed_signers: Option<&Path>) -> Result<Source> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let commit = git(dir, &["rev-parse", "HEAD"])?;
    if !valid_commit(&commit) {
        return Err(CaptureError::Tool {
            tool: "git".into(),
            reason: format!("HEAD resolves to {commit:?}, not a commit id"),
        });
    }
    let remote = git(dir, &["remote"])
        .ok()
        .and_then(|r| {
            let names: Vec<&str> = r.lines().collect();
            let name = if names.contains(&"origin") {
                "origin"
            } else {
                names.first()?
            };
            git(dir, &["remote", "get-url", name]).ok()
        })
        .map(|u| without_credentials(&u));
    let repository = remote.unwrap_or_else(|| format!("file://{top}"));
    let r#ref = git(dir, &["symbolic-ref", "-q", "--short", "HEAD"])
        .ok()
        .filter(|s| !s.is_empty());
    let status = git(dir, &["status", "--porcelain=v1", "--untracked-files=all"])?;
    let dirty_files: Vec<String> = status
        .lines()
        .filter_map(|l| l.get(3..))
        .map(str::to_owned)
        .collect();
    let dirty = !dirty_files.is_empty();
    if dirty && !allow_dirty {
        let mut files = dirty_files
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if dirty_files.len() > 5 {
            files.push_str(&format!(" and {} more", dirty_files.len() - 5));
        }
        return Err(CaptureError::DirtyTree { repo: top, files });
    }
    let signature = commit_signature(dir, &commit, allowed_signers)?;
    Ok(Source {
        repository,
        commit,
        r#ref,
        dirty,
        dirty_files,
        signature,
    })
}

/// Checks the signature of `commit` (see [`git_source`]).
fn commit_signature(
    dir: &Path,
    commit: &str,
    allowed_signers: Option<&Path>,
) -> Result<CommitSignature> {
    let raw = git(dir, &["cat-file", "commit", commit])?;
    let header: String = raw.split("\n\n").next().unwrap_or_default().to_owned();
    let sig_line = header
        .lines()
        .find(|l| l.starts_with("gpgsig ") || l.starts_with("gpgsig-sha256 "));
    let Some(sig_line) = sig_line else {
        return Ok(CommitSignature::unsigned());
    };
    let format = if sig_line.contains("BEGIN SSH SIGNATURE") {
        "ssh"
    } else if sig_line.contains("BEGIN SIGNED MESSAGE") {
        "x509"
    } else {
        "gpg"
    };
    let mut args: Vec<String> = Vec::new();
    if let Some(f) = allowed_signers {
        let abs = std::fs::canonicalize(f).map_err(|e| CaptureError::Io {
            path: f.display().to_string(),
            source: e,
        })?;
        args.push("-c".into());
        args.push(format!("gpg.ssh.allowedSignersFile={}", abs.display()));
    }
    args.extend(["log", "-1", "--format=%G?%x00%GS%x00%GF%x00%GK", commit].map(String::from));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = git(dir, &argv).unwrap_or_default();
    let mut parts = out.split('\0');
    let code = parts.next().unwrap_or_default().trim().to_owned();
    let signer = parts
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let fpr = parts
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let keyid = parts
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let status = match code.as_str() {
        "G" => "verified",
        "U" => "untrusted",
        "B" => "bad",
        "X" | "Y" => "expired",
        "R" => "revoked",
        _ => "unverifiable",
    };
    // Without an allowed-signers file git cannot check SSH signatures at all.
    let status = if format == "ssh" && allowed_signers.is_none() {
        "unverifiable"
    } else {
        status
    };
    Ok(CommitSignature {
        status: status.into(),
        format: Some(format.into()),
        signer: if status == "verified" || format == "gpg" {
            signer
        } else {
            None
        },
        key: fpr.or(keyid),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use provenant_testkit::require_program;

    use super::*;

    #[test]
    fn credentials_are_dropped_from_remote_urls() {
        assert_eq!(
            without_credentials("https://u:tok@git.example/a/b.git"),
            "https://git.example/a/b.git"
        );
        assert_eq!(
            without_credentials("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
    }

    fn run(dir: &Path, cmd: &str, args: &[&str]) {
        let out = Command::new(cmd)
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn git_source_dirty_tree_and_ssh_commit_signatures() {
        if !require_program("git") || !require_program("ssh-keygen") {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let repo = d.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        run(&repo, "git", &["init", "-q", "-b", "main"]);
        run(&repo, "git", &["config", "user.email", "alice@example.com"]);
        run(&repo, "git", &["config", "user.name", "Alice"]);
        run(
            &repo,
            "git",
            &[
                "remote",
                "add",
                "origin",
                "https://bot:secret@git.example/aiops/train.git",
            ],
        );
        std::fs::write(repo.join("train.py"), "print('hi')\n").unwrap();
        run(&repo, "git", &["add", "train.py"]);
        run(&repo, "git", &["commit", "-q", "-m", "unsigned"]);
        let s = git_source(&repo, false, None).unwrap();
        assert_eq!(
            s.repository, "https://git.example/aiops/train.git",
            "credentials are dropped"
        );
        assert_eq!(s.signature, CommitSignature::unsigned());
        assert_eq!(s.r#ref.as_deref(), Some("main"));
        assert!(valid_commit(&s.commit));

        // Dirty: refused, or recorded with --allow-dirty.
        std::fs::write(repo.join("train.py"), "print('changed')\n").unwrap();
        let e = git_source(&repo, false, None).unwrap_err();
        assert!(matches!(e, CaptureError::DirtyTree { .. }), "{e}");
        assert!(e.to_string().contains("train.py"), "{e}");
        let s = git_source(&repo, true, None).unwrap();
        assert!(s.dirty && s.dirty_files == ["train.py"]);

        // SSH-signed commit: verified against the allowed signers, untrusted otherwise.
        run(
            d.path(),
            "ssh-keygen",
            &[
                "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", "alice",
            ],
        );
        run(
            d.path(),
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-C", "bob", "-f", "bob"],
        );
        run(&repo, "git", &["config", "gpg.format", "ssh"]);
        let key = d.path().join("alice.pub");
        run(
            &repo,
            "git",
            &["config", "user.signingkey", key.to_str().unwrap()],
        );
        run(&repo, "git", &["commit", "-q", "-S", "-a", "-m", "signed"]);
        let pubkey = std::fs::read_to_string(&key).unwrap();
        let allowed = d.path().join("allowed_signers");
        std::fs::write(
            &allowed,
            format!("alice@example.com namespaces=\"git\" {pubkey}"),
        )
        .unwrap();
        let s = git_source(&repo, false, Some(&allowed)).unwrap();
        assert_eq!(s.signature.status, "verified", "{:?}", s.signature);
        assert_eq!(s.signature.signer.as_deref(), Some("alice@example.com"));
        assert_eq!(s.signature.format.as_deref(), Some("ssh"));
        assert!(s.signature.key.as_deref().unwrap().starts_with("SHA256:"));
        let bob = std::fs::read_to_string(d.path().join("bob.pub")).unwrap();
        std::fs::write(&allowed, format!("bob@example.com {bob}")).unwrap();
        let s = git_source(&repo, false, Some(&allowed)).unwrap();
        assert_eq!(s.signature.status, "untrusted");
        assert_eq!(s.signature.signer, None);
        let s = git_source(&repo, false, None).unwrap();
        assert_eq!(s.signature.status, "unverifiable");
        // Not a repository.
        let e = git_source(d.path(), false, None).unwrap_err();
        assert!(matches!(e, CaptureError::Tool { .. }), "{e}");
    }

    #[test]
    fn gpg_signed_commits_are_checked_against_the_keyring() {
        if !require_program("git") || !require_program("gpg") {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("gnupg");
        std::fs::create_dir(&home).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let params = d.path().join("params");
        std::fs::write(
            &params,
            "%no-protection\nKey-Type: EDDSA\nKey-Curve: ed25519\nName-Real: Bob Builder\nName-Email: bob@example.com\nExpire-Date: 0\n%commit\n",
        )
        .unwrap();
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--quiet", "--gen-key"])
            .arg(&params)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--list-secret-keys", "--with-colons"])
            .output()
            .unwrap();
        let fpr = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_owned())
            })
            .unwrap();
        // git runs gpg through gpg.program: a wrapper pointing at this keyring.
        let wrapper = d.path().join("gpg-wrapper");
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nGNUPGHOME={} exec gpg \"$@\"\n", home.display()),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let repo = d.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        run(&repo, "git", &["init", "-q"]);
        run(&repo, "git", &["config", "user.email", "bob@example.com"]);
        run(&repo, "git", &["config", "user.name", "Bob Builder"]);
        run(&repo, "git", &["config", "user.signingkey", &fpr]);
        run(
            &repo,
            "git",
            &["config", "gpg.program", wrapper.to_str().unwrap()],
        );
        std::fs::write(repo.join("train.py"), "x\n").unwrap();
        run(&repo, "git", &["add", "train.py"]);
        run(&repo, "git", &["commit", "-q", "-S", "-m", "signed"]);
        let s = git_source(&repo, false, None).unwrap();
        assert_eq!(s.signature.status, "verified", "{:?}", s.signature);
        assert_eq!(s.signature.format.as_deref(), Some("gpg"));
        assert_eq!(
            s.signature.signer.as_deref(),
            Some("Bob Builder <bob@example.com>")
        );
        assert_eq!(s.signature.key.as_deref(), Some(fpr.as_str()));
        // Without the key in the keyring the signature cannot be checked.
        let empty = d.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nGNUPGHOME={} exec gpg \"$@\"\n", empty.display()),
        )
        .unwrap();
        let s = git_source(&repo, false, None).unwrap();
        assert_ne!(s.signature.status, "verified", "{:?}", s.signature);
        assert_eq!(s.signature.format.as_deref(), Some("gpg"));
    }
}
