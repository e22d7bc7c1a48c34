use std::path::{Path, PathBuf};

use anyhow::Context as _;
use reqwest::Method;

use crate::GlobalArgs;
use crate::client::{Client, model_segment};
use provenant_api::{AttestationView, SignatureView, VersionView};

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
    pub signing: AttestSigning,
}

/// How attestations are signed (or, for a ready bundle, verified).
#[derive(Debug, Clone, clap::Args)]
pub struct AttestSigning {
    /// Signing key (PEM); for a ready BUNDLE, its public key (or the private key)
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Environment variable holding the signing key's password
    #[arg(long, requires = "key")]
    pub password_env: Option<String>,
    /// Signing certificate (PEM) for certificate mode
    #[arg(long)]
    pub certificate: Option<PathBuf>,
    /// Rest of the chain up to the root (PEM); for a ready BUNDLE, the roots that verify it
    #[arg(long = "certificate-chain")]
    pub certificate_chain: Vec<PathBuf>,
}

/// A loaded signing key with what the server needs to verify its signatures.
pub struct SigningMaterial {
    pub key: provenant_attest::PrivateKey,
    /// DER certificates, leaf first (empty in key mode).
    pub chain: Vec<Vec<u8>>,
    /// Key mode: the public key PEM sent to the server.
    pub public_key: Option<String>,
    /// Certificate mode: the root PEMs sent to the server.
    pub certificate_roots: Vec<String>,
}

impl SigningMaterial {
    /// Loads the key (decrypting with the password from `password_env`) and,
    /// in certificate mode, the certificate and its chain up to the root.
    pub fn load(
        key: &Path,
        password_env: Option<&str>,
        certificate: Option<&Path>,
        certificate_chain: &[PathBuf],
    ) -> anyhow::Result<Self> {
        use provenant_attest::Signer as _;
        let password = password_env
            .map(|v| {
                std::env::var(v)
                    .map(String::into_bytes)
                    .map_err(|_| anyhow::anyhow!("--password-env: {v} is not set"))
            })
            .transpose()?;
        let key = provenant_attest::PrivateKey::from_pem_file(key, password.as_deref())
            .map_err(super::oms::refuse)?;
        let mut chain = Vec::new();
        let mut roots = Vec::new();
        if let Some(cert) = certificate {
            chain = super::oms::certificates(&[cert.to_path_buf()])?;
            chain.extend(super::oms::certificates(certificate_chain)?);
            for p in certificate_chain {
                roots.push(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                );
            }
            anyhow::ensure!(
                !roots.is_empty(),
                "--certificate needs --certificate-chain up to the root"
            );
        }
        let public_key = chain.is_empty().then(|| key.public_key().to_pem());
        Ok(Self {
            key,
            chain,
            public_key,
            certificate_roots: roots,
        })
    }

    pub fn from_args(a: &AttestSigning) -> anyhow::Result<Self> {
        let key = a
            .key
            .as_deref()
            .context("signing an attestation needs --key")?;
        Self::load(
            key,
            a.password_env.as_deref(),
            a.certificate.as_deref(),
            &a.certificate_chain,
        )
    }

    /// A bundle this material signed, with what verifies it, as sent to the server.
    pub fn body(&self, bundle: serde_json::Value) -> provenant_api::BundleBody {
        provenant_api::BundleBody {
            bundle,
            public_key: self.public_key.clone(),
            certificate_roots: self.certificate_roots.clone(),
        }
    }

    /// Signs a statement into a bundle (JSON value, as sent to the server).
    pub fn sign(
        &self,
        statement: &provenant_attest::Statement,
    ) -> anyhow::Result<serde_json::Value> {
        let bundle = provenant_attest::sign_statement(statement, &self.key, &self.chain)
            .map_err(super::oms::refuse)?;
        serde_json::from_str(&bundle.to_json()).context("serialising the attestation bundle")
    }
}

/// The in-toto statement carrying an SBOM file as its predicate, about the
/// model `subject_name` with OMS root digest `root_hex`. The SBOM must parse.
pub fn sbom_statement(
    path: &Path,
    subject_name: &str,
    root_hex: &str,
) -> anyhow::Result<provenant_attest::Statement> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (format, _) = provenant_sbom::parse_sbom(&bytes, &path.display().to_string())
        .with_context(|| format!("{} is not a usable SBOM", path.display()))?;
    let predicate: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    Ok(provenant_attest::Statement::new(
        vec![provenant_attest::Subject::sha256(subject_name, root_hex)],
        format.predicate_type(),
        predicate,
    ))
}

/// The OMS root digest of a version from its file list.
pub fn version_root(v: &VersionView) -> anyhow::Result<String> {
    let files = v
        .files
        .as_ref()
        .context("server did not list the version's files")?;
    Ok(provenant_registry::oms_root_digest(
        files.iter().map(|f| (f.path.as_str(), f.digest.as_str())),
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

/// What the server keeps in brief about an attached SBOM.
#[derive(serde::Deserialize)]
struct SbomSummary {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    spec_version: Option<String>,
    #[serde(default)]
    components: serde_json::Value,
    #[serde(default)]
    complete: Option<bool>,
}

/// One line about an attached attestation.
pub fn describe_attestation(view: &AttestationView) -> String {
    let what = if view.kind == provenant_registry::SBOM_KIND {
        let s: SbomSummary = serde_json::from_value(view.summary.clone()).unwrap_or(SbomSummary {
            format: None,
            spec_version: None,
            components: serde_json::Value::Null,
            complete: None,
        });
        format!(
            "SBOM {} {} ({} components{})",
            s.format.as_deref().unwrap_or("?"),
            s.spec_version.as_deref().unwrap_or(""),
            s.components,
            if s.complete == Some(false) {
                ", INCOMPLETE"
            } else {
                ""
            }
        )
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
        let signing = SigningMaterial::from_args(&a.signing)?;
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
fn verifying_material(a: &AttestSigning) -> anyhow::Result<(Option<String>, Vec<String>)> {
    use provenant_attest::Signer as _;
    match (&a.key, a.certificate_chain.as_slice()) {
        (Some(k), []) => {
            let public = match &a.password_env {
                // An encrypted private key: decrypt it here for its public half.
                Some(v) => {
                    let password = std::env::var(v)
                        .map_err(|_| anyhow::anyhow!("--password-env: {v} is not set"))?;
                    provenant_attest::PrivateKey::from_pem_file(k, Some(password.as_bytes()))
                        .map_err(super::oms::refuse)?
                        .public_key()
                }
                None => crate::keyfile::public_key(k, "--key")?,
            };
            Ok((Some(public.to_pem()), Vec::new()))
        }
        (None, roots) if !roots.is_empty() => Ok((
            None,
            roots
                .iter()
                .map(|p| {
                    std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))
                })
                .collect::<anyhow::Result<_>>()?,
        )),
        _ => anyhow::bail!(
            "a ready bundle needs exactly one of --key (the signer's public key) or --certificate-chain (the roots)"
        ),
    }
}
