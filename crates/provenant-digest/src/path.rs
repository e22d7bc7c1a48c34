use std::cmp::Ordering;

use crate::error::{DigestError, Result};

/// Checks that `path` is a safe model-relative POSIX path: not empty, not
/// absolute, no `..`, `.` or empty components, no backslash or NUL.
///
/// The single-file model resource `.` is the one exception (see
/// [`crate::ResourceName`]).
pub fn validate_relative_path(path: &str) -> Result<()> {
    let bad = |reason| {
        Err(DigestError::InvalidPath {
            path: path.to_owned(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("empty path");
    }
    if path.starts_with('/') {
        return bad("absolute path");
    }
    if path.contains('\0') {
        return bad("contains NUL");
    }
    if path.contains('\\') {
        return bad("contains a backslash");
    }
    for component in path.split('/') {
        match component {
            ".." => return bad("contains a `..` component"),
            "." => return bad("contains a `.` component"),
            "" => return bad("contains an empty component"),
            _ => {}
        }
    }
    Ok(())
}

/// Orders model-relative POSIX paths the way `model_signing` does: component
/// by component (Python `PurePosixPath` ordering), so `a/b` sorts before `a-c`
/// although `-` < `/` in code-point order.
pub(crate) fn cmp_paths(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Whether `path` equals `prefix` or lies below it (component-wise).
pub(crate) fn is_under(path: &str, prefix: &str) -> bool {
    path == prefix
        || (path.len() > prefix.len()
            && path.starts_with(prefix)
            && path.as_bytes()[prefix.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_is_per_component() {
        assert_eq!(cmp_paths("a/b", "a-c"), Ordering::Less);
        assert_eq!("a/b".cmp("a-c"), Ordering::Greater);
        assert_eq!(cmp_paths("a", "a/b"), Ordering::Less);
        assert_eq!(cmp_paths("B", "a"), Ordering::Less);
        assert_eq!(cmp_paths("é", "z"), Ordering::Greater);
    }

    #[test]
    fn prefix() {
        assert!(is_under(".git/HEAD", ".git"));
        assert!(is_under(".git", ".git"));
        assert!(!is_under(".github", ".git"));
        assert!(!is_under("x/.git", ".git"));
    }

    #[test]
    fn unsafe_paths_rejected() {
        for p in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a/",
            "a\\b",
            "a\0",
        ] {
            assert!(validate_relative_path(p).is_err(), "{p:?}");
        }
        for p in ["a", "a/b", ".git", "a b/c-d.bin", "é"] {
            validate_relative_path(p).unwrap();
        }
    }
}
