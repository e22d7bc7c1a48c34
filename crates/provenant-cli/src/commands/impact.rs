use anyhow::Context as _;

use crate::GlobalArgs;

/// List every version affected by an input (directly, or through a parent
/// version it was fine-tuned from) and every alias pointing at one.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// dataset:sha256:<hex>, a local dataset path (hashed as `dataset hash`
    /// does), commit:<sha> (abbreviated: expanded by git in the current
    /// repository, when unique there) or image:sha256:<hex>
    pub input: String,
}

/// The input as the registry takes it: a local dataset path is hashed, an
/// abbreviated commit expanded by git.
async fn normalise(input: &str) -> anyhow::Result<String> {
    if let Some(c) = input.strip_prefix("commit:")
        && c.len() < 40
        && !c.is_empty()
        && c.bytes().all(|b| b.is_ascii_hexdigit())
    {
        let abbrev = c.to_owned();
        let full = tokio::task::spawn_blocking(move || expand_commit(&abbrev)).await??;
        eprintln!("commit {c} is {full}");
        return Ok(format!("commit:{full}"));
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

/// The full SHA of an abbreviated commit, from git in the current directory
/// (git refuses an abbreviation that is ambiguous there).
fn expand_commit(abbrev: &str) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "--end-of-options"])
        .arg(format!("{abbrev}^{{commit}}"))
        .output()
        .context("cannot run git to expand an abbreviated commit (give the full SHA)")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        anyhow::bail!(
            "commit:{abbrev}: git cannot expand it to one commit of the repository here ({}); give the full SHA, or run inside the training repository",
            err.trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
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
    let input = normalise(&a.input).await?;
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("input", &input)
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
