use provenant_api::ErrorCode;

use crate::GlobalArgs;
use crate::client::{ApiFailure, model_segment};
use provenant_api::{ModelView, PageOf, VersionState, VersionView};

/// List models, optionally under a namespace, or the versions of one model.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A namespace (lists its models) or a model ns/name (lists its versions); omit for all models
    pub target: Option<String>,
    /// Only versions with this label, key=value (repeatable; versions of a
    /// model only: `search --label` finds versions across models)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Only versions in this state (versions of a model only)
    #[arg(long, value_parser = state_parser())]
    pub state: Option<VersionState>,
    /// Page size
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Continue after this cursor (printed after a full page)
    #[arg(long)]
    pub cursor: Option<String>,
}

/// `--state`: the registry's [`VersionState`] (clap lists the accepted words
/// and refuses any other, naming the flag).
fn state_parser() -> impl clap::builder::TypedValueParser<Value = VersionState> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(VersionState::ALL.map(VersionState::as_str))
        .map(|s| VersionState::parse(&s).unwrap_or(VersionState::Active))
}

/// `--label`/`--state` filter versions; a listing of models has neither.
fn refuse_version_filters(a: &Args) -> anyhow::Result<()> {
    let flag = match (a.labels.is_empty(), a.state) {
        (false, _) => "--label",
        (true, Some(_)) => "--state",
        (true, None) => return Ok(()),
    };
    let listed = match &a.target {
        Some(t) => format!("{t} names no model, so this would list models under it"),
        None => "without a model this lists models".to_owned(),
    };
    anyhow::bail!(
        "{flag} filters the versions of one model, and {listed}; name the model \
         (`provenant list ns/name {flag} …`) or search versions across models (`provenant search {flag} …`)"
    )
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    if !a.target.as_deref().is_some_and(|t| t.contains('/')) {
        refuse_version_filters(&a)?;
    }
    if let Some(target) = &a.target {
        let model_exists = target.contains('/')
            && match client
                .get_json::<ModelView>(&format!("api/v1/models/{}", model_segment(target)))
                .await
            {
                Ok(_) => true,
                Err(e)
                    if e.downcast_ref::<ApiFailure>().is_some_and(|f| {
                        matches!(
                            f.code,
                            Some(ErrorCode::ModelNotFound | ErrorCode::InvalidName)
                        )
                    }) =>
                {
                    false
                }
                Err(e) => return Err(e),
            };
        if model_exists {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("limit", &a.limit.to_string());
            for l in &a.labels {
                q.append_pair("label", l);
            }
            if let Some(s) = a.state {
                q.append_pair("state", s.as_str());
            }
            if let Some(c) = &a.cursor {
                q.append_pair("cursor", c);
            }
            let page: PageOf<VersionView> = client
                .get_json(&format!(
                    "api/v1/models/{}/versions?{}",
                    model_segment(target),
                    q.finish()
                ))
                .await?;
            return print_versions(g, &page);
        }
    }
    refuse_version_filters(&a)?;
    let prefix = a
        .target
        .as_ref()
        .map(|t| format!("{}/", t.trim_end_matches('/')))
        .unwrap_or_default();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("prefix", &prefix)
        .append_pair("limit", &a.limit.to_string());
    if let Some(c) = &a.cursor {
        q.append_pair("cursor", c);
    }
    let page: PageOf<ModelView> = client
        .get_json(&format!("api/v1/models?{}", q.finish()))
        .await?;
    if g.json {
        return crate::output::json(&page);
    }
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.version_count.to_string(),
                m.created_at.clone(),
                m.description.clone(),
            ]
        })
        .collect();
    crate::output::table(&["MODEL", "VERSIONS", "CREATED", "DESCRIPTION"], &rows);
    if let Some(c) = &page.next_cursor {
        eprintln!("more: --cursor {c}");
    }
    Ok(())
}

pub fn print_versions(g: &GlobalArgs, page: &PageOf<VersionView>) -> anyhow::Result<()> {
    if g.json {
        return crate::output::json(page);
    }
    super::version_table(&page.items);
    if let Some(c) = &page.next_cursor {
        eprintln!("more: --cursor {c}");
    }
    Ok(())
}
