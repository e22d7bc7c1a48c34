//! Phase 3 of `push`: everything the version is pushed with goes in one
//! publish request (the files, the signature, the signed SBOMs and the
//! provenance); the server verifies it all, then stores the version and its
//! attachments in one transaction, or nothing. Then the report.

use std::collections::BTreeMap;

use provenant_api::{AttestationView, BundleBody, Published, SignatureView};
use reqwest::Method;

use super::Args;
use super::prepare::PushSignature;
use super::transfer::Sent;
use crate::client::{Client, model_segment};
use crate::commands::signing::SigningMaterial;
use crate::hashing::{self, HashedFile};
use provenant_digest::Digest;

/// The attachments of the publish request, in the order the server names
/// their digests back: the signature, the SBOMs, the provenance.
pub struct Attachments {
    bodies: Vec<BundleBody>,
    signature: bool,
    sboms: usize,
    provenance: bool,
}

/// Checks the provenance (a bad one is refused before publishing anything)
/// and signs the SBOMs about the files as sent.
pub fn attachments(
    a: &Args,
    files: &[HashedFile],
    signature: Option<&PushSignature>,
    sbom_signing: Option<&SigningMaterial>,
) -> anyhow::Result<Attachments> {
    let provenance = match &a.provenance {
        Some(p) => Some(crate::commands::provenance::prepare(
            p,
            a.provenance_key.as_deref(),
            a.signing.key.as_deref(),
            a.signing.password_env.as_deref(),
            files,
        )?),
        None => None,
    };
    let mut bodies = Vec::new();
    if let Some(sig) = signature {
        bodies.push(BundleBody {
            bundle: sig.bundle.clone(),
            public_key: sig.public_key.clone(),
            certificate_roots: sig.certificate_roots.clone(),
        });
    }
    let mut sboms = 0;
    if let Some(signing) = sbom_signing {
        let root = hashing::oms_root(files)?;
        for p in &a.sbom {
            let st = crate::commands::attach::sbom_statement(p, &a.model, &root)?;
            bodies.push(signing.body(signing.sign(&st)?));
            sboms += 1;
        }
    }
    let has_provenance = provenance.is_some();
    bodies.extend(provenance);
    Ok(Attachments {
        bodies,
        signature: signature.is_some(),
        sboms,
        provenance: has_provenance,
    })
}

/// Publishes the version: its files, metadata, labels and attachments.
pub async fn publish(
    client: &Client,
    a: &Args,
    files: &[HashedFile],
    metadata: serde_json::Value,
    labels: BTreeMap<String, String>,
    attachments: &Attachments,
) -> anyhow::Result<Published> {
    let body = provenant_api::PublishBody {
        files: files
            .iter()
            .map(|f| provenant_api::PublishFile {
                path: f.file.rel.clone(),
                digest: f.digest.to_string(),
                size: f.file.size,
            })
            .collect(),
        metadata,
        labels,
        attachments: attachments.bodies.clone(),
        require_trusted: a.require_trusted,
    };
    let (_, published): (_, Published) = client
        .send_json(
            Method::POST,
            &format!("api/v1/models/{}/versions", model_segment(&a.model)),
            &body,
        )
        .await?;
    Ok(published)
}

/// What a push did, for `--json`.
#[derive(serde::Serialize)]
pub struct Report {
    #[serde(flatten)]
    published: Published,
    files: usize,
    uploaded_blobs: usize,
    uploaded_bytes: u64,
    skipped_blobs: usize,
    resumed_blobs: usize,
    /// Blobs sent without hashing the file first (read once; see `push --help`).
    read_once_blobs: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<SignatureView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attestations: Vec<AttestationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<AttestationView>,
}

/// The report of a push: the published version, the server's views of its
/// attachments (found by the digests it names back, in the order sent) and
/// what the uploads did.
pub fn report(published: Published, attachments: &Attachments, sent: &Sent) -> Report {
    let version = &published.version;
    let signature_view = |digest: &Digest| {
        version
            .signatures
            .iter()
            .flatten()
            .find(|v| &v.digest == digest)
            .cloned()
    };
    let attestation_view = |digest: &Digest| {
        version
            .attestations
            .iter()
            .flatten()
            .find(|v| &v.digest == digest)
            .cloned()
    };
    let mut digests = published.attached.iter();
    let signature = attachments
        .signature
        .then(|| digests.next())
        .flatten()
        .and_then(signature_view);
    let attestations: Vec<AttestationView> = digests
        .by_ref()
        .take(attachments.sboms)
        .filter_map(attestation_view)
        .collect();
    let provenance = attachments
        .provenance
        .then(|| digests.next())
        .flatten()
        .and_then(attestation_view);
    let outcomes = &sent.outcomes;
    Report {
        attestations,
        provenance,
        files: sent.files.len(),
        uploaded_blobs: outcomes.iter().filter(|o| o.uploaded).count(),
        uploaded_bytes: outcomes.iter().map(|o| o.bytes).sum(),
        skipped_blobs: outcomes.iter().filter(|o| !o.uploaded).count(),
        resumed_blobs: outcomes.iter().filter(|o| o.resumed).count(),
        read_once_blobs: outcomes.iter().filter(|o| o.read_once).count(),
        signature,
        published,
    }
}

/// Prints the report: JSON, or lines for people.
pub fn print(json: bool, report: &Report) -> anyhow::Result<()> {
    if json {
        return crate::output::json(report);
    }
    let v = &report.published.version;
    let verb = if report.published.created {
        "published"
    } else {
        "already published as"
    };
    println!("{verb} {} {}", v.reference, v.digest);
    println!(
        "{} files, {} uploaded ({}), {} already on the server",
        report.files,
        report.uploaded_blobs,
        crate::output::size(i64::try_from(report.uploaded_bytes).unwrap_or(i64::MAX)),
        report.skipped_blobs
    );
    if let Some(p) = &report.provenance {
        // A provenance attestation's summary is the registry's ProvenanceSummary.
        let summary =
            serde_json::from_value::<provenant_api::ProvenanceSummary>(p.summary.clone()).ok();
        println!(
            "provenance attached (signed by {}; builder {}; {})",
            p.signer,
            summary.as_ref().map_or("?", |s| s.builder_id.as_str()),
            trust_note(p.trusted)
        );
    }
    if let Some(sig) = &report.signature {
        println!("signed by {} ({})", sig.signer, trust_note(sig.trusted));
    }
    for att in &report.attestations {
        println!(
            "attached {}",
            crate::commands::attach::describe_attestation(att)
        );
    }
    Ok(())
}

/// What a push reports of an attachment's trust.
fn trust_note(trusted: bool) -> &'static str {
    if trusted {
        "trusted"
    } else {
        "key not yet trusted by the namespace: see `provenant keys add`"
    }
}
