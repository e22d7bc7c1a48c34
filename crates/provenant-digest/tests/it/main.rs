#![allow(clippy::unwrap_used)] // test binary: panicking on setup failure is the point
//! Integration tests: digests must equal what PyPI `model-signing` 1.1.1
//! computes for the same tree (expected values were produced with
//! `model_signing.hashing.Config()` on an identical model).

use std::fs;
use std::path::Path;

use provenant_digest::{
    DigestError, HashAlgorithm, HashOptions, Serialization, hash_model, validate_relative_path,
};

fn model(dir: &Path) {
    fs::create_dir_all(dir.join("a")).unwrap();
    fs::create_dir_all(dir.join(".git")).unwrap();
    fs::create_dir_all(dir.join("nested/deep")).unwrap();
    fs::write(dir.join("a/b"), b"hi\n").unwrap();
    fs::write(dir.join("a-c"), b"x\n").unwrap();
    fs::write(dir.join("empty"), b"").unwrap();
    fs::write(dir.join(".git/HEAD"), b"g").unwrap();
    fs::write(dir.join(".gitignore"), b"gi").unwrap();
    fs::write(dir.join("nested/deep/z.txt"), b"zz").unwrap();
    let big: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(dir.join("big.bin"), big).unwrap();
}

fn names(d: &provenant_digest::ModelDigest) -> Vec<String> {
    d.resources.iter().map(|r| r.name.to_string()).collect()
}

#[test]
fn files_sha256_matches_model_signing() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("gm");
    model(&m);
    let d = hash_model(&m, &HashOptions::default()).unwrap();
    assert_eq!(d.model_name, "gm");
    assert_eq!(
        names(&d),
        ["a/b", "a-c", "big.bin", "empty", "nested/deep/z.txt"]
    );
    assert_eq!(
        d.root_digest_hex(),
        "6106319f7a6061a462bfaa32322bfeb555b15004c26aa7be9e33447b38f006b2"
    );
    assert_eq!(d.resources[0].algorithm, "sha256");
    assert_eq!(
        d.resources[3].digest_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        d.ignore_paths,
        [".git", ".gitattributes", ".github", ".gitignore"]
    );
}

#[test]
fn blake2b_and_blake3_match_model_signing() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("gm");
    model(&m);
    for (alg, root) in [
        (
            HashAlgorithm::Blake2b,
            "92620fbc536df1658856cbec2d6a0b17f3c1e19b10917e43800dd5216fa864f3",
        ),
        (
            HashAlgorithm::Blake3,
            "82c80a23b1ae7bc36c4d4abb097a537c0ab5b062eb8c16a654583cf7b9f55400",
        ),
    ] {
        for threads in [1, 2, 8] {
            let d = hash_model(
                &m,
                &HashOptions {
                    algorithm: alg,
                    threads: Some(threads),
                    ..HashOptions::default()
                },
            )
            .unwrap();
            assert_eq!(d.root_digest_hex(), root, "{alg} threads={threads}");
            assert_eq!(d.resources[0].algorithm, alg.name());
        }
    }
}

#[test]
fn shards_match_model_signing() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("gm");
    model(&m);
    let d = hash_model(
        &m,
        &HashOptions {
            serialization: Serialization::Shards {
                shard_size: 1_000_000,
            },
            read_size: 4096,
            ..HashOptions::default()
        },
    )
    .unwrap();
    // Empty files have no shard.
    assert_eq!(
        names(&d),
        [
            "a/b:0:3",
            "a-c:0:2",
            "big.bin:0:1000000",
            "big.bin:1000000:2000000",
            "big.bin:2000000:2500000",
            "nested/deep/z.txt:0:2"
        ]
    );
    assert_eq!(d.resources[0].algorithm, "sha256-sharded-1000000");
    assert_eq!(
        d.root_digest_hex(),
        "916e6931b4ef245da984870aa63f1cf3cb059145f7cc846b550bc8e4d67e1ad2"
    );
}

#[test]
fn single_file_model() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("gm");
    model(&m);
    let d = hash_model(&m.join("big.bin"), &HashOptions::default()).unwrap();
    assert_eq!(d.model_name, "big.bin");
    assert_eq!(names(&d), ["."]);
    assert_eq!(
        d.root_digest_hex(),
        "d721736e9b2ba435faf35f97cb6eb197047ef0c21ff71e3b64ed3bc04e2b0258"
    );
}

#[test]
fn ignore_paths_and_git_paths() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("gm");
    model(&m);
    let d = hash_model(
        &m,
        &HashOptions {
            ignore_paths: vec!["nested".into()],
            ignore_git_paths: false,
            ..HashOptions::default()
        },
    )
    .unwrap();
    assert_eq!(names(&d)[..2], [".git/HEAD", ".gitignore"]);
    assert_eq!(
        d.root_digest_hex(),
        "b6f15ba6e09b4543d51f6bc325fbebcf73c5f396ef665d67b72115257a37ac44"
    );
    assert_eq!(d.ignore_paths, ["nested"]);
    // Unsafe ignore paths are refused.
    let e = hash_model(
        &m,
        &HashOptions {
            ignore_paths: vec!["../x".into()],
            ..HashOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, DigestError::InvalidPath { .. }), "{e}");
}

#[test]
fn only_files_restricts_hashing() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("gm");
    model(&m);
    fs::write(m.join("unsigned.txt"), b"u").unwrap();
    let d = hash_model(
        &m,
        &HashOptions {
            only_files: Some(vec![
                "a/b".into(),
                "nested/deep/z.txt".into(),
                "gone".into(),
            ]),
            ..HashOptions::default()
        },
    )
    .unwrap();
    assert_eq!(names(&d), ["a/b", "nested/deep/z.txt"]);
}

#[cfg(unix)]
#[test]
fn symlinks_refused_allowed_and_never_escape() {
    use std::os::unix::fs::symlink;
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("gm");
    model(&m);
    symlink("a/b", m.join("link")).unwrap();
    let e = hash_model(&m, &HashOptions::default()).unwrap_err();
    assert!(
        matches!(&e, DigestError::SymlinkRefused { path } if path == "link"),
        "{e}"
    );
    assert!(e.to_string().contains("link"));

    let allow = HashOptions {
        allow_symlinks: true,
        ..HashOptions::default()
    };
    let d = hash_model(&m, &allow).unwrap();
    let link = d
        .resources
        .iter()
        .find(|r| r.name.path() == "link")
        .unwrap();
    let b = d.resources.iter().find(|r| r.name.path() == "a/b").unwrap();
    assert_eq!(link.digest, b.digest);

    fs::write(t.path().join("secret"), b"s").unwrap();
    symlink("../secret", m.join("escape")).unwrap();
    let e = hash_model(&m, &allow).unwrap_err();
    assert!(
        matches!(&e, DigestError::SymlinkEscapes { path, .. } if path == "escape"),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn special_files_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("gm");
    model(&m);
    let sock = std::os::unix::net::UnixListener::bind(m.join("sock")).unwrap();
    let e = hash_model(&m, &HashOptions::default()).unwrap_err();
    assert!(
        matches!(&e, DigestError::UnsupportedFileType { path } if path == "sock"),
        "{e}"
    );
    drop(sock);
}

#[test]
fn real_site_packages_tree_hashes_deterministically() {
    // A real, larger tree: this machine's Python standard library `json` package.
    let Some(src) = ["/usr/lib/python3.11/json", "/usr/lib/python3/dist-packages"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_dir())
    else {
        return;
    };
    let a = hash_model(
        src,
        &HashOptions {
            threads: Some(1),
            ..HashOptions::default()
        },
    );
    let b = hash_model(src, &HashOptions::default());
    match (a, b) {
        (Ok(a), Ok(b)) => assert_eq!(a.root_digest, b.root_digest),
        // Trees with symlinks are refused by default; that is the expected outcome.
        (Err(DigestError::SymlinkRefused { .. }), Err(DigestError::SymlinkRefused { .. })) => {}
        (a, b) => panic!("{a:?} {b:?}"),
    }
}

#[test]
fn relative_path_validation() {
    assert!(validate_relative_path("a/../../etc").is_err());
    assert!(validate_relative_path("weights/model.safetensors").is_ok());
}
