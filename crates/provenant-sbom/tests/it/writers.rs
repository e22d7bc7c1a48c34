//! Writers: determinism, the official validators, round trips.

use provenant_sbom::{
    Format, ModelDescription, ModelFile, Sbom, WriteOptions, catalog_image, catalog_lockfile,
    catalog_python_env, detect_format_of_file, model_component, parse_sbom, write,
};

use crate::fixtures::{Compression, Entry, site_packages, tar_bytes, write_oci_layout};
use crate::peer::{validate_cyclonedx, validate_spdx};
use provenant_digest::Digest;

fn pinned() -> WriteOptions {
    WriteOptions {
        timestamp: Some(1_700_000_000),
        ..WriteOptions::default()
    }
}

fn model_sbom() -> Sbom {
    // Real files: this machine's python binary header is not a model; write small model-shaped files.
    let tmp = tempfile::tempdir().unwrap();
    let mut st = 12u64.to_le_bytes().to_vec();
    st.extend_from_slice(b"{\"__m\":\"x\"} ");
    let files = [
        ("model.safetensors", st),
        (
            "legacy.pkl",
            b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.".to_vec(),
        ),
    ];
    let mut mf = Vec::new();
    for (name, bytes) in &files {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        mf.push(ModelFile {
            path: (*name).into(),
            digest: Digest::sha256(bytes),
            size: Some(bytes.len() as u64),
            format: Some(detect_format_of_file(&p).unwrap()),
        });
    }
    let desc = ModelDescription {
        namespace: "aiops".into(),
        name: "incident-predictor".into(),
        version: "7".into(),
        root_digest: Digest::sha256(b"manifest"),
        files: mf,
        metadata: Some(serde_json::json!({
            "task": "classification", "architecture": "gradient-boosted trees", "architecture_family": "ensemble",
            "approach": "supervised", "framework": "xgboost",
            "datasets": [{"name": "incidents-2025", "url": "https://data.example/incidents", "digest": "sha256:00"}],
            "metrics": [{"name": "f1", "value": 0.91, "slice": "sev1"}], "hyperparameters": {"depth": 6},
            "license": "Apache-2.0", "intended_use": "page on-call before an outage"
        })),
        supplier: Some("AIOps team".into()),
        purl: None,
    };
    let mut sbom = Sbom {
        subject: Some(model_component(&desc).unwrap()),
        ..Sbom::default()
    };
    sbom.merge(
        catalog_lockfile(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"),
        )
        .unwrap(),
    );
    sbom
}

#[test]
fn deterministic_bytes() {
    let sbom = catalog_python_env(&site_packages()).unwrap();
    for f in [Format::CycloneDxJson, Format::SpdxJson] {
        let a = write(&sbom, f, &pinned());
        let b = write(&catalog_python_env(&site_packages()).unwrap(), f, &pinned());
        assert_eq!(a, b);
        let later = write(
            &sbom,
            f,
            &WriteOptions {
                timestamp: Some(1_700_000_001),
                ..WriteOptions::default()
            },
        );
        assert_ne!(a, later, "a new document gets a new serial/namespace");
        let serial = WriteOptions {
            serial: Some("urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79".into()),
            ..pinned()
        };
        let s = String::from_utf8(write(&sbom, f, &serial)).unwrap();
        assert!(s.contains("3e671687-395b-41f5-a30f-a58921a69b79"));
    }
}

#[test]
fn python_env_validates_in_both_formats() {
    let sbom = catalog_python_env(&site_packages()).unwrap();
    let opts = WriteOptions {
        include_package_files: false,
        ..pinned()
    };
    validate_cyclonedx(&write(&sbom, Format::CycloneDxJson, &opts));
    validate_spdx(&write(&sbom, Format::SpdxJson, &opts));
}

#[test]
fn model_and_lockfile_validate_and_round_trip() {
    let sbom = model_sbom();
    let cdx = write(&sbom, Format::CycloneDxJson, &pinned());
    validate_cyclonedx(&cdx);
    let spdx = write(&sbom, Format::SpdxJson, &pinned());
    validate_spdx(&spdx);
    let v: serde_json::Value = serde_json::from_slice(&cdx).unwrap();
    let model = &v["metadata"]["component"];
    assert_eq!(model["type"], "machine-learning-model");
    assert_eq!(
        model["modelCard"]["modelParameters"]["task"],
        "classification"
    );
    assert_eq!(model["components"].as_array().unwrap().len(), 2);
    let pkl = model["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "legacy.pkl")
        .unwrap();
    assert!(pkl["properties"].to_string().contains("executable-content"));
    for (bytes, format) in [(&cdx, Format::CycloneDxJson), (&spdx, Format::SpdxJson)] {
        let (f, back) = parse_sbom(bytes, "doc.json").unwrap();
        assert_eq!(f, format);
        let mut orig = sbom.clone();
        orig.normalize();
        assert_eq!(back.components.len(), orig.components.len(), "{format:?}");
        for c in &orig.components {
            let b = back
                .component(&c.bom_ref)
                .unwrap_or_else(|| panic!("{format:?} lost {}", c.bom_ref));
            assert_eq!(b.version, c.version);
            assert_eq!(b.hashes, c.hashes);
        }
        assert_eq!(
            back.dependencies.values().map(|d| d.len()).sum::<usize>(),
            orig.dependencies.values().map(|d| d.len()).sum::<usize>()
        );
        let subject = back
            .component(&orig.subject.as_ref().unwrap().bom_ref)
            .unwrap();
        assert_eq!(subject.files.len(), 2, "{format:?}");
        assert!(subject.model_card.is_some(), "{format:?}");
    }
}

#[test]
fn image_sbom_validates_and_incomplete_is_declared() {
    let tmp = tempfile::tempdir().unwrap();
    let status = std::fs::read("/var/lib/dpkg/status").unwrap();
    let layer = tar_bytes(&[
        Entry::File(
            "etc/os-release".into(),
            std::fs::read("/etc/os-release").unwrap(),
        ),
        Entry::File("var/lib/dpkg/status".into(), status),
        // A distribution whose METADATA is missing: an incomplete SBOM, said so.
        Entry::File(
            "usr/lib/python3/dist-packages/broken-1.0.dist-info/RECORD".into(),
            Vec::new(),
        ),
    ]);
    write_oci_layout(tmp.path(), &[(layer, Compression::Gzip)], "img:1");
    let sbom = catalog_image(tmp.path()).unwrap();
    assert!(!sbom.is_complete());
    let cdx = write(&sbom, Format::CycloneDxJson, &pinned());
    validate_cyclonedx(&cdx);
    let v: serde_json::Value = serde_json::from_slice(&cdx).unwrap();
    assert_eq!(v["compositions"][0]["aggregate"], "incomplete");
    let spdx = write(&sbom, Format::SpdxJson, &pinned());
    validate_spdx(&spdx);
    let (_, back) = parse_sbom(&spdx, "x").unwrap();
    assert!(!back.is_complete());
}

#[test]
fn validators_reject_broken_documents() {
    // The validator must be able to fail, or the tests above prove nothing.
    let sbom = model_sbom();
    let mut v: serde_json::Value =
        serde_json::from_slice(&write(&sbom, Format::CycloneDxJson, &pinned())).unwrap();
    v["components"][0]["type"] = serde_json::json!("not-a-type");
    let bad = serde_json::to_vec(&v).unwrap();
    let r = std::panic::catch_unwind(|| validate_cyclonedx(&bad));
    if crate::peer::python_with("cyclonedx.validation.json").is_some() {
        assert!(r.is_err(), "schema accepted an invalid component type");
    }
    assert!(parse_sbom(b"{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.6\",\"components\":[{\"type\":\"library\"}]}", "up.json").is_err());
    assert!(parse_sbom(b"{\"hello\": 1}", "up.json").is_err());
    let e = parse_sbom(b"{\n\"spdxVersion\": \"SPDX-2.3\",\n", "up.json").unwrap_err();
    assert!(e.to_string().starts_with("up.json:3"), "{e}");
}

#[test]
fn package_files_validate_when_included() {
    // Two real distributions (METADATA + RECORD) in a site-packages of their own.
    let site = site_packages();
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    for e in std::fs::read_dir(&site).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if (name.starts_with("pip-") || name.starts_with("setuptools-"))
            && name.ends_with(".dist-info")
        {
            let d = tmp.path().join(&name);
            std::fs::create_dir_all(&d).unwrap();
            for f in ["METADATA", "RECORD"] {
                std::fs::copy(p.join(f), d.join(f)).unwrap();
            }
            n += 1;
        }
    }
    assert!(n >= 1);
    let sbom = catalog_python_env(tmp.path()).unwrap();
    let files: usize = sbom.components.iter().map(|c| c.files.len()).sum();
    assert!(files > 100);
    let opts = WriteOptions {
        include_package_files: true,
        ..pinned()
    };
    let cdx = write(&sbom, Format::CycloneDxJson, &opts);
    let v: serde_json::Value = serde_json::from_slice(&cdx).unwrap();
    let nested: usize = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["components"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(nested, files);
    validate_cyclonedx(&cdx);
    validate_spdx(&write(&sbom, Format::SpdxJson, &opts));
    // Without the option the files stay out of the document.
    let small = write(&sbom, Format::CycloneDxJson, &pinned());
    assert!(small.len() * 5 < cdx.len());
}

/// Golden documents: a model with a model card, pickled content and a hashed
/// requirement, in both formats, byte for byte. A change here is a change in
/// what we emit: review the diff (`cargo insta review`), do not just accept it.
#[test]
fn golden_documents() {
    let desc = ModelDescription {
        namespace: "aiops".into(),
        name: "incident-predictor".into(),
        version: "7".into(),
        root_digest: Digest::sha256(b"manifest"),
        files: vec![
            ModelFile {
                path: "model.safetensors".into(),
                digest: Digest::sha256(b"weights"),
                size: Some(7),
                format: Some(provenant_sbom::ModelFormat::Safetensors),
            },
            ModelFile {
                path: "legacy.pkl".into(),
                digest: Digest::sha256(b"pickle"),
                size: Some(6),
                format: Some(provenant_sbom::ModelFormat::Pickle),
            },
        ],
        metadata: Some(serde_json::json!({
            "task": "classification", "architecture": "gradient-boosted trees",
            "framework": "xgboost", "license": "Apache-2.0",
            "datasets": [{"name": "incidents-2025", "uri": "https://data.example/incidents", "digest": "sha256:00"}],
            "metrics": {"f1": 0.91}
        })),
        supplier: Some("AIOps team".into()),
        purl: None,
    };
    let mut sbom = Sbom {
        subject: Some(model_component(&desc).unwrap()),
        ..Sbom::default()
    };
    let (reqs, _) = provenant_sbom::parse_requirements(
        "requests==2.19.0 --hash=sha256:5d7a8c3dc0a4e1a1b1b9c3ad0b4f1e6d2c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e\nflask>=2\n",
        "requirements.txt",
    )
    .unwrap();
    sbom.merge(reqs);
    let opts = WriteOptions {
        serial: Some("urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79".into()),
        ..pinned()
    };
    let cdx = write(&sbom, Format::CycloneDxJson, &opts);
    let spdx = write(&sbom, Format::SpdxJson, &opts);
    validate_cyclonedx(&cdx);
    validate_spdx(&spdx);
    insta::assert_snapshot!(
        "model-and-requirements.cdx.json",
        String::from_utf8(cdx).unwrap()
    );
    insta::assert_snapshot!(
        "model-and-requirements.spdx.json",
        String::from_utf8(spdx).unwrap()
    );
}
