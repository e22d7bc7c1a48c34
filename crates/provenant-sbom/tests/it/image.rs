//! Images built here from this machine's real files: its dpkg database, os-release, Debian
//! copyright files and site-packages metadata.

use std::path::Path;

use provenant_sbom::{ImageLimits, SbomError, catalog_image, catalog_image_with, catalog_path};

use crate::fixtures::{
    Compression, Entry, dpkg_installed, raw_tar_with_name, site_packages, tar_bytes,
    write_docker_archive, write_oci_layout,
};

const SP: &str = "usr/local/lib/python3.11/site-packages";

struct Host {
    status: String,
    base_layer: Vec<u8>,
    dists: Vec<String>,
}

fn host() -> Host {
    let status =
        std::fs::read_to_string("/var/lib/dpkg/status").expect("this machine's dpkg database");
    let mut entries = vec![
        Entry::File(
            "etc/os-release".into(),
            std::fs::read("/etc/os-release").unwrap(),
        ),
        Entry::File("var/lib/dpkg/status".into(), status.clone().into_bytes()),
    ];
    for pkg in dpkg_installed(&status) {
        if let Ok(c) = std::fs::read(format!("/usr/share/doc/{pkg}/copyright")) {
            entries.push(Entry::File(format!("usr/share/doc/{pkg}/copyright"), c));
        }
    }
    let site = site_packages();
    let mut dists = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&site)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        if n.ends_with(".dist-info") && p.join("METADATA").is_file() {
            entries.push(Entry::Dir(format!("{SP}/{n}")));
            for f in ["METADATA", "RECORD"] {
                if let Ok(b) = std::fs::read(p.join(f)) {
                    entries.push(Entry::File(format!("{SP}/{n}/{f}"), b));
                }
            }
            dists.push(n);
        }
    }
    // Some real files the catalogers must skip over.
    for f in ["pip/__init__.py", "pip/__main__.py"] {
        if let Ok(b) = std::fs::read(site.join(f)) {
            entries.push(Entry::File(format!("{SP}/{f}"), b));
        }
    }
    entries.push(Entry::Symlink(
        "usr/bin/python3".into(),
        "python3.11".into(),
    ));
    Host {
        status,
        base_layer: tar_bytes(&entries),
        dists,
    }
}

fn pip_dist(h: &Host) -> &str {
    h.dists
        .iter()
        .find(|d| d.starts_with("pip-"))
        .expect("pip is installed")
}

fn whiteout_layer(h: &Host) -> Vec<u8> {
    tar_bytes(&[Entry::File(format!("{SP}/.wh.{}", pip_dist(h)), Vec::new())])
}

fn count(sbom: &provenant_sbom::Sbom, prefix: &str) -> usize {
    sbom.components
        .iter()
        .filter(|c| c.purl.as_deref().is_some_and(|p| p.starts_with(prefix)))
        .count()
}

#[test]
fn oci_layout_gzip_and_zstd_layers_with_whiteout() {
    let h = host();
    let tmp = tempfile::tempdir().unwrap();
    let digest = write_oci_layout(
        tmp.path(),
        &[
            (h.base_layer.clone(), Compression::Gzip),
            (whiteout_layer(&h), Compression::Zstd),
        ],
        "registry.example/aiops/serving:1.0",
    );
    let sbom = catalog_image(tmp.path()).unwrap();
    assert!(sbom.is_complete(), "{:?}", sbom.warnings);
    assert_eq!(count(&sbom, "pkg:deb/"), dpkg_installed(&h.status).len());
    assert_eq!(
        count(&sbom, "pkg:pypi/"),
        h.dists.len() - 1,
        "pip was whited out"
    );
    assert!(!sbom.components.iter().any(|c| c.name == "pip"));
    let image = sbom
        .components
        .iter()
        .find(|c| c.purl.as_deref().is_some_and(|p| p.starts_with("pkg:oci/")))
        .unwrap();
    assert_eq!(image.hashes[0].hex, digest.strip_prefix("sha256:").unwrap());
    assert_eq!(image.version.as_deref(), Some("1.0"));
    assert!(image.properties["provenant:image:layer:000"].contains("diff_id=sha256:"));
    assert!(image.properties.contains_key("provenant:image:layer:001"));
    assert_eq!(
        sbom.contains[&image.bom_ref].len(),
        sbom.components.len() - 1
    );
    // Debian licences from the copyright files, dependency edges from Depends.
    let bash = sbom.components.iter().find(|c| c.name == "bash").unwrap();
    assert!(!bash.licenses.is_empty());
    assert!(
        bash.purl.as_deref().unwrap().contains("distro=debian-"),
        "{:?}",
        bash.purl
    );
    assert!(!sbom.dependencies[&bash.bom_ref].is_empty());
}

#[test]
fn opaque_directory_hides_lower_layers() {
    let h = host();
    let tmp = tempfile::tempdir().unwrap();
    let pip = pip_dist(&h).to_string();
    let site = site_packages();
    let top = tar_bytes(&[
        Entry::File(format!("{SP}/.wh..wh..opq"), Vec::new()),
        Entry::File(
            format!("{SP}/{pip}/METADATA"),
            std::fs::read(site.join(&pip).join("METADATA")).unwrap(),
        ),
    ]);
    write_oci_layout(
        tmp.path(),
        &[
            (h.base_layer.clone(), Compression::Gzip),
            (whiteout_layer(&h), Compression::Zstd),
            (top, Compression::None),
        ],
        "x",
    );
    let sbom = catalog_image(tmp.path()).unwrap();
    let py: Vec<_> = sbom
        .components
        .iter()
        .filter(|c| c.purl.as_deref().unwrap().starts_with("pkg:pypi/"))
        .collect();
    assert_eq!(py.len(), 1);
    assert_eq!(py[0].name, "pip");
}

#[test]
fn docker_archive_matches_oci_layout() {
    let h = host();
    let tmp = tempfile::tempdir().unwrap();
    let tar = tmp.path().join("image.tar");
    let config = write_docker_archive(
        &tar,
        &[h.base_layer.clone(), whiteout_layer(&h)],
        "aiops/serving:2",
    );
    let sbom = catalog_path(&tar).unwrap();
    assert_eq!(count(&sbom, "pkg:deb/"), dpkg_installed(&h.status).len());
    assert_eq!(count(&sbom, "pkg:pypi/"), h.dists.len() - 1);
    let image = sbom
        .components
        .iter()
        .find(|c| c.name == "aiops/serving")
        .unwrap();
    assert_eq!(image.properties["provenant:image:config-digest"], config);
    assert_eq!(image.version.as_deref(), Some("2"));
}

#[test]
fn distroless_status_d() {
    let h = host();
    let stanzas: Vec<&str> = h
        .status
        .split("\n\n")
        .filter(|s| s.contains("Status: install ok installed"))
        .take(5)
        .collect();
    let mut entries = Vec::new();
    for (i, s) in stanzas.iter().enumerate() {
        entries.push(Entry::File(
            format!("var/lib/dpkg/status.d/pkg{i}"),
            format!("{s}\n").into_bytes(),
        ));
        entries.push(Entry::File(
            format!("var/lib/dpkg/status.d/pkg{i}.md5sums"),
            b"d41d8cd98f00b204e9800998ecf8427e  x\n".to_vec(),
        ));
    }
    let tmp = tempfile::tempdir().unwrap();
    write_oci_layout(
        tmp.path(),
        &[(tar_bytes(&entries), Compression::Gzip)],
        "distroless",
    );
    let sbom = catalog_image(tmp.path()).unwrap();
    assert_eq!(count(&sbom, "pkg:deb/"), 5);
}

fn layout_with(layer: Vec<u8>, comp: Compression) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write_oci_layout(tmp.path(), &[(layer, comp)], "hostile");
    tmp
}

#[test]
fn path_traversal_is_refused() {
    let tmp = layout_with(
        raw_tar_with_name(b"../../etc/passwd", b"root:x:0:0\n"),
        Compression::Gzip,
    );
    let e = catalog_image(tmp.path()).unwrap_err();
    assert!(matches!(e, SbomError::UnsafePath { .. }), "{e}");
    assert!(e.to_string().contains("blobs/sha256/"), "{e}");
    let tmp = layout_with(raw_tar_with_name(b"/etc/passwd", b"x"), Compression::None);
    assert!(matches!(
        catalog_image(tmp.path()),
        Err(SbomError::UnsafePath { .. })
    ));
}

#[test]
fn symlink_loop_is_an_error() {
    let layer = tar_bytes(&[
        Entry::Symlink("var/lib/dpkg/status".into(), "status2".into()),
        Entry::Symlink("var/lib/dpkg/status2".into(), "/var/lib/dpkg/status".into()),
    ]);
    let tmp = layout_with(layer, Compression::Gzip);
    let e = catalog_image(tmp.path()).unwrap_err();
    assert!(matches!(e, SbomError::SymlinkLoop { .. }), "{e}");
}

#[test]
fn symlinked_database_is_followed_and_hard_links_resolve() {
    let h = host();
    let layer = tar_bytes(&[
        Entry::File("var/lib/dpkg/status-real".into(), Vec::new()),
        Entry::Dir("etc".into()),
        Entry::File(
            "usr/lib/os-release".into(),
            std::fs::read("/etc/os-release").unwrap(),
        ),
        Entry::HardLink("etc/os-release".into(), "usr/lib/os-release".into()),
        Entry::Symlink(
            "var/lib/dpkg/status".into(),
            "/var/lib/dpkg/db/status".into(),
        ),
        Entry::File(
            "var/lib/dpkg/db/status".into(),
            h.status.clone().into_bytes(),
        ),
    ]);
    let tmp = layout_with(layer, Compression::Zstd);
    let sbom = catalog_image(tmp.path()).unwrap();
    assert_eq!(count(&sbom, "pkg:deb/"), dpkg_installed(&h.status).len());
    assert!(
        sbom.components
            .iter()
            .any(|c| c.purl.as_deref().unwrap().contains("distro=debian-"))
    );
}

#[test]
fn decompression_bomb_is_an_error() {
    let zeros = tar_bytes(&[Entry::File("big".into(), vec![0u8; 16 << 20])]);
    let tmp = layout_with(zeros, Compression::Gzip);
    let limits = ImageLimits {
        max_layer_bytes: 8 << 20,
        ..ImageLimits::default()
    };
    let e = catalog_image_with(tmp.path(), &limits).unwrap_err();
    assert!(
        matches!(
            e,
            SbomError::LimitExceeded {
                what: "decompressed layer size",
                ..
            }
        ),
        "{e}"
    );

    let zeros = tar_bytes(&[Entry::File("big".into(), vec![0u8; 4 << 20])]);
    let tmp = layout_with(zeros, Compression::Gzip);
    let limits = ImageLimits {
        max_ratio: 100,
        ratio_after_bytes: 1 << 20,
        ..ImageLimits::default()
    };
    let e = catalog_image_with(tmp.path(), &limits).unwrap_err();
    assert!(
        matches!(
            e,
            SbomError::LimitExceeded {
                what: "decompression ratio",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn absurd_entry_count_and_oversized_database() {
    let entries: Vec<Entry> = (0..200)
        .map(|i| Entry::File(format!("f{i}"), Vec::new()))
        .collect();
    let tmp = layout_with(tar_bytes(&entries), Compression::Gzip);
    let limits = ImageLimits {
        max_entries: 100,
        ..ImageLimits::default()
    };
    let e = catalog_image_with(tmp.path(), &limits).unwrap_err();
    assert!(
        matches!(
            e,
            SbomError::LimitExceeded {
                what: "layer entry count",
                ..
            }
        ),
        "{e}"
    );

    let tmp = layout_with(
        tar_bytes(&[Entry::File("var/lib/dpkg/status".into(), vec![b'a'; 4096])]),
        Compression::None,
    );
    let limits = ImageLimits {
        max_file_bytes: 1024,
        ..ImageLimits::default()
    };
    let e = catalog_image_with(tmp.path(), &limits).unwrap_err();
    assert!(
        matches!(
            e,
            SbomError::LimitExceeded {
                what: "file size",
                ..
            }
        ),
        "{e}"
    );
}

fn only_layer_blob(dir: &Path) -> std::path::PathBuf {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let md = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(md)).unwrap()).unwrap();
    let ld = m["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    dir.join("blobs/sha256").join(ld)
}

#[test]
fn tampered_and_truncated_layers() {
    let h = host();
    let tmp = layout_with(h.base_layer.clone(), Compression::None);
    let blob = only_layer_blob(tmp.path());
    let mut bytes = std::fs::read(&blob).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    let e = catalog_image(tmp.path()).unwrap_err();
    assert!(matches!(e, SbomError::DigestMismatch { .. }), "{e}");

    let tmp = layout_with(h.base_layer.clone(), Compression::Gzip);
    let blob = only_layer_blob(tmp.path());
    let bytes = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &bytes[..bytes.len() / 2]).unwrap();
    let e = catalog_image(tmp.path()).unwrap_err();
    assert!(
        matches!(
            e,
            SbomError::Parse { .. } | SbomError::DigestMismatch { .. }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("blobs/sha256/"), "{e}");
}

#[test]
fn garbage_archive_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("image.tar");
    let mut t = raw_tar_with_name(b"manifest.json", b"[{\"Config\": 5}]");
    t.truncate(700);
    std::fs::write(&p, t).unwrap();
    assert!(catalog_image(&p).is_err());
    std::fs::write(&p, b"not a tar at all").unwrap();
    assert!(catalog_image(&p).is_err());
}

#[test]
fn oci_layout_inside_a_tarball_like_docker_25_saves() {
    let h = host();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    write_oci_layout(
        &layout,
        &[
            (h.base_layer.clone(), Compression::None),
            (whiteout_layer(&h), Compression::Gzip),
        ],
        "x",
    );
    // Re-annotate as docker does: full name in the containerd annotation.
    let idx_path = layout.join("index.json");
    let mut idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&idx_path).unwrap()).unwrap();
    idx["manifests"][0]["annotations"] = serde_json::json!({"io.containerd.image.name": "docker.io/aiops/serving:3", "org.opencontainers.image.ref.name": "3"});
    std::fs::write(&idx_path, serde_json::to_vec(&idx).unwrap()).unwrap();
    let mut entries = Vec::new();
    for e in walk(&layout) {
        let rel = e
            .strip_prefix(&layout)
            .unwrap()
            .to_string_lossy()
            .to_string();
        entries.push(Entry::File(rel, std::fs::read(&e).unwrap()));
    }
    let tar = tmp.path().join("saved.tar");
    std::fs::write(&tar, tar_bytes(&entries)).unwrap();
    let sbom = catalog_path(&tar).unwrap();
    assert_eq!(count(&sbom, "pkg:pypi/"), h.dists.len() - 1);
    let image = sbom
        .components
        .iter()
        .find(|c| c.purl.as_deref().unwrap().starts_with("pkg:oci/"))
        .unwrap();
    assert_eq!(image.name, "docker.io/aiops/serving");
    assert_eq!(image.version.as_deref(), Some("3"));
    assert!(
        image
            .purl
            .as_deref()
            .unwrap()
            .contains("repository_url=docker.io/aiops/serving"),
        "{:?}",
        image.purl
    );

    // A compressed archive is refused with a clear message, not misread.
    let gz = tmp.path().join("saved.tar.gz");
    std::fs::write(&gz, crate::fixtures::gzip(&std::fs::read(&tar).unwrap())).unwrap();
    let e = catalog_image(&gz).unwrap_err();
    assert!(e.to_string().contains("decompress it first"), "{e}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn unpacked_docker_archive_cannot_read_outside_its_directory() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("manifest.json"),
        br#"[{"Config": "../../../../etc/os-release", "RepoTags": ["x:1"], "Layers": []}]"#,
    )
    .unwrap();
    let e = catalog_image(tmp.path()).unwrap_err();
    assert!(matches!(e, SbomError::UnsafePath { .. }), "{e}");
}

/// An Alpine image (zstd layer): the apk database is tiny and made up, as no
/// Alpine system is installed on this machine to take a real one from.
#[test]
fn alpine_apk_database_in_an_image() {
    let installed = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\nT:the musl c library\n\n\
                     P:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\nD:so:libc.musl-x86_64.so.1\n\n\
                     P:python3\nV:3.11.8-r0\nA:x86_64\nL:PSF-2.0\n";
    let entries = vec![
        Entry::File(
            "etc/os-release".into(),
            b"ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n".to_vec(),
        ),
        Entry::File("lib/apk/db/installed".into(), installed.as_bytes().to_vec()),
    ];
    let tmp = tempfile::tempdir().unwrap();
    write_oci_layout(
        tmp.path(),
        &[(tar_bytes(&entries), Compression::Zstd)],
        "alpine",
    );
    let sbom = catalog_image(tmp.path()).unwrap();
    assert_eq!(count(&sbom, "pkg:apk/alpine/"), 3, "{:?}", sbom.components);
    let bb = sbom
        .components
        .iter()
        .find(|c| c.name == "busybox")
        .unwrap();
    assert_eq!(
        bb.purl.as_deref(),
        Some("pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64&distro=alpine-3.19.1")
    );
    assert!(sbom.is_complete(), "{:?}", sbom.warnings);
}

/// A name of about `len` bytes under `usr/share/` (nested directories, so every component
/// stays short).
fn long_name(len: usize) -> String {
    let mut name = "usr/share/".to_string();
    while name.len() < len {
        name.push_str("abcdefghijklmnopqrstuvwxyz/");
    }
    name.push('x');
    name
}

fn limit_hit(e: &SbomError) -> Option<&'static str> {
    match e {
        SbomError::LimitExceeded { what, .. } => Some(what),
        _ => None,
    }
}

const EXTENSION_HEADER: &str = "tar extension header (long name, long link or PAX records)";

#[test]
fn long_tar_names_are_refused_before_they_are_read() {
    let limits = ImageLimits {
        max_extension_header_bytes: 64 << 10,
        ..ImageLimits::default()
    };
    let os_release = Entry::File("etc/os-release".into(), b"ID=debian\n".to_vec());
    // Under the bound: read as before.
    let ok = tar_bytes(&[
        Entry::File(long_name(32 << 10), b"x".to_vec()),
        os_release.clone(),
    ]);
    catalog_image_with(layout_with(ok, Compression::Gzip).path(), &limits).unwrap();
    // A GNU long name, a GNU long link (symlink target) and a PAX record set over it.
    let long_file = tar_bytes(&[
        Entry::File(long_name(100 << 10), b"x".to_vec()),
        os_release.clone(),
    ]);
    let long_link = tar_bytes(&[Entry::Symlink("usr/x".into(), long_name(100 << 10))]);
    let mut b = tar::Builder::new(Vec::new());
    let big = vec![b'a'; 100 << 10];
    b.append_pax_extensions([("comment", big.as_slice())])
        .unwrap();
    append_file(&mut b, "usr/y", b"y", None);
    let pax = b.into_inner().unwrap();
    for (what, layer) in [
        ("long name", long_file),
        ("long link", long_link),
        ("PAX", pax),
    ] {
        let tmp = layout_with(layer, Compression::Zstd);
        let e = catalog_image_with(tmp.path(), &limits).unwrap_err();
        assert_eq!(limit_hit(&e), Some(EXTENSION_HEADER), "{what}: {e}");
        assert!(e.to_string().contains("blobs/sha256/"), "{e}");
    }

    // The bound is found after an entry whose PAX `size` record overrides its header's:
    // the guard walks the archive as the tar reader does.
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("size", b"1536".as_slice())])
        .unwrap();
    append_file(&mut b, "usr/z", &[b'z'; 1536], Some(0));
    append_file(&mut b, &long_name(100 << 10), b"x", None);
    let tmp = layout_with(b.into_inner().unwrap(), Compression::None);
    let e = catalog_image_with(tmp.path(), &limits).unwrap_err();
    assert_eq!(limit_hit(&e), Some(EXTENSION_HEADER), "{e}");
}

/// Appends a GNU regular file; `header_size` overrides the size written in the header.
fn append_file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], header_size: Option<u64>) {
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(header_size.unwrap_or(data.len() as u64));
    b.append_data(&mut h, path, data).unwrap();
}

#[test]
fn whiteout_lists_count_toward_the_memory_budget() {
    let limits = ImageLimits {
        max_kept_bytes: 16 << 10,
        ..ImageLimits::default()
    };
    let dir = "usr/share/".to_string() + &"w".repeat(90);
    let whiteouts: Vec<Entry> = (0..200)
        .map(|i| Entry::File(format!("{dir}/.wh.f{i:04}"), Vec::new()))
        .collect();
    let opaque: Vec<Entry> = (0..200)
        .map(|i| Entry::File(format!("{dir}{i:04}/.wh..wh..opq"), Vec::new()))
        .collect();
    for (what, entries) in [("whiteouts", whiteouts), ("opaque directories", opaque)] {
        // 200 names of about 100 bytes: 20 kB over a 16 kB budget.
        let tmp = layout_with(tar_bytes(&entries), Compression::Gzip);
        let e = catalog_image_with(tmp.path(), &limits).unwrap_err();
        assert_eq!(
            limit_hit(&e),
            Some("metadata kept in memory"),
            "{what}: {e}"
        );
        // Within the default budget they are fine.
        catalog_image(tmp.path()).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

/// Runs `catalog_image` on another thread and gives it `secs` to answer: opening a FIFO
/// would block for ever.
fn catalog_within(dir: &Path, secs: u64) -> Option<Result<provenant_sbom::Sbom, SbomError>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(catalog_image(&dir));
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs)).ok()
}

fn assert_refused(r: &Result<provenant_sbom::Sbom, SbomError>, reason: &str, what: &str) {
    match r {
        Err(e @ SbomError::UnsafePath { reason: r, .. }) if r.contains(reason) => {
            assert!(e.to_string().contains("blobs"), "{what}: {e}");
        }
        Err(e) => panic!("{what}: expected a refusal ({reason}), got {e}"),
        Ok(_) => panic!("{what}: expected a refusal ({reason}), got a catalog"),
    }
}

#[test]
fn image_directory_symlinks_out_of_it_are_not_followed() {
    let h = host();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    write_oci_layout(&layout, &[(h.base_layer.clone(), Compression::Gzip)], "x");
    catalog_image(&layout).unwrap();

    // The layer blob is a link to a file outside the layout (with the right content, so
    // only the link itself can be refused).
    let blob = only_layer_blob(&layout);
    let moved = outside.join(blob.file_name().unwrap());
    std::fs::rename(&blob, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &blob).unwrap();
    assert_refused(&catalog_image(&layout), "symbolic link", "linked blob");
    std::fs::remove_file(&blob).unwrap();
    std::fs::rename(&moved, &blob).unwrap();
    catalog_image(&layout).unwrap();

    // A directory on the way is a link.
    let blobs = layout.join("blobs");
    std::fs::rename(&blobs, outside.join("blobs")).unwrap();
    std::os::unix::fs::symlink(outside.join("blobs"), &blobs).unwrap();
    assert_refused(&catalog_image(&layout), "symbolic link", "linked blobs/");
}

#[test]
fn image_directory_fifos_and_devices_are_not_opened() {
    let h = host();
    let tmp = tempfile::tempdir().unwrap();
    write_oci_layout(
        tmp.path(),
        &[(h.base_layer.clone(), Compression::Gzip)],
        "x",
    );
    let blob = only_layer_blob(tmp.path());
    std::fs::remove_file(&blob).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&blob)
        .status()
        .unwrap();
    assert!(made.success());
    let r = catalog_within(tmp.path(), 20);
    if r.is_none() {
        // Release the reader blocked on the FIFO before failing.
        drop(std::fs::OpenOptions::new().write(true).open(&blob));
        panic!("opening the image blocked on a FIFO");
    }
    assert_refused(&r.unwrap(), "not a regular file", "FIFO");

    // A character device (/dev/zero's numbers) where one can be made (root).
    std::fs::remove_file(&blob).unwrap();
    let made = std::process::Command::new("mknod")
        .arg(&blob)
        .args(["c", "1", "5"])
        .stderr(std::process::Stdio::null())
        .status();
    if made.is_ok_and(|s| s.success()) {
        let r = catalog_within(tmp.path(), 20).expect("reading a device did not end");
        assert_refused(&r, "not a regular file", "device");
    }
}
