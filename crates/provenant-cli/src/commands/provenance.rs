//! Shared pieces of the provenance commands: checking and attaching a
//! provenance bundle at push time, and fetching summaries for `show`.

use std::path::Path;
use std::time::SystemTime;

use anyhow::Context as _;
use provenant_api::VersionView as VersionInfo;
use provenant_attest::Signer as _;
use serde_json::Value;

use crate::client::Client;
use crate::commands::oms::Refused;
use crate::hashing::HashedFile;

/// Reads a provenance bundle and checks what the registry will check, so that
/// a bad one stops the push before publishing: the signature (when the key is
/// known here), the subject against the files being pushed, and the predicate.
/// Returns the request body for the attach call.
pub fn prepare(
    bundle_path: &Path,
    public_key: Option<&Path>,
    private_key: Option<&Path>,
    password_env: Option<&str>,
    files: &[HashedFile],
) -> anyhow::Result<provenant_api::BundleBody> {
    let bytes = std::fs::read(bundle_path)
        .with_context(|| format!("cannot read {}", bundle_path.display()))?;
    let bundle = provenant_attest::Bundle::from_json(&bytes)
        .map_err(|e| Refused(format!("{}: {e}", bundle_path.display())))?;
    let pem = match (public_key, private_key) {
        (Some(p), _) => Some(crate::keyfile::public_key(p, "--provenance-key")?.to_pem()),
        (None, Some(k)) => {
            let password = password_env
                .map(|v| std::env::var(v).map(String::into_bytes))
                .transpose()
                .map_err(|_| anyhow::anyhow!("--password-env is not set"))?;
            let key = provenant_attest::PrivateKey::from_pem_file(k, password.as_deref())
                .map_err(super::oms::refuse)?;
            Some(key.public_key().to_pem())
        }
        (None, None) => None,
    };
    let statement = match &pem {
        Some(pem) => {
            let key = provenant_attest::PublicKey::from_pem(pem.as_bytes())
                .map_err(|e| anyhow::anyhow!("--provenance-key: {e}"))?;
            provenant_attest::verify_attestation(
                &bundle,
                &provenant_attest::TrustRoot::PublicKey(key),
                SystemTime::now(),
            )
            .map_err(|e| Refused(format!("{}: {e}", bundle_path.display())))?
            .statement
        }
        None => provenant_attest::Statement::parse(&bundle.envelope.payload)
            .map_err(|e| Refused(format!("{}: {e}", bundle_path.display())))?,
    };
    let root = crate::hashing::oms_root(files)?;
    if !statement.has_sha256(&root.hex()) {
        return Err(Refused(format!(
            "{}: subject does not match the files being pushed (their OMS root digest is {root}); attest the same directory",
            bundle_path.display()
        ))
        .into());
    }
    provenant_provenance::validate(
        &statement.predicate_type,
        &statement.predicate,
        provenant_provenance::Requirements::default(),
    )
    .map_err(|e| Refused(format!("{}: {e}", bundle_path.display())))?;
    let bundle_json: Value = serde_json::from_slice(&bytes)?;
    Ok(provenant_api::BundleBody {
        bundle: bundle_json,
        public_key: pem,
        certificate_roots: Vec::new(),
    })
}

/// Provenance of a version, without the full statements.
pub async fn summaries(client: &Client, v: &VersionInfo) -> anyhow::Result<Vec<Value>> {
    let list: Vec<Value> = client
        .get_json(&format!("{}/provenance", super::version_path(v)))
        .await?;
    Ok(list
        .into_iter()
        .map(|mut p| {
            if let Some(o) = p.as_object_mut() {
                o.remove("statement");
            }
            p
        })
        .collect())
}
