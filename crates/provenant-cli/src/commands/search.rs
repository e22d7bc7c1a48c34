use crate::GlobalArgs;
use provenant_api::{PageOf, VersionView};

/// Search versions by model name, description, metadata values and labels.
/// Every word must match (as a word prefix).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Words to look for (may be empty when --label is given)
    #[arg(default_value = "")]
    pub query: String,
    /// Only versions with this label, key=value (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Only versions in this state: active, deprecated, archived
    #[arg(long)]
    pub state: Option<String>,
    /// Page size
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Continue after this cursor (printed after a full page)
    #[arg(long)]
    pub cursor: Option<String>,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if !a.query.trim().is_empty() {
        q.append_pair("q", &a.query);
    }
    for l in &a.labels {
        q.append_pair("label", l);
    }
    if let Some(s) = &a.state {
        q.append_pair("state", s);
    }
    if let Some(c) = &a.cursor {
        q.append_pair("cursor", c);
    }
    q.append_pair("limit", &a.limit.to_string());
    let page: PageOf<VersionView> = client
        .get_json(&format!("api/v1/search?{}", q.finish()))
        .await?;
    super::list::print_versions(g, &page)
}
