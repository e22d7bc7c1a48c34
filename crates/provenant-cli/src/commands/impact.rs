use crate::GlobalArgs;

/// List every version affected by an input (directly, or through a parent
/// version it was fine-tuned from) and every alias pointing at one.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// dataset:sha256:<hex>, commit:<sha> or image:sha256:<hex>
    pub input: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct Affected {
    version: String,
    digest: String,
    state: String,
    direct: bool,
    aliases: Vec<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct Impact {
    input: String,
    versions: Vec<Affected>,
    aliases: Vec<String>,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("input", &a.input)
        .finish();
    let r: Impact = client.get_json(&format!("api/v1/impact?{q}")).await?;
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
                v.state.clone(),
                if v.direct {
                    "direct".into()
                } else {
                    "via parent".into()
                },
                v.aliases.join(","),
                v.digest.get(..19).unwrap_or(&v.digest).to_owned(),
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
