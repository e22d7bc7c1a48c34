//! Real fixtures from this machine, and images built from them with the `tar` crate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// This machine's own site-packages (the interpreter on PATH).
pub fn site_packages() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import site; print(site.getsitepackages()[0])"])
        .output()
        .expect("python3 on PATH");
    assert!(out.status.success());
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// (name as a `pkg:pypi` purl writes it, version) of every distribution Python itself sees
/// in `site`. The purl spec's rule: lowercase, `_` becomes `-`, dots stay.
pub fn python_distributions(site: &Path) -> Vec<(String, String)> {
    let script = "import sys, importlib.metadata as m\n\
        seen = set()\n\
        for d in m.distributions(path=[sys.argv[1]]):\n\
        \x20   n = d.metadata['Name']\n\
        \x20   if n is None: continue\n\
        \x20   seen.add((n.lower().replace('_', '-'), d.version))\n\
        for n, v in sorted(seen): print(n, v)\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(site)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect()
}

pub fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Installed package names in a dpkg status file (what dpkg-query would list as installed).
pub fn dpkg_installed(status: &str) -> Vec<String> {
    let mut out = Vec::new();
    for stanza in status.split("\n\n") {
        let mut name = None;
        let mut installed = false;
        for line in stanza.lines() {
            if let Some(n) = line.strip_prefix("Package: ") {
                name = Some(n.to_string());
            }
            if let Some(s) = line.strip_prefix("Status: ") {
                installed = s.split_whitespace().nth(2) == Some("installed");
            }
        }
        if let (Some(n), true) = (name, installed) {
            out.push(n);
        }
    }
    out
}

/// One tar entry for a test layer.
#[derive(Clone)]
pub enum Entry {
    File(String, Vec<u8>),
    Symlink(String, String),
    HardLink(String, String),
    Dir(String),
}

pub fn tar_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        match e {
            Entry::File(p, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, data.as_slice()).unwrap();
            }
            Entry::Symlink(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
            Entry::HardLink(p, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
            Entry::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Write a raw tar header with an arbitrary (possibly hostile) name.
pub fn raw_tar_with_name(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    let size = format!("{:011o}", data.len());
    h[124..135].copy_from_slice(size.as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

#[derive(Clone, Copy)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Write an OCI image layout with the given layers; returns the manifest digest.
pub fn write_oci_layout(dir: &Path, layers: &[(Vec<u8>, Compression)], ref_name: &str) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> String {
        let d = sha256_hex(bytes);
        std::fs::write(blobs.join(&d), bytes).unwrap();
        d
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (tar, comp) in layers {
        diff_ids.push(format!("sha256:{}", sha256_hex(tar)));
        let (blob, mt) = match comp {
            Compression::None => (tar.clone(), "application/vnd.oci.image.layer.v1.tar"),
            Compression::Gzip => (gzip(tar), "application/vnd.oci.image.layer.v1.tar+gzip"),
            Compression::Zstd => (zstd(tar), "application/vnd.oci.image.layer.v1.tar+zstd"),
        };
        let d = put(&blob);
        descs.push(serde_json::json!({"mediaType": mt, "digest": format!("sha256:{d}"), "size": blob.len()}));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap();
    let cd = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{cd}"), "size": config.len()},
        "layers": descs
    }))
    .unwrap();
    let md = put(&manifest);
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{md}"),
                "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": ref_name}}]
        }))
        .unwrap(),
    )
    .unwrap();
    format!("sha256:{md}")
}

/// Write a `docker save` (legacy layout) archive: `<id>/layer.tar`, `<config>.json`, `manifest.json`.
pub fn write_docker_archive(path: &Path, layers: &[Vec<u8>], tag: &str) -> String {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap();
    let config_id = sha256_hex(&config);
    let mut entries = Vec::new();
    let mut names = Vec::new();
    for l in layers {
        let name = format!("{}/layer.tar", sha256_hex(l));
        entries.push(Entry::File(name.clone(), l.clone()));
        names.push(name);
    }
    entries.push(Entry::File(format!("{config_id}.json"), config));
    let manifest = serde_json::to_vec(&serde_json::json!([{"Config": format!("{config_id}.json"), "RepoTags": [tag], "Layers": names}])).unwrap();
    entries.push(Entry::File("manifest.json".into(), manifest));
    std::fs::write(path, tar_bytes(&entries)).unwrap();
    format!("sha256:{config_id}")
}
