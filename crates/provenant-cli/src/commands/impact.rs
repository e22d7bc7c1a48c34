use anyhow::Context as _;
use provenant_api::ImpactView;

use crate::GlobalArgs;

/// List every version affected by an input (directly, or through a parent
/// version it was fine-tuned from) and every alias pointing at one.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// dataset:sha256:<hex>, a local dataset path (hashed as `dataset hash`
    /// does), commit:<sha> (or an abbreviation of at least 7 hex digits that
    /// names one commit the registry has recorded) or image:sha256:<hex>
    pub input: String,
}

/// The input as the registry takes it: a local dataset path is hashed; a
/// commit is lowercased (the registry expands an abbreviation against the
/// commits it has recorded, refusing one that names none or several).
async fn normalise(input: &str) -> anyhow::Result<String> {
    if let Some(c) = input.strip_prefix("commit:") {
        return Ok(format!("commit:{}", c.to_ascii_lowercase()));
    }
    let is_reference = ["dataset:sha256:", "commit:", "image:"]
        .iter()
        .any(|p| input.starts_with(p));
    let path = std::path::PathBuf::from(input.strip_prefix("dataset:").unwrap_or(input));
    if !is_reference && path.exists() {
        let shown = path.display().to_string();
        let d = tokio::task::spawn_blocking(move || provenant_provenance::hash_dataset(&path))
            .await?
            .with_context(|| format!("hashing dataset {shown}"))?;
        eprintln!("dataset {shown} hashes to {}", d.digest);
        return Ok(format!("dataset:{}", d.digest));
    }
    Ok(input.to_owned())
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    let input = normalise(&a.input).await?;
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("input", &input)
        .finish();
    let r: ImpactView = client.get_json(&format!("api/v1/impact?{q}")).await?;
    if g.json {
        return crate::output::json(&r);
    }
    if r.versions.is_empty() {
        println!("no version uses {}", r.input);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = r
        .versions
        .iter()
        .map(|v| {
            vec![
                v.version.clone(),
                v.state.to_string(),
                if v.direct {
                    "direct".into()
                } else {
                    "via parent".into()
                },
                v.aliases.join(","),
                crate::output::short_digest(&v.digest),
            ]
        })
        .collect();
    crate::output::table(&["VERSION", "STATE", "USES", "ALIASES", "DIGEST"], &rows);
    println!(
        "{} version(s) affected; aliases pointing at them: {}",
        r.versions.len(),
        if r.aliases.is_empty() {
            "none".to_owned()
        } else {
            r.aliases.join(", ")
        }
    );
    Ok(())
}
