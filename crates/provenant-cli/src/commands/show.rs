use crate::GlobalArgs;

/// Show a version: identity, state, labels, aliases, metadata and files.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Version reference: ns/name:7, ns/name@sha256:…, ns/name#alias or ns/name (latest)
    pub reference: String,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    let mut v = super::resolve(&client, &a.reference).await?;
    super::warn_if_retired(&v);
    v.provenance = Some(super::provenance::summaries(&client, &v).await?);
    if g.json {
        return crate::output::json(&v);
    }
    println!("version:    {}", v.reference);
    println!("digest:     {}", v.digest);
    match &v.state_reason {
        Some(r) => println!(
            "state:      {} ({r}; by {} at {})",
            v.state,
            v.state_changed_by.as_deref().unwrap_or("?"),
            v.state_changed_at.as_deref().unwrap_or("?")
        ),
        None => println!("state:      {}", v.state),
    }
    println!("created:    {} by {}", v.created_at, v.created_by);
    println!(
        "size:       {} in {} files",
        crate::output::size(v.size),
        v.file_count
    );
    if !v.aliases.is_empty() {
        println!("aliases:    {}", v.aliases.join(", "));
    }
    if !v.labels.is_empty() {
        let labels: Vec<String> = v.labels.iter().map(|(k, x)| format!("{k}={x}")).collect();
        println!("labels:     {}", labels.join(", "));
    }
    if v.metadata.as_object().is_some_and(|m| !m.is_empty()) {
        println!("metadata:   ({})", v.metadata_digest);
        for line in serde_json::to_string_pretty(&v.metadata)?.lines() {
            println!("  {line}");
        }
    }
    match v.attestations.as_deref() {
        Some([]) | None => println!("attestations: none"),
        Some(atts) => {
            println!("attestations:");
            for att in atts {
                println!(
                    "  {} by {} at {}",
                    super::attach::describe(att),
                    att["created_by"].as_str().unwrap_or("?"),
                    att["created_at"].as_str().unwrap_or("?")
                );
            }
        }
    }
    match v.signatures.as_deref() {
        Some([]) | None => println!("signatures: none"),
        Some(sigs) => {
            println!("signatures:");
            for sig in sigs {
                let trust = trust_mark(sig.trusted);
                println!(
                    "  {} [{trust}] by {} at {}",
                    sig.signer, sig.created_by, sig.created_at
                );
            }
        }
    }
    match v.provenance.as_deref() {
        Some([]) | None => println!("provenance: none"),
        Some(list) => {
            println!("provenance:");
            for p in list {
                let s = &p["summary"];
                let text = |k: &str| s[k].as_str().unwrap_or("-").to_owned();
                let list = |k: &str| {
                    s[k].as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| "-".into())
                };
                println!(
                    "  signed by {} [{}] at {}",
                    p["signer"].as_str().unwrap_or("?"),
                    trust_mark(p["trusted"] == true),
                    p["created_at"].as_str().unwrap_or("?")
                );
                println!(
                    "  builder:    {} ({})",
                    text("builder_id"),
                    s["invocation_id"].as_str().unwrap_or("no invocation id")
                );
                println!(
                    "  source:     {} @ {} (commit signature: {})",
                    text("repository"),
                    text("commit"),
                    text("commit_signature")
                );
                println!("  datasets:   {}", list("datasets"));
                println!("  image:      {}", list("images"));
                println!("  entrypoint: {}", text("entrypoint"));
                println!("  hyperparameters: {}", s["hyperparameters"]);
                println!("  seeds:      {}", list("seeds"));
                if s["parents"].as_array().is_some_and(|a| !a.is_empty()) {
                    println!("  parents:    {}", list("parents"));
                }
                println!(
                    "  trained:    {} to {}",
                    text("started_on"),
                    text("finished_on")
                );
            }
        }
    }
    if let Some(files) = &v.files {
        println!("files:");
        let rows: Vec<Vec<String>> = files
            .iter()
            .map(|f| {
                vec![
                    f.path.clone(),
                    crate::output::size(i64::try_from(f.size).unwrap_or(i64::MAX)),
                    f.digest.clone(),
                ]
            })
            .collect();
        crate::output::table(
            &["  PATH", "SIZE", "DIGEST"],
            &rows
                .into_iter()
                .map(|mut r| {
                    r[0] = format!("  {}", r[0]);
                    r
                })
                .collect::<Vec<_>>(),
        );
    }
    Ok(())
}

/// How `show` marks a signature or attestation: trusted only when the
/// namespace's own key or root certificate verifies it (the server's call).
fn trust_mark(trusted: bool) -> &'static str {
    if trusted {
        "trusted"
    } else {
        "NOT TRUSTED (no key or root certificate of the namespace verifies it)"
    }
}
