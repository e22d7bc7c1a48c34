//! Signed SBOMs on versions, the server's vulnerability database (real PyPA
//! advisories) and per-version findings, through the CLI.

use std::path::Path;

use serde_json::Value;

use crate::Server;

/// One package's advisories in the repository's subset of the real PyPA
/// advisory database (`testdata/osv-pypa`).
fn pypa(package: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/osv-pypa/vulns")
        .join(package)
}

fn ids(findings: &Value) -> Vec<String> {
    findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["finding"]["id"].as_str().unwrap().to_owned())
        .collect()
}

pub fn sbom_flow(s: &Server, dir: &Path) {
    // An SBOM of a real requirements file pinning a vulnerable requests.
    std::fs::write(dir.join("requirements.txt"), "requests==2.19.0\n").unwrap();
    s.ok(
        dir,
        &[
            "sbom",
            "requirements.txt",
            "--output",
            "bom.cdx.json",
            "--timestamp",
            "1700000000",
        ],
    );
    s.ok(dir, &["keygen", "--out", "sbomkey.pem"]);
    s.ok(dir, &["keygen", "--out", "otherkey.pem"]);
    let m = dir.join("svc");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("model.safetensors"), vec![1u8; 4096]).unwrap();

    // Nothing is pushed when the SBOM does not parse.
    std::fs::write(
        dir.join("broken.json"),
        b"{\"bomFormat\": \"CycloneDX\", \"components\": 7}",
    )
    .unwrap();
    s.fails(
        dir,
        &[
            "push",
            "svc",
            "--model",
            "ops/svc",
            "--sbom",
            "broken.json",
            "--key",
            "sbomkey.pem",
        ],
        2,
        "broken.json",
    );
    s.fails(dir, &["show", "ops/svc:1"], 2, "not found");

    let r = s.json(
        dir,
        &[
            "push",
            "svc",
            "--model",
            "ops/svc",
            "--sbom",
            "bom.cdx.json",
            "--key",
            "sbomkey.pem",
        ],
    );
    let att = &r["attestations"][0];
    assert_eq!(att["kind"], "sbom", "{r}");
    assert_eq!(att["predicate_type"], "https://cyclonedx.org/bom");
    assert_eq!(att["summary"]["components"], 1, "{r}");
    let out = s.ok(dir, &["show", "ops/svc:1"]);
    assert!(
        out.contains("SBOM cyclonedx-json 1.6 (1 components)") && out.contains("NOT TRUSTED"),
        "{out}"
    );
    s.ok(dir, &["keys", "add", "ops", "sbomkey.pub"]);
    assert_eq!(
        s.json(dir, &["show", "ops/svc:1"])["attestations"][0]["trusted"],
        true
    );

    // A second version with the same SBOM attached afterwards, with `attach`.
    std::fs::write(m.join("model.safetensors"), vec![2u8; 4096]).unwrap();
    s.ok(dir, &["push", "svc", "--model", "ops/svc"]);
    let a = s.json(
        dir,
        &[
            "attach",
            "ops/svc:2",
            "--sbom",
            "bom.cdx.json",
            "--key",
            "sbomkey.pem",
        ],
    );
    assert_eq!(a[0]["kind"], "sbom", "{a}");
    // A ready bundle is verified against the key given, and must be about the version.
    let digest = att["digest"].as_str().unwrap();
    let bundle = s.raw_get(&format!(
        "/api/v1/models/ops%2Fsvc/versions/1/attestations/{digest}"
    ));
    std::fs::write(dir.join("v1-sbom.sigstore.json"), bundle).unwrap();
    s.fails(
        dir,
        &[
            "attach",
            "ops/svc:2",
            "v1-sbom.sigstore.json",
            "--key",
            "sbomkey.pub",
        ],
        2,
        "payload.subject",
    );
    s.fails(
        dir,
        &[
            "attach",
            "ops/svc:1",
            "v1-sbom.sigstore.json",
            "--key",
            "otherkey.pub",
        ],
        2,
        "not by the given key",
    );
    s.ok(
        dir,
        &[
            "attach",
            "ops/svc:1",
            "v1-sbom.sigstore.json",
            "--key",
            "sbomkey.pub",
        ],
    );
    assert_eq!(
        s.json(dir, &["show", "ops/svc:1"])["attestations"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "the same bundle is attached once"
    );

    // `sbom --model` describes the version: the model and its attached SBOM's packages.
    let doc = s.ok(dir, &["sbom", "--model", "ops/svc:1"]);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let purls: Vec<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(purls.contains(&"pkg:pypi/requests@2.19.0"), "{purls:?}");
    assert_eq!(
        doc["metadata"]["component"]["type"], "machine-learning-model",
        "the model is the subject: {doc}"
    );

    // Scanned, but the server's database is empty.
    let f = s.json(dir, &["findings", "ops/svc:1"]);
    assert_eq!(f["scanned"], true, "{f}");
    assert!(ids(&f).is_empty());

    // Import the real PyPA advisories for requests into the server: both versions re-scanned.
    let src = dir.join("advisories");
    std::fs::create_dir_all(&src).unwrap();
    for e in std::fs::read_dir(pypa("requests")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), src.join(e.file_name())).unwrap();
    }
    let r = s.json(
        dir,
        &["vulndb", "import", src.to_str().unwrap(), "--server"],
    );
    assert_eq!(r["rescanned"], 2, "{r}");
    assert!(r["new_findings"].as_u64().unwrap() >= 2, "{r}");
    let f = s.json(dir, &["findings", "ops/svc"]);
    let found = ids(&f);
    assert!(found.contains(&"PYSEC-2018-28".to_owned()), "{found:?}");
    let out = s.ok(dir, &["findings", "ops/svc:1"]);
    assert!(
        out.contains("PYSEC-2018-28") && out.contains("2.20.0"),
        "{out}"
    );
    s.fails(
        dir,
        &["findings", "ops/svc:1", "--fail-on", "low"],
        1,
        "at or above low",
    );

    // The advisory disappears from the source: the finding is resolved, not forgotten.
    std::fs::remove_file(src.join("PYSEC-2018-28.yaml")).unwrap();
    let r = s.json(
        dir,
        &["vulndb", "import", src.to_str().unwrap(), "--server"],
    );
    assert_eq!(r["removed"], 1, "{r}");
    let f = s.json(dir, &["findings", "ops/svc:1"]);
    assert!(!ids(&f).contains(&"PYSEC-2018-28".to_owned()), "{f}");
    let f = s.json(dir, &["findings", "ops/svc:1", "--resolved"]);
    let resolved: Vec<&Value> = f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["finding"]["id"] == "PYSEC-2018-28")
        .collect();
    assert_eq!(resolved.len(), 1, "{f}");
    assert!(resolved[0]["resolved_at"].is_string());
    let st = s.json(dir, &["vulndb", "status"]);
    assert_eq!(st["generation"], 2, "{st}");
}
