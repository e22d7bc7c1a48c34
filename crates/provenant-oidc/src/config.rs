//! What the server trusts: issuers (from repeated `--oidc-*` flags), the
//! mapping rules (from a rules file), the allowed clock skew.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use provenant_api::Grant;
use serde::Deserialize;

use crate::error::OidcError;
use crate::mapping::NameTemplate;

/// Default allowed clock skew for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The largest clock skew a configuration may allow.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// Default shortest time between two fetches of one issuer's JWKS.
pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Default age after which an issuer's cached JWKS is fetched again (so a
/// key the issuer withdrew stops verifying).
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(3600);

/// Where an issuer's signing keys come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum JwksSource {
    /// `{issuer}/.well-known/openid-configuration`, then its `jwks_uri`.
    #[default]
    Discover,
    /// A JWKS file on disk (offline installs, tests); read at start and
    /// again when a token names an unknown key and the file has changed.
    File(PathBuf),
    /// A JWKS URL (https; http only to 127.0.0.1, ::1 or localhost).
    Url(String),
}

impl JwksSource {
    /// A `--oidc-jwks` value: `http(s)://…` is a URL, `discover` asks for
    /// discovery, anything else is a file path.
    pub fn from_flag(value: &str) -> Self {
        if value.starts_with("https://") || value.starts_with("http://") {
            Self::Url(value.to_owned())
        } else if value == "discover" {
            Self::Discover
        } else {
            Self::File(PathBuf::from(value))
        }
    }
}

/// One trusted issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerConfig {
    /// Exactly the `iss` its tokens carry, e.g.
    /// `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// Accepted `aud` values; a token must name at least one.
    pub audiences: Vec<String>,
    pub jwks: JwksSource,
}

/// A mapping rule: tokens of `issuer` whose claims match `claims` act as
/// `service_account` with `grants`. The first matching rule (in file order)
/// applies.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The issuer (as configured) whose tokens the rule maps.
    pub issuer: String,
    /// Claim name → pattern. A pattern matches a string claim (or the text of
    /// a number or boolean claim) exactly, or as a glob where `*` matches any
    /// run of characters, `/` included. Every listed claim must match; a
    /// rule lists at least one.
    #[serde(deserialize_with = "scalar_map")]
    pub claims: BTreeMap<String, String>,
    /// The service account the workload acts as.
    pub service_account: String,
    /// Roles the workload holds while it acts as that account.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// A principal-name template with `{claim}` placeholders, replacing the
    /// derived name (see [`crate::Workload::principal`]).
    #[serde(default)]
    pub name: Option<String>,
}

/// Everything a [`crate::Verifier`] needs.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    pub issuers: Vec<IssuerConfig>,
    pub rules: Vec<Rule>,
    /// Allowed clock skew for `exp`, `nbf` and `iat`: at most [`MAX_LEEWAY`].
    pub leeway: Duration,
    /// Shortest time between two fetches of one issuer's JWKS when tokens
    /// name unknown keys.
    pub jwks_refetch_interval: Duration,
    /// Age after which a fetched JWKS is fetched again before use (kept, if
    /// the fetch fails).
    pub jwks_max_age: Duration,
}

/// The rules file: `rules:` and optionally `leeway_seconds:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<Rule>,
    #[serde(default)]
    leeway_seconds: Option<u64>,
}

/// A claim pattern may be written as a string, a number or a boolean (YAML
/// `ref_protected: true`); all are kept as text.
fn scalar_map<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Bool(bool),
        Int(i64),
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(de)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Scalar::Text(s) => s,
                Scalar::Bool(b) => b.to_string(),
                Scalar::Int(i) => i.to_string(),
            };
            (k, v)
        })
        .collect())
}

impl OidcConfig {
    /// A configuration of `issuers` and `rules` with the default leeway and
    /// JWKS intervals.
    pub fn new(issuers: Vec<IssuerConfig>, rules: Vec<Rule>) -> Self {
        Self {
            issuers,
            rules,
            leeway: DEFAULT_LEEWAY,
            jwks_refetch_interval: DEFAULT_REFETCH_INTERVAL,
            jwks_max_age: DEFAULT_JWKS_MAX_AGE,
        }
    }

    /// From `serve`'s repeated flags, paired by position: the n-th
    /// `--oidc-audience` and `--oidc-jwks` go with the n-th `--oidc-issuer`.
    ///
    /// - `audiences`: one per issuer, or a single one for all; a value may
    ///   list several audiences separated by commas.
    /// - `jwks`: none (every issuer by discovery) or one per issuer; a value
    ///   starting with `http://` or `https://` is a URL, `discover` asks for
    ///   discovery, anything else is a file.
    /// - `rules_file`: YAML, or JSON when it ends in `.json`; required.
    pub fn from_flags(
        issuers: &[String],
        audiences: &[String],
        jwks: &[String],
        rules_file: Option<&Path>,
    ) -> Result<Self, OidcError> {
        let n = issuers.len();
        if n == 0 {
            return Err(OidcError::config(
                "no --oidc-issuer given: name at least one trusted issuer",
            ));
        }
        if !(audiences.len() == n || audiences.len() == 1) {
            return Err(OidcError::FlagCount {
                flag: "oidc-audience",
                given: audiences.len(),
                issuers: n,
                hint: "give one per issuer, in the same order, or one for all",
            });
        }
        if !(jwks.is_empty() || jwks.len() == n) {
            return Err(OidcError::FlagCount {
                flag: "oidc-jwks",
                given: jwks.len(),
                issuers: n,
                hint: "give none (discovery for all) or one per issuer, in the same order \
                       (`discover` for an issuer that needs none)",
            });
        }
        let Some(rules_file) = rules_file else {
            return Err(OidcError::config(
                "--oidc-issuer needs a rules file (--oidc-rules) mapping tokens to service accounts",
            ));
        };
        let issuers = issuers
            .iter()
            .enumerate()
            .map(|(i, issuer)| {
                let aud = if audiences.len() == 1 {
                    &audiences[0]
                } else {
                    &audiences[i]
                };
                IssuerConfig {
                    issuer: issuer.clone(),
                    audiences: aud
                        .split(',')
                        .map(str::trim)
                        .filter(|a| !a.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    jwks: jwks
                        .get(i)
                        .map(|j| JwksSource::from_flag(j))
                        .unwrap_or_default(),
                }
            })
            .collect();
        let mut config = Self::new(issuers, Vec::new());
        config.load_rules_file(rules_file)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads `path` (YAML, or JSON when it ends in `.json`) and takes its
    /// rules, and its `leeway_seconds` when given.
    pub fn load_rules_file(&mut self, path: &Path) -> Result<(), OidcError> {
        let file_error = |reason: String| OidcError::RulesFile {
            path: path.to_owned(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| file_error(format!("cannot read: {e}")))?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let parsed: RulesFile = if is_json {
            let mut de = serde_json::Deserializer::from_slice(&bytes);
            serde_path_to_error::deserialize(&mut de)
                .map_err(|e| file_error(format!("at `{}`: {}", e.path(), e.inner())))?
        } else {
            let de = serde_norway::Deserializer::from_slice(&bytes);
            serde_path_to_error::deserialize(de)
                .map_err(|e| file_error(format!("at `{}`: {}", e.path(), e.inner())))?
        };
        self.rules = parsed.rules;
        if let Some(secs) = parsed.leeway_seconds {
            self.leeway = Duration::from_secs(secs);
        }
        Ok(())
    }

    /// Checks what a verifier relies on: at least one issuer and one rule,
    /// issuer and JWKS URLs that are https (http only to this machine),
    /// audiences, the leeway bound, and rules that name a configured issuer,
    /// at least one claim, a service account and a well-formed name template.
    pub fn validate(&self) -> Result<(), OidcError> {
        if self.leeway > MAX_LEEWAY {
            return Err(OidcError::config(format!(
                "leeway of {} s is over the maximum of {} s",
                self.leeway.as_secs(),
                MAX_LEEWAY.as_secs()
            )));
        }
        if self.issuers.is_empty() {
            return Err(OidcError::config("no issuer configured"));
        }
        let mut seen = BTreeSet::new();
        for iss in &self.issuers {
            check_url(&iss.issuer, &format!("issuer {:?}", iss.issuer))?;
            if !seen.insert(iss.issuer.as_str()) {
                return Err(OidcError::config(format!(
                    "issuer {} is configured twice",
                    iss.issuer
                )));
            }
            if iss.audiences.is_empty() || iss.audiences.iter().any(|a| a.trim().is_empty()) {
                return Err(OidcError::config(format!(
                    "issuer {} needs at least one non-empty audience (--oidc-audience)",
                    iss.issuer
                )));
            }
            if let JwksSource::Url(url) = &iss.jwks {
                check_url(url, &format!("JWKS URL of issuer {}", iss.issuer))?;
            }
        }
        if self.rules.is_empty() {
            return Err(OidcError::config(
                "no mapping rules: every identity token would be refused",
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |what: String| OidcError::config(format!("rule {i}: {what}"));
            if !seen.contains(rule.issuer.as_str()) {
                return Err(at(format!(
                    "issuer {:?} is not a configured issuer",
                    rule.issuer
                )));
            }
            if rule.claims.is_empty() {
                return Err(at(
                    "lists no claims: a rule must match at least one claim".to_owned()
                ));
            }
            if let Some(empty) = rule.claims.keys().find(|k| k.is_empty()) {
                return Err(at(format!("claim name {empty:?} is empty")));
            }
            if rule.service_account.trim().is_empty() {
                return Err(at("service_account is empty".to_owned()));
            }
            if let Some(g) = rule.grants.iter().find(|g| g.namespace.trim().is_empty()) {
                return Err(at(format!("a grant of role {} names no namespace", g.role)));
            }
            if let Some(name) = &rule.name {
                NameTemplate::parse(name).map_err(|e| at(format!("name template: {e}")))?;
            }
        }
        Ok(())
    }
}

/// Whether `url` may be fetched from: https anywhere, plain http only to
/// this machine (tests serve JWKS locally).
pub(crate) fn url_allowed(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn check_url(raw: &str, what: &str) -> Result<(), OidcError> {
    let url =
        url::Url::parse(raw).map_err(|e| OidcError::config(format!("{what} is not a URL: {e}")))?;
    if !url_allowed(&url) {
        return Err(OidcError::config(format!(
            "{what} must be https (plain http only to localhost)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use provenant_api::NamespaceRole;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const GH: &str = "https://token.actions.githubusercontent.com";

    const RULES: &str = r#"
leeway_seconds: 30
rules:
  - issuer: https://token.actions.githubusercontent.com
    claims: { repository: acme/train, ref: refs/heads/main, workflow_ref: "acme/train/.github/workflows/*.yml@refs/heads/main", run_attempt: 1, ref_protected: true }
    service_account: ci-train
    grants: [ { namespace: aiops, role: publisher } ]
"#;

    #[test]
    fn flags_pair_by_position() {
        let dir = tempfile::tempdir().unwrap();
        let rules = write(&dir, "rules.yaml", RULES);
        let c = OidcConfig::from_flags(
            &[GH.into(), "https://gitlab.example.com".into()],
            &["provenant".into(), "a, b".into()],
            &["discover".into(), "/etc/jwks.json".into()],
            Some(&rules),
        )
        .unwrap();
        assert_eq!(c.issuers[0].jwks, JwksSource::Discover);
        assert_eq!(c.issuers[0].audiences, ["provenant"]);
        assert_eq!(
            c.issuers[1].jwks,
            JwksSource::File(PathBuf::from("/etc/jwks.json"))
        );
        assert_eq!(c.issuers[1].audiences, ["a", "b"]);
        assert_eq!(c.leeway, Duration::from_secs(30));
        let rule = &c.rules[0];
        assert_eq!(rule.service_account, "ci-train");
        assert_eq!(rule.claims["run_attempt"], "1");
        assert_eq!(rule.claims["ref_protected"], "true");
        assert_eq!(
            rule.grants,
            [Grant {
                namespace: "aiops".into(),
                role: NamespaceRole::Publisher
            }]
        );

        // One audience serves every issuer; no --oidc-jwks: discovery.
        let c = OidcConfig::from_flags(
            &[GH.into(), "https://gitlab.example.com".into()],
            &["provenant".into()],
            &[],
            Some(&rules),
        )
        .unwrap();
        assert_eq!(c.issuers[1].audiences, ["provenant"]);
        assert_eq!(c.issuers[1].jwks, JwksSource::Discover);
        assert_eq!(
            JwksSource::from_flag("http://127.0.0.1:1/k"),
            JwksSource::Url("http://127.0.0.1:1/k".into())
        );
    }

    #[test]
    fn mismatched_flag_counts_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let rules = write(&dir, "rules.yaml", RULES);
        let two = [GH.to_owned(), "https://gitlab.example.com".to_owned()];
        let err = OidcConfig::from_flags(
            &two,
            &["a".into(), "b".into(), "c".into()],
            &[],
            Some(&rules),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                OidcError::FlagCount {
                    flag: "oidc-audience",
                    given: 3,
                    issuers: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("one per issuer"), "{err}");
        let err = OidcConfig::from_flags(&two, &["a".into()], &["x.json".into()], Some(&rules))
            .unwrap_err();
        assert!(
            matches!(
                err,
                OidcError::FlagCount {
                    flag: "oidc-jwks",
                    given: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = OidcConfig::from_flags(&two, &["a".into()], &[], None).unwrap_err();
        assert!(err.to_string().contains("rules file"), "{err}");
        let err = OidcConfig::from_flags(&[], &[], &[], Some(&rules)).unwrap_err();
        assert!(err.to_string().contains("no --oidc-issuer"), "{err}");
    }

    #[test]
    fn rules_file_errors_name_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(
            &dir,
            "rules.yaml",
            "rules:\n  - issuer: https://i\n    claims: {sub: x}\n    service_acount: ci\n",
        );
        let err = OidcConfig::from_flags(&[GH.into()], &["a".into()], &[], Some(&bad)).unwrap_err();
        let OidcError::RulesFile { path, reason } = &err else {
            panic!("{err}")
        };
        assert_eq!(path, &bad);
        assert!(reason.contains("rules[0]"), "{reason}");
        assert!(reason.contains("service_acount"), "{reason}");

        let bad_json = write(
            &dir,
            "rules.json",
            r#"{"rules": [{"issuer": "x", "claims": {"sub": "a"}, "service_account": "s", "grants": [{"namespace": "n", "role": "owner"}]}]}"#,
        );
        let err =
            OidcConfig::from_flags(&[GH.into()], &["a".into()], &[], Some(&bad_json)).unwrap_err();
        let OidcError::RulesFile { reason, .. } = &err else {
            panic!("{err}")
        };
        assert!(reason.contains("rules[0].grants[0].role"), "{reason}");

        let missing = dir.path().join("absent.yaml");
        let err =
            OidcConfig::from_flags(&[GH.into()], &["a".into()], &[], Some(&missing)).unwrap_err();
        assert!(matches!(err, OidcError::RulesFile { .. }), "{err}");
    }

    fn rule(issuer: &str) -> Rule {
        Rule {
            issuer: issuer.into(),
            claims: [("sub".to_owned(), "x".to_owned())].into(),
            service_account: "ci".into(),
            grants: vec![],
            name: None,
        }
    }

    fn issuer(url: &str) -> IssuerConfig {
        IssuerConfig {
            issuer: url.into(),
            audiences: vec!["a".into()],
            jwks: JwksSource::Discover,
        }
    }

    #[test]
    fn validation_refuses_unsafe_or_useless_configs() {
        let ok = OidcConfig::new(vec![issuer(GH)], vec![rule(GH)]);
        ok.validate().unwrap();

        let mut c = ok.clone();
        c.leeway = Duration::from_secs(301);
        assert!(c.validate().unwrap_err().to_string().contains("leeway"));
        c.leeway = MAX_LEEWAY;
        c.validate().unwrap();

        let c = OidcConfig::new(vec![issuer("http://issuer.example")], vec![]);
        assert!(c.validate().unwrap_err().to_string().contains("https"));
        let c = OidcConfig::new(
            vec![issuer("http://127.0.0.1:8080")],
            vec![rule("http://127.0.0.1:8080")],
        );
        c.validate().unwrap();
        let c = OidcConfig::new(
            vec![IssuerConfig {
                jwks: JwksSource::Url("http://keys.example/jwks".into()),
                ..issuer(GH)
            }],
            vec![rule(GH)],
        );
        assert!(c.validate().unwrap_err().to_string().contains("JWKS URL"));

        let c = OidcConfig::new(vec![issuer(GH), issuer(GH)], vec![rule(GH)]);
        assert!(c.validate().unwrap_err().to_string().contains("twice"));
        let c = OidcConfig::new(
            vec![IssuerConfig {
                audiences: vec![],
                ..issuer(GH)
            }],
            vec![rule(GH)],
        );
        assert!(c.validate().unwrap_err().to_string().contains("audience"));

        let c = OidcConfig::new(vec![issuer(GH)], vec![]);
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("no mapping rules")
        );
        let c = OidcConfig::new(vec![issuer(GH)], vec![rule("https://other")]);
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("rule 0: issuer")
        );
        let c = OidcConfig::new(
            vec![issuer(GH)],
            vec![Rule {
                claims: BTreeMap::new(),
                ..rule(GH)
            }],
        );
        assert!(c.validate().unwrap_err().to_string().contains("no claims"));
        let c = OidcConfig::new(
            vec![issuer(GH)],
            vec![Rule {
                name: Some("ci:{repository".into()),
                ..rule(GH)
            }],
        );
        assert!(c.validate().unwrap_err().to_string().contains("template"));
    }
}
