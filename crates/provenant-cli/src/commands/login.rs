use provenant_api::WhoAmI;
use std::io::BufRead as _;

use anyhow::Context as _;

use crate::GlobalArgs;
use crate::client::{Client, ConfigFile, read_config, write_config};

/// Store the registry URL and token in the config file (mode 0600), after
/// checking them against the server.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read the token from standard input instead of --token
    #[arg(long)]
    pub token_stdin: bool,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let existing = read_config()?;
    let url = g
        .url
        .clone()
        .or(existing.url)
        .unwrap_or_else(|| crate::client::DEFAULT_URL.to_owned());
    let token = if a.token_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the token from stdin")?;
        line.trim().to_owned()
    } else {
        g.token
            .clone()
            .context("give the token with --token, PROVENANT_TOKEN or --token-stdin")?
    };
    let client = Client::with(&url, Some(token.clone()))?;
    let me: WhoAmI = client.get_json("api/v1/whoami").await?;
    let path = write_config(&ConfigFile {
        url: Some(url.clone()),
        token: Some(token),
        // Keep a pinned log key across logins.
        log_key: crate::client::read_config().ok().and_then(|c| c.log_key),
    })?;
    if g.json {
        crate::output::json(
            &serde_json::json!({"url": url, "name": me.name, "role": me.role, "config": path}),
        )?;
    } else {
        println!(
            "logged in to {url} as {} ({}); saved to {}",
            me.name,
            me.role,
            path.display()
        );
    }
    Ok(())
}
