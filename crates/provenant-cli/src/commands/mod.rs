//! One module per command, each with `Args` and `run`.

pub mod alias;
pub mod attach;
pub mod attest;
pub mod audit;
pub mod capture;
pub mod dataset;
pub mod digest;
pub mod findings;
pub mod gate;
pub mod identity;
pub mod impact;
pub mod keygen;
pub mod keys;
pub mod label;
pub mod lineage;
pub mod list;
pub mod log;
pub mod login;
pub mod oms;
pub mod policy;
pub mod provenance;
pub mod pull;
pub mod push;
pub mod reproduce;
pub mod sbom;
pub mod scan;
pub mod search;
pub mod serve;
pub mod show;
pub mod sign;
pub mod signing;
pub mod state;
pub mod verify;
pub mod vulndb;
pub mod witness;

use crate::client::Client;
use provenant_api::{VersionState, VersionView};

/// Resolve any reference form through the server.
pub async fn resolve(client: &Client, reference: &str) -> anyhow::Result<VersionView> {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("ref", reference)
        .finish();
    client.get_json(&format!("api/v1/resolve?{q}")).await
}

/// Say on stderr that a version is no longer active (deprecated or archived),
/// with the recorded reason: `pull` and `show` still serve it.
pub fn warn_if_retired(v: &VersionView) {
    if v.state != VersionState::Active {
        eprintln!(
            "warning: {} is {}{}",
            v.reference,
            v.state,
            v.state_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
}

/// `api/v1/models/<model>/versions/<n>`.
pub fn version_path(v: &VersionView) -> String {
    format!(
        "api/v1/models/{}/versions/{}",
        crate::client::model_segment(&v.model),
        v.number
    )
}

/// Parse `k=v` arguments.
pub fn parse_kv(
    items: &[String],
    what: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    items
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow::anyhow!("{what} {s:?} must be key=value"))
        })
        .collect()
}

/// Print a version list as a table.
pub fn version_table(items: &[VersionView]) {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|v| {
            vec![
                v.reference.clone(),
                v.state.to_string(),
                v.aliases.join(","),
                v.labels
                    .iter()
                    .map(|(k, x)| format!("{k}={x}"))
                    .collect::<Vec<_>>()
                    .join(","),
                crate::output::size(v.size),
                v.created_at.clone(),
                crate::output::short_digest(&v.digest),
            ]
        })
        .collect();
    crate::output::table(
        &[
            "VERSION", "STATE", "ALIASES", "LABELS", "SIZE", "CREATED", "DIGEST",
        ],
        &rows,
    );
}
