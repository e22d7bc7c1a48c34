//! Claims to identity: rule matching (exact or `*` globs), principal names
//! derived from well-known CI and cluster claims, name templates.

use serde_json::{Map, Value};

use crate::config::Rule;
use crate::error::OidcError;

/// The issuer of GitHub Actions tokens (GitHub Enterprise Cloud with a
/// custom issuer appends `/<enterprise>`).
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The text of a scalar claim: a string as it is, a number or boolean as
/// JSON writes it; `None` for a missing, null, array or object claim.
pub(crate) fn claim_text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<ClaimText<'a>> {
    match claims.get(name)? {
        Value::String(s) => Some(ClaimText::Borrowed(s)),
        Value::Bool(b) => Some(ClaimText::Owned(b.to_string())),
        Value::Number(n) => Some(ClaimText::Owned(n.to_string())),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A claim's text, borrowed when it is a string.
pub(crate) enum ClaimText<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl std::ops::Deref for ClaimText<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Self::Borrowed(s) => s,
            Self::Owned(s) => s,
        }
    }
}

/// Whether `text` matches `pattern`: exactly, or with each `*` standing for
/// any run of characters (`/` included, the empty run too). There is no
/// escape: a pattern cannot match a literal `*` other than by `*` itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let mut parts = pattern.split('*');
    // split always yields at least one part.
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = parts.collect();
    // The last part anchors at the end.
    let last = parts.pop().unwrap_or_default();
    for part in parts {
        match rest.find(part) {
            // Leftmost match is optimal for patterns with only `*`.
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Whether every claim `rule` lists matches.
pub(crate) fn rule_matches(rule: &Rule, claims: &Map<String, Value>) -> bool {
    rule.claims.iter().all(|(name, pattern)| {
        claim_text(claims, name).is_some_and(|value| glob_match(pattern, &value))
    })
}

/// One piece of a name template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Claim(&'a str),
}

/// A rule's `name`: text with `{claim}` placeholders; `{{` and `}}` stand
/// for literal braces.
pub(crate) struct NameTemplate<'a> {
    pieces: Vec<Piece<'a>>,
}

impl<'a> NameTemplate<'a> {
    pub(crate) fn parse(template: &'a str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("{{") {
                pieces.push(Piece::Text("{"));
                rest = after;
            } else if let Some(after) = rest.strip_prefix("}}") {
                pieces.push(Piece::Text("}"));
                rest = after;
            } else if let Some(after) = rest.strip_prefix('{') {
                let Some(end) = after.find('}') else {
                    return Err(format!("unclosed `{{` in {template:?}"));
                };
                let name = &after[..end];
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                {
                    return Err(format!(
                        "{{{name}}} in {template:?} is no claim name (letters, digits, _ - .)"
                    ));
                }
                pieces.push(Piece::Claim(name));
                rest = &after[end + 1..];
            } else if rest.starts_with('}') {
                return Err(format!("unopened `}}` in {template:?} (write `}}}}`)"));
            } else {
                let end = rest.find(['{', '}']).unwrap_or(rest.len());
                pieces.push(Piece::Text(&rest[..end]));
                rest = &rest[end..];
            }
        }
        if pieces.is_empty() {
            return Err("the template is empty".to_owned());
        }
        Ok(Self { pieces })
    }

    /// The name for `claims`; `Err(claim)` names a placeholder the token
    /// lacks.
    fn render(&self, claims: &Map<String, Value>) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Claim(c) => match claim_text(claims, c) {
                    Some(v) => out.push_str(&v),
                    None => return Err((*c).to_owned()),
                },
            }
        }
        Ok(out)
    }
}

/// The principal name of a workload: the rule's template when it has one,
/// else derived from the token's claims (see [`derived_name`]).
pub(crate) fn principal_name(
    rule_index: usize,
    rule: &Rule,
    issuer: &str,
    subject: &str,
    claims: &Map<String, Value>,
) -> Result<String, OidcError> {
    let Some(template) = &rule.name else {
        return Ok(derived_name(issuer, subject, claims));
    };
    // Validated when the configuration was; an error here is one anyway.
    let parsed = NameTemplate::parse(template)
        .map_err(|e| OidcError::config(format!("rule {rule_index}: name template: {e}")))?;
    parsed
        .render(claims)
        .map_err(|claim| OidcError::NameClaimMissing {
            rule: rule_index,
            claim,
            issuer: issuer.to_owned(),
        })
}

/// The name the principal gets from the token's claims:
///
/// - GitHub Actions (`iss` is [`GITHUB_ISSUER`], or it with an enterprise
///   suffix): `github:{repository}:{workflow path}@{ref}`, the path taken
///   from `workflow_ref` (the workflow the run started from, always in
///   `repository`), else from `job_workflow_ref` when that is in
///   `repository`; without either, `github:{repository}@{ref}`.
/// - GitLab CI (claims `project_path` and `ref`):
///   `gitlab:{project_path}@{ref}`, the ref qualified as `refs/heads/…` or
///   `refs/tags/…` when `ref_type` is `branch` or `tag` (a branch and a tag
///   of one name are different workloads).
/// - Kubernetes (`sub` is `system:serviceaccount:NS:NAME`):
///   `k8s:{NS}/{NAME}@{issuer without https://}`: every cluster has a
///   `default/default`, so the cluster's issuer is part of the name.
/// - Otherwise `oidc:{iss}#{sub}`.
pub fn derived_name(issuer: &str, subject: &str, claims: &Map<String, Value>) -> String {
    let text = |name: &str| match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    };
    let github_issuer = issuer == GITHUB_ISSUER
        || issuer
            .strip_prefix(GITHUB_ISSUER)
            .is_some_and(|rest| rest.starts_with('/'));
    if github_issuer && let (Some(repo), Some(git_ref)) = (text("repository"), text("ref")) {
        let in_repo = |workflow_ref: &str| -> Option<String> {
            let path = workflow_ref.strip_prefix(repo)?.strip_prefix('/')?;
            let path = path.rsplit_once('@').map_or(path, |(p, _)| p);
            (!path.is_empty()).then(|| path.to_owned())
        };
        let path = text("workflow_ref")
            .and_then(in_repo)
            .or_else(|| text("job_workflow_ref").and_then(in_repo));
        return match path {
            Some(path) => format!("github:{repo}:{path}@{git_ref}"),
            None => format!("github:{repo}@{git_ref}"),
        };
    }
    if let (Some(project), Some(git_ref)) = (text("project_path"), text("ref")) {
        let qualified = match text("ref_type") {
            Some("branch") if !git_ref.starts_with("refs/") => format!("refs/heads/{git_ref}"),
            Some("tag") if !git_ref.starts_with("refs/") => format!("refs/tags/{git_ref}"),
            _ => git_ref.to_owned(),
        };
        return format!("gitlab:{project}@{qualified}");
    }
    if let Some(rest) = subject.strip_prefix("system:serviceaccount:")
        && let Some((ns, name)) = rest.split_once(':')
        && !ns.is_empty()
        && !name.is_empty()
        && !name.contains(':')
    {
        let cluster = issuer
            .strip_prefix("https://")
            .unwrap_or(issuer)
            .trim_end_matches('/');
        return format!("k8s:{ns}/{name}@{cluster}");
    }
    format!("oidc:{issuer}#{subject}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("a/b", "a/b"));
        assert!(!glob_match("a/b", "a/bc"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "any/thing"));
        assert!(glob_match(
            "acme/train/.github/workflows/*.yml@refs/heads/main",
            "acme/train/.github/workflows/nightly/train.yml@refs/heads/main"
        ));
        assert!(!glob_match(
            "acme/train/.github/workflows/*.yml@refs/heads/main",
            "acme/train/.github/workflows/train.yml@refs/heads/mainx"
        ));
        assert!(glob_match("refs/tags/v*", "refs/tags/v1.2"));
        assert!(!glob_match("refs/tags/v*", "refs/heads/v1"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(glob_match("a*b*c", "a-b-b-c"));
        assert!(!glob_match("a*b*c", "a-c"));
        // Prefix and suffix must not overlap.
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("*.yml", ".yml"));
        assert!(glob_match("**", "x"));
    }

    #[test]
    fn github_names() {
        let c = map(json!({
            "repository": "org/repo",
            "ref": "refs/heads/main",
            "workflow_ref": "org/repo/.github/workflows/train.yml@refs/heads/main",
            "job_workflow_ref": "org/shared/.github/workflows/build.yml@refs/tags/v1",
        }));
        assert_eq!(
            derived_name(GITHUB_ISSUER, "repo:org/repo:ref:refs/heads/main", &c),
            "github:org/repo:.github/workflows/train.yml@refs/heads/main"
        );
        // Without workflow_ref, job_workflow_ref in another repository is
        // not taken for a path in this one.
        let mut c2 = c.clone();
        c2.remove("workflow_ref");
        assert_eq!(
            derived_name(GITHUB_ISSUER, "s", &c2),
            "github:org/repo@refs/heads/main"
        );
        c2.insert(
            "job_workflow_ref".into(),
            json!("org/repo/.github/workflows/reuse.yml@refs/heads/main"),
        );
        assert_eq!(
            derived_name(&format!("{GITHUB_ISSUER}/acme"), "s", &c2),
            "github:org/repo:.github/workflows/reuse.yml@refs/heads/main"
        );
        // Another issuer with GitHub-like claims is not GitHub.
        assert_eq!(
            derived_name("https://token.actions.githubusercontent.com.evil", "s", &c),
            "oidc:https://token.actions.githubusercontent.com.evil#s"
        );
    }

    #[test]
    fn gitlab_and_k8s_and_generic_names() {
        let c = map(json!({"project_path": "grp/proj", "ref": "main", "ref_type": "branch"}));
        assert_eq!(
            derived_name(
                "https://gitlab.com",
                "project_path:grp/proj:ref_type:branch:ref:main",
                &c
            ),
            "gitlab:grp/proj@refs/heads/main"
        );
        let c = map(json!({"project_path": "grp/proj", "ref": "v1", "ref_type": "tag"}));
        assert_eq!(
            derived_name("https://gitlab.com", "s", &c),
            "gitlab:grp/proj@refs/tags/v1"
        );
        let c = map(json!({}));
        assert_eq!(
            derived_name(
                "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
                "system:serviceaccount:ml:trainer",
                &c
            ),
            "k8s:ml/trainer@oidc.eks.eu-west-1.amazonaws.com/id/ABC"
        );
        assert_eq!(
            derived_name("https://issuer", "system:serviceaccount:ml", &c),
            "oidc:https://issuer#system:serviceaccount:ml"
        );
        assert_eq!(
            derived_name("https://issuer", "user-7", &c),
            "oidc:https://issuer#user-7"
        );
    }

    #[test]
    fn templates() {
        let c = map(json!({"repository": "org/repo", "run_attempt": 2, "list": ["x"]}));
        let t = NameTemplate::parse("ci:{repository}#{run_attempt} {{x}}").unwrap();
        assert_eq!(t.render(&c).unwrap(), "ci:org/repo#2 {x}");
        assert_eq!(
            NameTemplate::parse("{list}").unwrap().render(&c),
            Err("list".to_owned())
        );
        assert_eq!(
            NameTemplate::parse("{absent}").unwrap().render(&c),
            Err("absent".to_owned())
        );
        assert!(NameTemplate::parse("ci:{repository").is_err());
        assert!(NameTemplate::parse("ci:}").is_err());
        assert!(NameTemplate::parse("{}").is_err());
        assert!(NameTemplate::parse("{a b}").is_err());
        assert!(NameTemplate::parse("").is_err());
    }
}
