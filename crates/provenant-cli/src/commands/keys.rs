use provenant_api::TrustedKeyView;
use std::path::PathBuf;

use anyhow::Context as _;
use reqwest::Method;

use crate::GlobalArgs;
use crate::client::model_segment;

/// Keys a namespace trusts for signatures. Verification is not trust: `show`
/// marks a signature trusted only when its key is listed here.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Trust a public key (or a certificate's key, e.g. a signing root): `keys add aiops key.pub`
    Add {
        /// Namespace
        namespace: String,
        /// Public key or root certificate (PEM). Given a private key, only its
        /// public key (derived here) is sent
        key: PathBuf,
        /// Free-text note (whose key, why)
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// List trusted keys (`--history` includes removed ones)
    List {
        namespace: String,
        #[arg(long)]
        history: bool,
    },
    /// Stop trusting a key, by fingerprint or key file
    Remove {
        namespace: String,
        /// Fingerprint as `keys list` prints it (`sha256:<64 hex>`, the prefix
        /// optional), or the key's PEM file
        key: String,
    },
}

/// A key's fingerprint in the one form the registry uses (`sha256:` + 64
/// lowercase hex digits of the DER SubjectPublicKeyInfo's SHA-256), from a
/// fingerprint given with or without its `sha256:` prefix; `None` when `s`
/// is not one.
pub fn normalise_fingerprint(s: &str) -> Option<String> {
    // Lenient on purpose (user input): the prefix may be missing or
    // uppercase, and so may the hex digits.
    let hex = s
        .strip_prefix("sha256:")
        .or_else(|| s.strip_prefix("SHA256:"))
        .unwrap_or(s);
    provenant_digest::Digest::from_hex(
        provenant_digest::DigestAlgorithm::Sha256,
        &hex.to_ascii_lowercase(),
    )
    .ok()
    .map(|d| d.to_string())
}

/// The fingerprint `keys remove` was given: a fingerprint, or a key file.
fn fingerprint_of(key: &str) -> anyhow::Result<String> {
    if let Some(fp) = normalise_fingerprint(key) {
        return Ok(fp);
    }
    let path = std::path::Path::new(key);
    if !path.exists() {
        anyhow::bail!(
            "{key:?} is neither a key fingerprint (sha256:<64 hex digits>, as `keys list` prints) nor a key file"
        );
    }
    let pem = crate::keyfile::public_pem(path, "keys remove")?;
    Ok(provenant_registry::parse_key_or_certificate(&pem)
        .with_context(|| format!("keys remove {}", path.display()))?
        .fingerprint())
}

pub async fn run(g: &GlobalArgs, c: Command) -> anyhow::Result<()> {
    let client = g.client()?;
    match c {
        Command::Add {
            namespace,
            key,
            comment,
        } => {
            let pem = crate::keyfile::public_pem(&key, "keys add")?;
            let (status, k): (_, TrustedKeyView) = client
                .send_json(
                    Method::POST,
                    &format!("api/v1/namespaces/{}/keys", model_segment(&namespace)),
                    &provenant_api::KeyBody {
                        public_key: pem,
                        comment,
                    },
                )
                .await?;
            if g.json {
                return crate::output::json(&k);
            }
            let verb = if status.as_u16() == 201 {
                "now trusts"
            } else {
                "already trusts"
            };
            println!("{} {verb} {}", k.namespace, k.fingerprint);
        }
        Command::List { namespace, history } => {
            let q = if history { "?history=true" } else { "" };
            let keys: Vec<TrustedKeyView> = client
                .get_json(&format!(
                    "api/v1/namespaces/{}/keys{q}",
                    model_segment(&namespace)
                ))
                .await?;
            if g.json {
                return crate::output::json(&keys);
            }
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|k| {
                    vec![
                        k.fingerprint.clone(),
                        k.added_at.clone(),
                        k.added_by.clone(),
                        k.removed_at.as_ref().map_or_else(String::new, |r| {
                            format!("{r} by {}", k.removed_by.as_deref().unwrap_or("?"))
                        }),
                        k.comment.clone(),
                    ]
                })
                .collect();
            crate::output::table(&["FINGERPRINT", "ADDED", "BY", "REMOVED", "COMMENT"], &rows);
        }
        Command::Remove { namespace, key } => {
            let fingerprint = fingerprint_of(&key)?;
            client
                .send(client.request(
                    Method::DELETE,
                    &format!(
                        "api/v1/namespaces/{}/keys/{}",
                        model_segment(&namespace),
                        fingerprint
                    ),
                )?)
                .await?;
            if g.json {
                return crate::output::json(
                    &serde_json::json!({"namespace": namespace, "removed": fingerprint}),
                );
            }
            println!("{namespace} no longer trusts {fingerprint}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprints_with_or_without_prefix() {
        let hex = "D23C2B0EE1FE".repeat(5) + "abcd";
        let want = format!("sha256:{}", hex.to_ascii_lowercase());
        assert_eq!(super::normalise_fingerprint(&hex), Some(want.clone()));
        assert_eq!(
            super::normalise_fingerprint(&format!("sha256:{hex}")),
            Some(want)
        );
        assert_eq!(super::normalise_fingerprint("sha256:abc"), None);
        assert_eq!(super::normalise_fingerprint("key.pub"), None);
    }
}
