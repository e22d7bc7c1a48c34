use std::path::PathBuf;

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
        /// Public key or certificate (PEM)
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
        /// `sha256:…` fingerprint, or the PEM file
        key: String,
    },
}

#[derive(serde::Deserialize, serde::Serialize)]
struct KeyView {
    namespace: String,
    fingerprint: String,
    comment: String,
    added_at: String,
    added_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    removed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    removed_by: Option<String>,
}

fn read_pem(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

pub async fn run(g: &GlobalArgs, c: Command) -> anyhow::Result<()> {
    let client = g.client()?;
    match c {
        Command::Add {
            namespace,
            key,
            comment,
        } => {
            let pem = read_pem(&key)?;
            let (status, k): (_, KeyView) = client
                .send_json(
                    Method::POST,
                    &format!("api/v1/namespaces/{}/keys", model_segment(&namespace)),
                    &serde_json::json!({"public_key": pem, "comment": comment}),
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
            let keys: Vec<KeyView> = client
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
            let fingerprint = if key.starts_with("sha256:") {
                key
            } else {
                let pem = read_pem(std::path::Path::new(&key))?;
                provenant_registry::parse_key_or_certificate(&pem)?.fingerprint()
            };
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
