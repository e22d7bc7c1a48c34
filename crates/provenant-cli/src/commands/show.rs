use crate::GlobalArgs;

/// Show a version: identity, state, labels, aliases, metadata and files.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Version reference: ns/name:7, ns/name@sha256:…, ns/name#alias or ns/name (latest)
    pub reference: String,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    let v = super::resolve(&client, &a.reference).await?;
    super::warn_if_retired(&v);
    let provenance = super::provenance::summaries(&client, &v).await?;
    let by_digest = format!("{}@{}", v.model, v.digest);
    let decisions: Vec<provenant_api::DecisionView> = client
        .get_json(&format!(
            "/api/v1/decisions?{}&limit=10",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("ref", &by_digest)
                .finish()
        ))
        .await?;
    if g.json {
        return crate::output::json(&Shown {
            version: &v,
            provenance: &provenance,
            decisions: &decisions,
        });
    }
    let metadata = v.metadata.to_value();
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
    if metadata.as_object().is_some_and(|m| !m.is_empty()) {
        println!("metadata:   ({})", v.metadata_digest);
        for line in serde_json::to_string_pretty(&metadata)?.lines() {
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
                    super::attach::describe_attestation(att),
                    att.created_by,
                    att.created_at
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
    if provenance.is_empty() {
        println!("provenance: none");
    } else {
        println!("provenance:");
        for p in &provenance {
            print_provenance(p)?;
        }
    }
    if decisions.is_empty() {
        println!("decisions:  none");
    } else {
        println!("decisions (newest first; `provenant decisions` for all):");
        for d in &decisions {
            let first = d
                .decision
                .deny
                .first()
                .map(|m| format!(": {}: {}", m.policy, m.message))
                .unwrap_or_default();
            println!(
                "  {} {} {}{} by {}{}",
                d.decided_at,
                d.decision.decision,
                d.action,
                if d.environment.is_empty() {
                    String::new()
                } else {
                    format!(" to {}", d.environment)
                },
                d.decided_by,
                first
            );
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
                    f.digest.to_string(),
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

/// What `show --json` prints: the version as the server shows it, the
/// summaries of its provenance attestations (without their statements) and
/// the gate's latest decisions.
#[derive(serde::Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    version: &'a provenant_api::VersionView,
    provenance: &'a [serde_json::Value],
    /// The policy gate's latest decisions about the version (at most 10).
    decisions: &'a [provenant_api::DecisionView],
}

/// One provenance attestation as `show` prints it (`-` for what it lacks).
fn print_provenance(p: &serde_json::Value) -> anyhow::Result<()> {
    #[derive(serde::Deserialize)]
    struct Brief {
        signer: String,
        trusted: bool,
        created_at: String,
        summary: provenant_api::ProvenanceSummary,
    }
    let p: Brief = serde_json::from_value(p.clone())?;
    let s = &p.summary;
    let text = |t: &Option<String>| t.clone().unwrap_or_else(|| "-".into());
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    println!(
        "  signed by {} [{}] at {}",
        p.signer,
        trust_mark(p.trusted),
        p.created_at
    );
    println!(
        "  builder:    {} ({})",
        s.builder_id,
        s.invocation_id.as_deref().unwrap_or("no invocation id")
    );
    println!(
        "  source:     {} @ {} (commit signature: {})",
        text(&s.repository),
        text(&s.commit),
        text(&s.commit_signature)
    );
    println!("  datasets:   {}", list(s.datasets.clone()));
    println!(
        "  image:      {}",
        list(s.images.iter().map(ToString::to_string).collect())
    );
    println!("  entrypoint: {}", s.entrypoint);
    println!("  hyperparameters: {}", s.hyperparameters);
    println!(
        "  seeds:      {}",
        list(s.seeds.iter().map(ToString::to_string).collect())
    );
    if !s.parents.is_empty() {
        println!("  parents:    {}", list(s.parents.clone()));
    }
    println!(
        "  trained:    {} to {}",
        text(&s.started_on),
        text(&s.finished_on)
    );
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
