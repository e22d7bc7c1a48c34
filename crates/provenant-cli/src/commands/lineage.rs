use provenant_api::{LineageEdgeView, LineageView};
use std::collections::{BTreeMap, BTreeSet};

use crate::GlobalArgs;

/// Show a version's lineage: upstream (datasets, commits, images, parent
/// versions and their inputs) and downstream (versions fine-tuned from it)
/// as a tree, or as JSON or Graphviz DOT.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Version reference: ns/name:7, ns/name@sha256:…, ns/name#alias or ns/name (latest)
    pub reference: String,
    /// Graphviz DOT output (`dot -Tsvg`)
    #[arg(long, conflicts_with = "json")]
    pub dot: bool,
}

fn short(s: &str) -> &str {
    // sha256: + 12 hex digits, or 12 digits of a commit
    let n = if s.starts_with("sha256:") { 19 } else { 12 };
    s.get(..n).unwrap_or(s)
}

fn label(e: &LineageEdgeView) -> String {
    let uri = if e.uri.is_empty() || e.kind == provenant_api::LineageEdgeKind::Parent {
        String::new()
    } else {
        format!(" ({})", e.uri)
    };
    match e.kind {
        provenant_api::LineageEdgeKind::Parent => format!("parent {}", e.input),
        k => format!("{k} {}{uri}", e.input),
    }
}

fn upstream_tree(
    out: &mut Vec<String>,
    by_version: &BTreeMap<&str, Vec<&LineageEdgeView>>,
    version: &str,
    prefix: &str,
    seen: &mut BTreeSet<String>,
) {
    let Some(edges) = by_version.get(version) else {
        return;
    };
    if !seen.insert(version.to_owned()) {
        return;
    }
    for (i, e) in edges.iter().enumerate() {
        let last = i + 1 == edges.len();
        out.push(format!(
            "{prefix}{}{}",
            if last { "└── " } else { "├── " },
            label(e)
        ));
        if e.kind == provenant_api::LineageEdgeKind::Parent {
            let p = format!("{prefix}{}", if last { "    " } else { "│   " });
            upstream_tree(out, by_version, &e.input, &p, seen);
        }
    }
}

fn downstream_tree(
    out: &mut Vec<String>,
    children: &BTreeMap<&str, Vec<&str>>,
    version: &str,
    prefix: &str,
    seen: &mut BTreeSet<String>,
) {
    let Some(kids) = children.get(version) else {
        return;
    };
    if !seen.insert(version.to_owned()) {
        return;
    }
    for (i, k) in kids.iter().enumerate() {
        let last = i + 1 == kids.len();
        out.push(format!("{prefix}{}{k}", if last { "└── " } else { "├── " }));
        let p = format!("{prefix}{}", if last { "    " } else { "│   " });
        downstream_tree(out, children, k, &p, seen);
    }
}

/// The text tree.
pub fn render_tree(l: &LineageView) -> String {
    let mut by_version: BTreeMap<&str, Vec<&LineageEdgeView>> = BTreeMap::new();
    for e in &l.upstream {
        by_version.entry(e.version.as_str()).or_default().push(e);
    }
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in &l.downstream {
        children
            .entry(e.input.as_str())
            .or_default()
            .push(e.version.as_str());
    }
    let mut out = vec![format!(
        "{} ({})",
        l.version,
        crate::output::short_digest(&l.digest)
    )];
    out.push("├── upstream".into());
    let mut up = Vec::new();
    upstream_tree(
        &mut up,
        &by_version,
        &l.version,
        "│   ",
        &mut BTreeSet::new(),
    );
    if up.is_empty() {
        up.push("│   └── (no provenance recorded)".into());
    }
    out.extend(up);
    out.push("└── downstream".into());
    let mut down = Vec::new();
    downstream_tree(
        &mut down,
        &children,
        &l.version,
        "    ",
        &mut BTreeSet::new(),
    );
    if down.is_empty() {
        down.push("    └── (none)".into());
    }
    out.extend(down);
    out.join("\n")
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz DOT: versions as boxes, inputs as ellipses, arrows from input to user.
pub fn render_dot(l: &LineageView) -> String {
    let mut nodes = BTreeSet::new();
    let mut edges = BTreeSet::new();
    nodes.insert(format!("  {} [shape=box, style=bold];", dot_id(&l.version)));
    for e in l.upstream.iter().chain(&l.downstream) {
        nodes.insert(format!("  {} [shape=box];", dot_id(&e.version)));
        if e.kind == provenant_api::LineageEdgeKind::Parent {
            nodes.insert(format!("  {} [shape=box];", dot_id(&e.input)));
            edges.insert(format!(
                "  {} -> {} [label=\"parent\"];",
                dot_id(&e.input),
                dot_id(&e.version)
            ));
        } else {
            let id = format!("{}:{}", e.kind, e.input);
            let text = format!("{} {}", e.kind, short(&e.input));
            nodes.insert(format!(
                "  {} [shape=ellipse, label={}];",
                dot_id(&id),
                dot_id(&text)
            ));
            edges.insert(format!("  {} -> {};", dot_id(&id), dot_id(&e.version)));
        }
    }
    let mut s = String::from("digraph lineage {\n  rankdir=LR;\n");
    for n in nodes {
        s.push_str(&n);
        s.push('\n');
    }
    for e in edges {
        s.push_str(&e);
        s.push('\n');
    }
    s.push_str("}\n");
    s
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    let v = super::resolve(&client, &a.reference).await?;
    let l: LineageView = client
        .get_json(&format!("{}/lineage", super::version_path(&v)))
        .await?;
    if g.json {
        crate::output::json(&l)
    } else if a.dot {
        print!("{}", render_dot(&l));
        Ok(())
    } else {
        println!("{}", render_tree(&l));
        Ok(())
    }
}
