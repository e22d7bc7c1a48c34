use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use provenant_api::VersionView as VersionInfo;
use provenant_digest::{Digest, DigestAlgorithm};
use provenant_provenance::{Category, Recipe};
use serde_json::Value;

use crate::GlobalArgs;
use crate::client::Client;
use crate::commands::oms::Refused;

/// Reproducibility: compare recipes and outputs. Exit 1 when B does not
/// reproduce A (diff) or the rebuilt model differs (check).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Compare two versions' recipes field by field (inputs, environment) and
    /// their files (outputs), and say whether B reproduces A
    Diff {
        /// Version A (the original)
        a: String,
        /// Version B (the rebuild)
        b: String,
        /// List equal fields too
        #[arg(long)]
        all: bool,
    },
    /// Verify a rebuilt model directory against a published version: files and
    /// digests, and with --recipe the rebuild's recipe inputs
    Check {
        /// Published version
        reference: String,
        /// Rebuilt model directory (or file)
        dir: PathBuf,
        /// Recipe of the rebuild (from `provenant capture`)
        #[arg(long)]
        recipe: Option<PathBuf>,
    },
}

/// The predicate of a version's latest provenance.
async fn predicate(client: &Client, v: &VersionInfo) -> anyhow::Result<Value> {
    let list: Vec<Value> = client
        .get_json(&format!("{}/provenance", super::version_path(v)))
        .await?;
    list.last()
        .and_then(|p| p.pointer("/statement/predicate"))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{} has no provenance attached", v.reference))
}

/// The files of a version (`path` → digest), as the registry lists them.
fn files(v: &VersionInfo) -> BTreeMap<String, Digest> {
    v.files
        .iter()
        .flatten()
        .map(|f| (f.path.clone(), f.digest))
        .collect()
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn shown_digest(d: Option<&Digest>) -> String {
    d.map_or_else(|| "-".to_owned(), Digest::to_string)
}

fn cat(c: Category) -> &'static str {
    match c {
        Category::Input => "input",
        Category::Environment => "environment",
        Category::Output => "output",
    }
}

pub async fn run(g: &GlobalArgs, c: Command) -> anyhow::Result<()> {
    let client = g.client()?;
    match c {
        Command::Diff { a, b, all } => {
            let va = super::resolve(&client, &a).await?;
            let vb = super::resolve(&client, &b).await?;
            let pa = predicate(&client, &va).await?;
            let pb = predicate(&client, &vb).await?;
            let cmp = provenant_provenance::diff(&pa, &pb, &files(&va), &files(&vb));
            if g.json {
                crate::output::json(&serde_json::json!({
                    "a": va.reference, "b": vb.reference, "comparison": cmp,
                }))?;
            } else {
                let rows: Vec<Vec<String>> = cmp
                    .fields
                    .iter()
                    .filter(|f| all || !f.equal)
                    .map(|f| {
                        vec![
                            cat(f.category).into(),
                            f.field.clone(),
                            if f.equal { "=".into() } else { "≠".into() },
                            show(&f.a),
                            show(&f.b),
                        ]
                    })
                    .collect();
                if !rows.is_empty() {
                    crate::output::table(&["KIND", "FIELD", "", "A", "B"], &rows);
                }
                let eq = |b: bool| if b { "equal" } else { "differ" };
                println!("A: {}  B: {}", va.reference, vb.reference);
                println!("inputs:      {}", eq(cmp.inputs_equal));
                println!("environment: {}", eq(cmp.environment_equal));
                println!("outputs:     {}", eq(cmp.outputs_equal));
                println!(
                    "B reproduces A: {}",
                    match cmp.verdict {
                        provenant_provenance::Verdict::Reproduces => "yes",
                        provenant_provenance::Verdict::SameInputsDifferentOutputs =>
                            "no (same inputs, different outputs: training is not deterministic)",
                        provenant_provenance::Verdict::DifferentInputs => "no (the inputs differ)",
                    }
                );
            }
            if !cmp.reproduces {
                return Err(Refused(format!(
                    "{} does not reproduce {}",
                    vb.reference, va.reference
                ))
                .into());
            }
            Ok(())
        }
        Command::Check {
            reference,
            dir,
            recipe,
        } => {
            let v = super::resolve(&client, &reference).await?;
            let published = files(&v);
            let d = dir.clone();
            let digest = tokio::task::spawn_blocking(move || {
                provenant_digest::hash_model(&d, &provenant_digest::HashOptions::default())
            })
            .await?
            .with_context(|| format!("hashing {}", dir.display()))?;
            let mut rebuilt: BTreeMap<String, Digest> = BTreeMap::new();
            for r in &digest.resources {
                let path = match (r.name.path(), published.len()) {
                    (".", 1) => published.keys().next().cloned().unwrap_or_default(),
                    (p, _) => p.to_owned(),
                };
                // Default hashing options: one SHA-256 per file.
                let d = Digest::from_raw(DigestAlgorithm::Sha256, &r.digest)
                    .with_context(|| format!("{}: not a SHA-256 digest", r.name.path()))?;
                rebuilt.insert(path, d);
            }
            let file_diffs = provenant_provenance::check_files(&published, &rebuilt);
            let mut field_diffs = Vec::new();
            if let Some(rp) = &recipe {
                let bytes =
                    std::fs::read(rp).with_context(|| format!("cannot read {}", rp.display()))?;
                let r = Recipe::from_json(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", rp.display()))?;
                let ours = serde_json::to_value(provenant_provenance::provenance_from_recipe(&r))?;
                let theirs = predicate(&client, &v).await?;
                let cmp =
                    provenant_provenance::diff(&theirs, &ours, &BTreeMap::new(), &BTreeMap::new());
                field_diffs = cmp
                    .fields
                    .into_iter()
                    .filter(|f| f.category == Category::Input && !f.equal)
                    .collect();
            }
            let ok = file_diffs.is_empty() && field_diffs.is_empty();
            if g.json {
                crate::output::json(&serde_json::json!({
                    "version": v.reference,
                    "matches": ok,
                    "files": file_diffs,
                    "recipe": field_diffs,
                }))?;
            } else {
                for f in &file_diffs {
                    println!(
                        "file {}: {} (published {}, rebuilt {})",
                        f.path,
                        f.status,
                        shown_digest(f.published.as_ref()),
                        shown_digest(f.rebuilt.as_ref())
                    );
                }
                for f in &field_diffs {
                    println!(
                        "recipe {}: published {}, rebuild {}",
                        f.field,
                        show(&f.a),
                        show(&f.b)
                    );
                }
                if ok {
                    println!(
                        "{} matches {} ({} files)",
                        dir.display(),
                        v.reference,
                        published.len()
                    );
                }
            }
            if !ok {
                return Err(Refused(format!(
                    "{} differs from {}: {} file(s), {} recipe field(s)",
                    dir.display(),
                    v.reference,
                    file_diffs.len(),
                    field_diffs.len()
                ))
                .into());
            }
            Ok(())
        }
    }
}
