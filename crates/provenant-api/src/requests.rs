//! Request bodies: what the CLI sends and the server parses, one type each.
//! Every body refuses unknown fields, so that a misspelt field is an
//! `invalid_body` rather than silently ignored.

use std::collections::BTreeMap;

/// A signed bundle to attach to a version (OMS signature, SBOM or provenance
/// attestation), with what verifies it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleBody {
    /// A Sigstore bundle v0.3 (`model.sig`, or a DSSE envelope carrying an
    /// in-toto Statement v1) as a JSON object; stored byte for byte as sent.
    #[schema(value_type = Object)]
    pub bundle: serde_json::Value,
    /// Key mode: the signer's public key (PEM). Used only to check that the
    /// bundle is validly signed; whether it is *trusted* is the namespace's
    /// decision. Without `public_key` and `certificate_roots`, the
    /// namespace's trusted keys and root certificates are tried.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Certificate mode: root certificate(s) the bundle's chain may lead to
    /// (PEM); the fingerprint recorded is that of the one it leads to.
    #[serde(default)]
    pub certificate_roots: Vec<String>,
}

/// A file a publish names, uploaded beforehand as a blob. Its digest is
/// the text the client wrote: the registry parses it as it checks the
/// path, answering `invalid_digest` with the file's path.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PublishFile {
    pub path: String,
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
}

/// A version to publish: files already uploaded as blobs, plus metadata and labels.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    pub files: Vec<PublishFile>,
    /// Version metadata; see `/api/v1/schemas/version-metadata.json`.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Signatures (OMS), SBOM attestations and provenance to publish the
    /// version with, told apart by predicate type. Each is verified before
    /// anything is written; the version and all of them are then stored in
    /// one transaction, or nothing is.
    #[serde(default)]
    pub attachments: Vec<BundleBody>,
    /// Refuse the publish (`untrusted`) unless the namespace's trusted keys
    /// or root certificates verify every attachment.
    #[serde(default)]
    pub require_trusted: bool,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// OSV records to import into the server's database.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VulnDbImportBody {
    /// Names the database the records come from (e.g. `osv-pypa`); records this
    /// source supplied before and no longer does are removed.
    pub source: String,
    /// OSV records (JSON objects, schema 1.x).
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
}

/// Label changes.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct LabelsBody {
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Why a version changes state (deprecate, archive).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: String,
}

/// Where to point an alias.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct AliasTarget {
    /// Version number of this model.
    pub version: i64,
}

/// A key to trust.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    /// Public key (PEM), or a certificate (PEM) whose key is trusted (e.g. a signing root).
    pub public_key: String,
    #[serde(default)]
    pub comment: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What the CLI sends is what it sent when it built these bodies with
    /// `json!` (same fields, same values; `null` for an absent key).
    #[test]
    fn bodies_serialise_as_before() {
        let cases = [
            (
                serde_json::to_value(BundleBody {
                    bundle: json!({"mediaType": "m"}),
                    public_key: None,
                    certificate_roots: vec!["pem".into()],
                })
                .unwrap(),
                json!({"bundle": {"mediaType": "m"}, "public_key": null, "certificate_roots": ["pem"]}),
            ),
            (
                serde_json::to_value(LabelsBody {
                    set: [("stage".to_owned(), "prod".to_owned())].into(),
                    remove: vec!["old".into()],
                })
                .unwrap(),
                json!({"set": {"stage": "prod"}, "remove": ["old"]}),
            ),
            (
                serde_json::to_value(ReasonBody { reason: "r".into() }).unwrap(),
                json!({"reason": "r"}),
            ),
            (
                serde_json::to_value(AliasTarget { version: 3 }).unwrap(),
                json!({"version": 3}),
            ),
            (
                serde_json::to_value(KeyBody {
                    public_key: "pem".into(),
                    comment: "c".into(),
                })
                .unwrap(),
                json!({"public_key": "pem", "comment": "c"}),
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_value::<ReasonBody>(json!({"reason": "r", "x": 1})).is_err());
        assert!(serde_json::from_value::<BundleBody>(json!({"bundle": {}, "key": "k"})).is_err());
    }
}
