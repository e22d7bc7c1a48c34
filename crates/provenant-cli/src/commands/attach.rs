use std::path::{Path, PathBuf};

use anyhow::Context as _;
use reqwest::Method;

use crate::GlobalArgs;
use crate::client::{Client, model_segment};
use crate::commands::signing::{SigningFlags, SigningMaterial};
use provenant_api::{AttachmentKind, AttestationView, SbomSummary, SignatureView, VersionView};
use provenant_digest::Digest;

/// Attach a signed attestation to a version: `--sbom FILE` signs the SBOM
/// (CycloneDX or SPDX JSON) as an in-toto attestation with `--key`; a BUNDLE
/// already signed (by `provenant attest`, or an OMS signature `model.sig` made
/// by `provenant sign`) is verified by the server with `--key` (public key; a
/// private key's public half is derived here) or `--certificate-chain` (roots).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Version: ns/name:N, ns/name@sha256:…, ns/name#alias or ns/name (latest)
    pub reference: String,
    /// A signed attestation (Sigstore bundle JSON) to attach as it is
    #[arg(conflicts_with = "sbom")]
    pub bundle: Option<PathBuf>,
    /// SBOM to sign and attach (CycloneDX 1.4–1.6 or SPDX 2.3 JSON); repeatable
    #[arg(long, value_name = "FILE", required_unless_present = "bundle")]
    pub sbom: Vec<PathBuf>,
    #[command(flatten)]
    pub signing: SigningFlags,
}

/// The in-toto statement carrying an SBOM file as its predicate, about the
/// model `subject_name` with OMS root digest `root`. The SBOM must parse.
pub fn sbom_statement(
    path: &Path,
    subject_name: &str,
    root: &Digest,
) -> anyhow::Result<provenant_attest::Statement> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (format, _) = provenant_sbom::parse_sbom(&bytes, &path.display().to_string())
        .with_context(|| format!("{} is not a usable SBOM", path.display()))?;
    let predicate: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    Ok(provenant_attest::Statement::new(
        // An in-toto subject names its digest as a {"sha256": hex} map.
        vec![provenant_attest::Subject::sha256(subject_name, root.hex())],
        format.predicate_type(),
        predicate,
    ))
}

/// The OMS root digest of a version from its file list.
pub fn version_root(v: &VersionView) -> anyhow::Result<Digest> {
    let files = v
        .files
        .as_ref()
        .context("server did not list the version's files")?;
    Ok(provenant_registry::oms_root_digest(
        files.iter().map(|f| (f.path.as_str(), &f.digest)),
    )?)
}

/// Whether a bundle is an OMS model signature (what `provenant sign` writes
/// as `model.sig`) rather than an attestation: its statement's predicate type.
pub fn is_model_signature(bundle: &serde_json::Value) -> bool {
    let Ok(b) = provenant_attest::Bundle::from_json(bundle.to_string().as_bytes()) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&b.envelope.payload).is_ok_and(|st| {
        matches!(
            st["predicateType"].as_str(),
            Some(provenant_attest::PREDICATE_TYPE | provenant_attest::PREDICATE_TYPE_V01)
        )
    })
}

/// What the server answers for an attached bundle: an OMS signature or an
/// attestation, by the route it went to. Serialised as the view itself.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Attached {
    Signature(SignatureView),
    Attestation(AttestationView),
}

/// Posts an attestation bundle to a version; returns the server's view of it.
pub async fn post(
    client: &Client,
    model: &str,
    number: i64,
    bundle: &serde_json::Value,
    public_key: Option<&str>,
    certificate_roots: &[String],
) -> anyhow::Result<Attached> {
    let path = |route: &str| {
        format!(
            "api/v1/models/{}/versions/{number}/{route}",
            model_segment(model)
        )
    };
    let body = provenant_api::BundleBody {
        bundle: bundle.clone(),
        public_key: public_key.map(str::to_owned),
        certificate_roots: certificate_roots.to_vec(),
    };
    // An OMS signature goes where `push --sign` puts it: the signatures route.
    Ok(if is_model_signature(bundle) {
        let (_, view) = client
            .send_json(Method::POST, &path("signatures"), &body)
            .await?;
        Attached::Signature(view)
    } else {
        let (_, view) = client
            .send_json(Method::POST, &path("attestations"), &body)
            .await?;
        Attached::Attestation(view)
    })
}

/// One line about an attached attestation or signature.
pub fn describe(view: &Attached) -> String {
    match view {
        Attached::Signature(s) => signed_by("OMS signature", &s.signer, s.trusted),
        Attached::Attestation(a) => describe_attestation(a),
    }
}

/// One line about an attached attestation.
pub fn describe_attestation(view: &AttestationView) -> String {
    let what = if view.kind == AttachmentKind::Sbom {
        match serde_json::from_value::<SbomSummary>(view.summary.clone()) {
            Ok(s) => format!(
                "SBOM {} {} ({} components{})",
                s.format,
                s.spec_version,
                s.components,
                if s.complete { "" } else { ", INCOMPLETE" }
            ),
            // The registry writes every SBOM summary; one it did not is
            // shown as unknown rather than failing the command.
            Err(_) => "SBOM ? (summary unreadable)".to_owned(),
        }
    } else {
        format!("{} {}", view.kind, view.predicate_type)
    };
    signed_by(&what, &view.signer, view.trusted)
}

fn signed_by(what: &str, signer: &str, trusted: bool) -> String {
    format!(
        "{what} signed by {signer} ({})",
        if trusted {
            "trusted"
        } else {
            "NOT TRUSTED by the namespace"
        }
    )
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    let v = super::resolve(&client, &a.reference).await?;
    let mut views = Vec::new();
    if let Some(path) = &a.bundle {
        let bundle: serde_json::Value = serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        )
        .with_context(|| format!("{} is not JSON", path.display()))?;
        let (public_key, roots) = verifying_material(&a.signing)?;
        views.push(
            post(
                &client,
                &v.model,
                v.number,
                &bundle,
                public_key.as_deref(),
                &roots,
            )
            .await?,
        );
    } else {
        let root = version_root(&v)?;
        let signing = SigningMaterial::load(&a.signing, "signing an attestation")?;
        for path in &a.sbom {
            let st = sbom_statement(path, &v.model, &root)?;
            let bundle = signing.sign(&st)?;
            views.push(
                post(
                    &client,
                    &v.model,
                    v.number,
                    &bundle,
                    signing.public_key.as_deref(),
                    &signing.certificate_roots,
                )
                .await
                .with_context(|| format!("attaching {}", path.display()))?,
            );
        }
    }
    if g.json {
        crate::output::json(&views)?;
    } else {
        for view in &views {
            println!("{}: {}", v.reference, describe(view));
        }
    }
    Ok(())
}

/// What the server verifies a ready bundle with: a public key (given as a
/// public or private key PEM; only the public key is ever sent) or root
/// certificates.
fn verifying_material(a: &SigningFlags) -> anyhow::Result<(Option<String>, Vec<String>)> {
    use provenant_attest::Signer as _;
    match (&a.key, a.certificate_chain.as_slice()) {
        (Some(k), []) => {
            let public = match &a.password_env {
                // An encrypted private key: decrypt it here for its public half.
                Some(_) => a.private_key(k)?.public_key(),
                None => crate::keyfile::public_key(k, "--key")?,
            };
            Ok((Some(public.to_pem()), Vec::new()))
        }
        (None, roots) if !roots.is_empty() => Ok((None, a.chain_pems()?)),
        _ => anyhow::bail!(
            "a ready bundle needs exactly one of --key (the signer's public key) or --certificate-chain (the roots)"
        ),
    }
}
