use provenant_api::WhoAmI;
use std::io::BufRead as _;

use anyhow::Context as _;

use crate::GlobalArgs;
use crate::client::{Client, ConfigFile, read_config, write_config};

/// Store the registry URL and token in the config file (mode 0600), after
/// checking them against the server; and the CA file, when one was given
/// (with --ca-file or PROVENANT_CA_FILE; one stored already is kept for the
/// same URL and forgotten for another).
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
        .or(existing.url.clone())
        .unwrap_or_else(|| crate::client::DEFAULT_URL.to_owned());
    // Stored as an absolute path: later commands run from anywhere.
    let ca_file = match &g.ca_file {
        Some(path) => {
            Some(std::path::absolute(path).with_context(|| format!("CA file {}", path.display()))?)
        }
        None if existing.url.as_deref() == Some(url.as_str()) => existing.ca_file.clone(),
        None => None,
    };
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
    let transport = crate::client::Transport {
        ca_file: ca_file.clone(),
        insecure_http: g.insecure_http,
    };
    let client = Client::with(&url, Some(token.clone()), &transport)?;
    let me: WhoAmI = client.get_json("api/v1/whoami").await?;
    let path = write_config(&ConfigFile {
        url: Some(url.clone()),
        token: Some(token),
        // Keep a pinned log key across logins.
        log_key: existing.log_key,
        ca_file: ca_file.clone(),
    })?;
    if g.json {
        crate::output::json(&serde_json::json!({
            "url": url,
            "name": me.name,
            "role": me.role,
            "ca_file": ca_file,
            "config": path,
        }))?;
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
