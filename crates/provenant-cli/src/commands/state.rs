use reqwest::Method;

use crate::GlobalArgs;
use provenant_api::VersionView;

/// Change a version's lifecycle state; a reason is required and recorded.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Version reference: ns/name:7, ns/name@sha256:…, ns/name#alias
    pub reference: String,
    /// Why (recorded with who and when)
    #[arg(long)]
    pub reason: String,
}

pub async fn run(g: &GlobalArgs, a: Args, action: &str) -> anyhow::Result<()> {
    let client = g.client()?;
    let v = super::resolve(&client, &a.reference).await?;
    let (_, updated): (_, VersionView) = client
        .send_json(
            Method::POST,
            &format!("{}/{action}", super::version_path(&v)),
            &provenant_api::ReasonBody { reason: a.reason },
        )
        .await?;
    if g.json {
        return crate::output::json(&updated);
    }
    println!(
        "{} is now {}: {}",
        updated.reference,
        updated.state,
        updated.state_reason.unwrap_or_default()
    );
    Ok(())
}
