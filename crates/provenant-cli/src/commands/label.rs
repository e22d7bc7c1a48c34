use reqwest::Method;

use crate::GlobalArgs;
use provenant_api::VersionView;

/// Set labels (key=value) on a version and/or remove them (--remove key).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Version reference: ns/name:7, ns/name@sha256:…, ns/name#alias
    pub reference: String,
    /// Labels to set, key=value
    #[arg(value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Label keys to remove (repeatable)
    #[arg(long = "remove", value_name = "KEY")]
    pub remove: Vec<String>,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    if a.set.is_empty() && a.remove.is_empty() {
        anyhow::bail!("nothing to do: give key=value labels to set and/or --remove key");
    }
    let set = super::parse_kv(&a.set, "label")?;
    let client = g.client()?;
    let v = super::resolve(&client, &a.reference).await?;
    let (_, updated): (_, VersionView) = client
        .send_json(
            Method::POST,
            &format!("{}/labels", super::version_path(&v)),
            &provenant_api::LabelsBody {
                set,
                remove: a.remove,
            },
        )
        .await?;
    if g.json {
        return crate::output::json(&updated);
    }
    let labels: Vec<String> = updated
        .labels
        .iter()
        .map(|(k, x)| format!("{k}={x}"))
        .collect();
    println!(
        "{}: {}",
        updated.reference,
        if labels.is_empty() {
            "(no labels)".into()
        } else {
            labels.join(", ")
        }
    );
    Ok(())
}
