//! Cataloguing one image: check its layers against the manifest and config, merge them and
//! describe the image itself as a container component.

use std::collections::{BTreeMap, BTreeSet};

use provenant_digest::{Digest, DigestAlgorithm};

use super::ImageLimits;
use super::archive::{BlobStore, ImageConfig, ImageRef, verify_digest};
use super::layer::scan_layers;
use super::rootfs::{catalog_rootfs_vfs, distro};
use super::vfs::Vfs;
use crate::error::{Result, SbomError};
use crate::model::{Component, ComponentKind, Hash, Sbom};
use crate::purl::Purl;

pub(super) fn catalog_one(
    store: &BlobStore,
    label: &str,
    img: &ImageRef,
    limits: &ImageLimits,
) -> Result<Sbom> {
    if img.layers.len() > limits.max_layers {
        return Err(SbomError::LimitExceeded {
            archive: label.into(),
            what: "layer count",
            limit: limits.max_layers as u64,
        });
    }
    let (config, config_bytes) =
        store.read_json::<ImageConfig>(&img.config.member, label, limits)?;
    let config_digest = Digest::sha256(&config_bytes);
    if let Some(d) = &img.config.digest {
        verify_digest(&config_bytes, d, &format!("{label}!/{}", img.config.member))?;
    }
    let diff_ids = &config.rootfs.diff_ids;
    if !diff_ids.is_empty() && diff_ids.len() != img.layers.len() {
        return Err(SbomError::parse(
            format!("{label}!/{}", img.config.member),
            0,
            format!(
                "config lists {} diff_ids but the manifest has {} layers",
                diff_ids.len(),
                img.layers.len()
            ),
        ));
    }
    let (vfs, layer_props) = build_vfs(store, label, img, diff_ids, limits, &BTreeSet::new())?;
    // Package databases reached through symbolic links: their targets were not known while
    // streaming, so read the layers once more for exactly those paths (rare).
    let extra: BTreeSet<String> = ROOT_FILES
        .iter()
        .filter_map(|p| {
            vfs.resolve(p, true)
                .ok()
                .filter(|r| r != p && !vfs.nodes.contains_key(r))
        })
        .collect();
    let vfs = if extra.is_empty() {
        vfs
    } else {
        build_vfs(store, label, img, diff_ids, limits, &extra)?.0
    };
    catalog_built(vfs, layer_props, label, img, &config, config_digest)
}

/// Fixed paths of the package databases and os-release.
const ROOT_FILES: [&str; 5] = [
    "var/lib/dpkg/status",
    "lib/apk/db/installed",
    "usr/lib/apk/db/installed",
    "etc/os-release",
    "usr/lib/os-release",
];

type LayerProps = BTreeMap<String, String>;

fn build_vfs(
    store: &BlobStore,
    label: &str,
    img: &ImageRef,
    diff_ids: &[Digest],
    limits: &ImageLimits,
    extra: &BTreeSet<String>,
) -> Result<(Vfs, LayerProps)> {
    let scans = scan_layers(store, label, &img.layers, limits, extra)?;
    let mut vfs = Vfs {
        label: label.to_string(),
        ..Vfs::default()
    };
    let mut layer_props = BTreeMap::new();
    for (i, (scan, layer)) in scans.into_iter().zip(&img.layers).enumerate() {
        let file = format!("{label}!/{}", layer.member);
        if let Some(d) = &layer.digest {
            // The blob is hashed with SHA-256 as it streams; a layer named by another
            // algorithm is checked by its size only.
            if d.algorithm() == DigestAlgorithm::Sha256 && *d != scan.blob_digest {
                return Err(SbomError::DigestMismatch {
                    file,
                    expected: Box::new(*d),
                    actual: Box::new(scan.blob_digest),
                });
            }
            if let Some(size) = layer.size
                && size != scan.compressed_bytes
            {
                return Err(SbomError::parse(
                    file,
                    0,
                    format!(
                        "layer is {} bytes, manifest says {size}",
                        scan.compressed_bytes
                    ),
                ));
            }
        }
        let diff = scan.diff_digest;
        if let Some(expected) = diff_ids.get(i)
            && *expected != diff
        {
            return Err(SbomError::DigestMismatch {
                file,
                expected: Box::new(*expected),
                actual: Box::new(diff),
            });
        }
        let blob = layer.digest.unwrap_or(scan.blob_digest);
        layer_props.insert(
            format!("provenant:image:layer:{i:03}"),
            if blob == diff {
                blob.to_string()
            } else {
                format!("{blob} diff_id={diff}")
            },
        );
        vfs.apply(scan)?;
    }
    Ok((vfs, layer_props))
}

fn catalog_built(
    vfs: Vfs,
    layer_props: LayerProps,
    label: &str,
    img: &ImageRef,
    config: &ImageConfig,
    config_digest: Digest,
) -> Result<Sbom> {
    // The image component.
    let name_full = img.name.clone().unwrap_or_else(|| "image".into());
    let (repo, tag) = split_image_ref(&name_full);
    let id_digest = img.manifest_digest.unwrap_or(config_digest).to_string();
    let short = repo.rsplit('/').next().unwrap_or(&repo).to_string();
    let repo_url = repo.rsplit_once('/').map(|(r, _)| r.to_string());
    let purl = Purl::new("oci", &short)
        .with_version(Some(&id_digest))
        .with_qualifier(
            "repository_url",
            if repo_url.is_some() {
                Some(repo.as_str())
            } else {
                None
            },
        )
        .with_qualifier("tag", tag.as_deref())
        .to_string();
    let mut image = Component {
        kind: ComponentKind::Container,
        bom_ref: purl.clone(),
        name: repo.clone(),
        version: tag.clone().or_else(|| Some(id_digest.clone())),
        purl: Some(purl.clone()),
        ..Component::default()
    };
    let id = img.manifest_digest.unwrap_or(config_digest);
    if id.algorithm() == DigestAlgorithm::Sha256 {
        image.hashes.push(Hash::from(&id));
    }
    image.properties.extend(layer_props);
    image.properties.insert(
        "provenant:image:config-digest".into(),
        config_digest.to_string(),
    );
    if let Some(m) = &img.manifest_digest {
        image
            .properties
            .insert("provenant:image:manifest-digest".into(), m.to_string());
    }
    if !config.os.is_empty() {
        image.properties.insert(
            "provenant:image:platform".into(),
            format!("{}/{}", config.os, config.architecture),
        );
    }
    if img.repo_tags.len() > 1 {
        image
            .properties
            .insert("provenant:image:tags".into(), img.repo_tags.join(" "));
    }
    image
        .properties
        .insert(crate::PROP_FOUND_IN.into(), label.into());

    let mut sbom = catalog_rootfs_vfs(&vfs, label)?;
    image.properties.extend(os_props(&vfs));
    let all: BTreeSet<String> = sbom.components.iter().map(|c| c.bom_ref.clone()).collect();
    sbom.contains.insert(image.bom_ref.clone(), all);
    sbom.add(image);
    Ok(sbom)
}

fn os_props(vfs: &Vfs) -> BTreeMap<String, String> {
    let d = distro(vfs);
    let mut m = BTreeMap::new();
    m.insert("provenant:os:id".to_string(), d.id.clone());
    if let Some(v) = d.version_id {
        m.insert("provenant:os:version-id".to_string(), v);
    }
    m
}

/// `registry/repo:tag` → (`registry/repo`, `tag`); digests (`@sha256:…`) are not tags.
fn split_image_ref(r: &str) -> (String, Option<String>) {
    let r = r.split('@').next().unwrap_or(r);
    let last_slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[last_slash..].rfind(':') {
        Some(i) => (
            r[..last_slash + i].to_string(),
            Some(r[last_slash + i + 1..].to_string()),
        ),
        None => (r.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs() {
        assert_eq!(
            split_image_ref("docker.io/library/python:3.12"),
            ("docker.io/library/python".into(), Some("3.12".into()))
        );
        assert_eq!(
            split_image_ref("localhost:5000/x"),
            ("localhost:5000/x".into(), None)
        );
    }
}
