use reqwest::Method;

use crate::GlobalArgs;
use crate::client::model_segment;
use provenant_api::AliasEventView;

/// Aliases: movable pointers such as staging or production, with full history.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Point an alias at a version: `alias set aiops/anomaly:3 production`
    Set {
        /// Version reference
        reference: String,
        /// Alias name
        alias: String,
    },
    /// Every move of an alias, oldest first: `alias history aiops/anomaly production`
    History {
        /// Model ns/name
        model: String,
        /// Alias name
        alias: String,
    },
    /// A model's aliases and where they point
    List {
        /// Model ns/name
        model: String,
    },
}

#[derive(serde::Deserialize, serde::Serialize)]
struct AliasView {
    alias: String,
    number: i64,
    updated_at: String,
    updated_by: String,
}

pub async fn run(g: &GlobalArgs, c: Command) -> anyhow::Result<()> {
    let client = g.client()?;
    match c {
        Command::Set { reference, alias } => {
            let v = super::resolve(&client, &reference).await?;
            let (_, e): (_, AliasEventView) = client
                .send_json(
                    Method::PUT,
                    &format!(
                        "api/v1/models/{}/aliases/{}",
                        model_segment(&v.model),
                        alias
                    ),
                    &provenant_api::AliasTarget { version: v.number },
                )
                .await?;
            if g.json {
                return crate::output::json(&e);
            }
            match e.previous_number {
                Some(p) if p != e.number => {
                    println!("{}#{} moved from {p} to {}", v.model, e.alias, e.number)
                }
                Some(_) => println!("{}#{} already at {}", v.model, e.alias, e.number),
                None => println!("{}#{} set to {}", v.model, e.alias, e.number),
            }
        }
        Command::History { model, alias } => {
            let events: Vec<AliasEventView> = client
                .get_json(&format!(
                    "api/v1/models/{}/aliases/{}/history",
                    model_segment(&model),
                    alias
                ))
                .await?;
            if g.json {
                return crate::output::json(&events);
            }
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|e| {
                    vec![
                        e.moved_at.clone(),
                        e.previous_number.map_or("-".into(), |p| p.to_string()),
                        e.number.to_string(),
                        e.moved_by.clone(),
                    ]
                })
                .collect();
            crate::output::table(&["MOVED", "FROM", "TO", "BY"], &rows);
        }
        Command::List { model } => {
            let aliases: Vec<AliasView> = client
                .get_json(&format!("api/v1/models/{}/aliases", model_segment(&model)))
                .await?;
            if g.json {
                return crate::output::json(&aliases);
            }
            let rows: Vec<Vec<String>> = aliases
                .iter()
                .map(|a| {
                    vec![
                        a.alias.clone(),
                        a.number.to_string(),
                        a.updated_at.clone(),
                        a.updated_by.clone(),
                    ]
                })
                .collect();
            crate::output::table(&["ALIAS", "VERSION", "UPDATED", "BY"], &rows);
        }
    }
    Ok(())
}
