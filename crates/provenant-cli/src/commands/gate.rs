//! `provenant gate`: ask the server's policy gate about a version (for CD
//! pipelines; exit 0 allow, 1 deny), `provenant decisions`: the decisions
//! recorded about a version, and `provenant policy input`: the input
//! document the gate sees.

use provenant_api::{DecisionView, GateBody, PolicyAction, PolicyInput, PolicyTarget};

use crate::GlobalArgs;

/// Where the version goes, as the gate's `input.target` says.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Target environment (`input.target.environment`), e.g. production
    #[arg(long = "env")]
    pub environment: Option<String>,
    /// Target cluster (`input.target.cluster`)
    #[arg(long)]
    pub cluster: Option<String>,
    /// Target Kubernetes namespace (`input.target.kubernetes_namespace`)
    #[arg(long = "k8s-namespace")]
    pub kubernetes_namespace: Option<String>,
    /// For `--action promote`: the alias being moved (`input.target.alias`)
    #[arg(long)]
    pub alias: Option<String>,
}

impl TargetArgs {
    fn target(&self) -> PolicyTarget {
        PolicyTarget {
            environment: self.environment.clone(),
            cluster: self.cluster.clone(),
            kubernetes_namespace: self.kubernetes_namespace.clone(),
            alias: self.alias.clone(),
            workload: None,
            images: Vec::new(),
        }
    }
}

/// Ask the policy gate whether a version may be deployed (or promoted):
/// prints the verdict with every reason; exit 0 allow, 1 deny. The
/// decision is recorded and logged by the server.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Version: ns/name@sha256:…, ns/name:N, ns/name#alias or ns/name (latest)
    pub reference: String,
    /// What is decided: deploy (default), promote or ingest
    #[arg(long, default_value = "deploy", value_parser = parse_action)]
    pub action: PolicyAction,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Decisions the policy gate recorded about a version, newest first.
#[derive(Debug, clap::Args)]
pub struct DecisionsArgs {
    /// Version: ns/name@sha256:…, ns/name:N, ns/name#alias or ns/name (latest)
    pub reference: String,
    /// Most decisions to list
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// Print the input document the gate sees for a version (what `policy eval
/// --input` takes).
#[derive(Debug, clap::Args)]
pub struct InputArgs {
    /// Version: ns/name@sha256:…, ns/name:N, ns/name#alias or ns/name (latest)
    pub reference: String,
    /// What is decided: deploy (default), promote or ingest
    #[arg(long, default_value = "deploy", value_parser = parse_action)]
    pub action: PolicyAction,
    #[command(flatten)]
    pub target: TargetArgs,
}

fn parse_action(s: &str) -> Result<PolicyAction, String> {
    s.parse()
}

/// The gate denied: exit status 1.
#[derive(Debug)]
pub struct Denied {
    pub reference: String,
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the policy gate denies {}", self.reference)
    }
}

impl std::error::Error for Denied {}

fn query_ref(reference: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("ref", reference)
        .finish()
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    let body = GateBody {
        action: a.action,
        target: a.target.target(),
    };
    let (_, view): (_, DecisionView) = client
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v1/gate?{}", query_ref(&a.reference)),
            &body,
        )
        .await?;
    if g.json {
        crate::output::json(&view)?;
    } else {
        print_decision(&view);
    }
    if view.decision.allowed {
        Ok(())
    } else {
        Err(Denied {
            reference: view.reference,
        }
        .into())
    }
}

pub async fn decisions(g: &GlobalArgs, a: DecisionsArgs) -> anyhow::Result<()> {
    let client = g.client()?;
    let views: Vec<DecisionView> = client
        .get_json(&format!(
            "/api/v1/decisions?{}&limit={}",
            query_ref(&a.reference),
            a.limit
        ))
        .await?;
    if g.json {
        return crate::output::json(&views);
    }
    if views.is_empty() {
        println!("no decisions recorded about {}", a.reference);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            vec![
                v.id.to_string(),
                v.decided_at.clone(),
                v.action.to_string(),
                if v.environment.is_empty() {
                    "-".into()
                } else {
                    v.environment.clone()
                },
                v.decision.decision.clone(),
                v.decision.deny.len().to_string(),
                v.decision.warn.len().to_string(),
                v.decided_by.clone(),
                v.log_index
                    .map_or_else(|| "pending".into(), |i| i.to_string()),
            ]
        })
        .collect();
    crate::output::table(
        &[
            "ID", "DECIDED", "ACTION", "ENV", "VERDICT", "DENIES", "WARNINGS", "BY", "LOG",
        ],
        &rows,
    );
    Ok(())
}

pub async fn input(g: &GlobalArgs, a: InputArgs) -> anyhow::Result<()> {
    let client = g.client()?;
    let t = a.target.target();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("ref", &a.reference)
        .append_pair("action", a.action.as_str());
    for (k, v) in [
        ("env", &t.environment),
        ("cluster", &t.cluster),
        ("k8s_namespace", &t.kubernetes_namespace),
        ("alias", &t.alias),
    ] {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    let input: PolicyInput = client
        .get_json(&format!("/api/v1/policy/input?{}", q.finish()))
        .await?;
    crate::output::json(&input)
}

/// The verdict and every reason, for people.
pub fn print_decision(v: &DecisionView) {
    let d = &v.decision;
    println!(
        "{} {} of {}{}",
        if d.allowed { "ALLOW" } else { "DENY" },
        v.action,
        v.reference,
        if v.environment.is_empty() {
            String::new()
        } else {
            format!(" to {}", v.environment)
        }
    );
    for m in &d.deny {
        println!("  deny    {}: {}", m.policy, m.message);
    }
    for m in &d.warn {
        println!("  warn    {}: {}", m.policy, m.message);
    }
    for m in &d.dry_run {
        println!("  dry-run {}: {}", m.policy, m.message);
    }
    for e in &d.exceptions {
        println!(
            "  exception {} {} (until {}): {}",
            e.policy, e.id, e.expires, e.justification
        );
    }
    println!(
        "  policy set {}, input {}, decision {}{}",
        d.policy_set.as_deref().unwrap_or("(none configured)"),
        d.input_digest,
        v.id,
        if v.cached { " (cached)" } else { "" }
    );
}
