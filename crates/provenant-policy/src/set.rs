//! A compiled policy set and its evaluation.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use regorus::utils::limits::ExecutionTimerConfig;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::canonical::{canonical_json, input_digest, sha256_digest, sha256_hex};
use crate::decision::{DECISION_RULES, Decision, ModeOverrides, SET_POLICY};
use crate::input::validate_input;
use crate::signed::{SignedFiles, relative_inside};
use crate::source::{
    DataSource, ModuleSource, merge_data, parse_data, read_data_file, read_modules, read_text,
};
use crate::{Mode, PolicyError};
use crate::{PolicySigner, SignatureCheck};

/// Evaluation time limit of one decision unless configured otherwise.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_millis(250);

/// Work units between two clock reads of regorus's execution timer.
const TIMER_CHECK_INTERVAL: NonZeroU32 = NonZeroU32::MIN.saturating_add(15);

/// The first line of the listing the set digest is computed over.
const DIGEST_HEADER: &str = "provenant-policy-set/v1\n";

/// Where a policy set is loaded from, and how it evaluates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// The directory of `.rego` modules (searched recursively).
    pub dir: PathBuf,
    /// Data files (JSON, or YAML by `.yaml`/`.yml`), merged in order.
    pub data_files: Vec<PathBuf>,
    /// Mode overrides per policy package.
    pub modes: ModeOverrides,
    /// Evaluation time limit of one decision.
    pub time_limit: Duration,
}

impl PolicyConfig {
    /// A configuration of `dir` without data files or overrides, with the
    /// default time limit.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            data_files: Vec::new(),
            modes: ModeOverrides::new(),
            time_limit: DEFAULT_TIME_LIMIT,
        }
    }
}

/// One policy package of the set and the decision rules it declares.
#[derive(Clone, Debug)]
struct Policy {
    /// `provenant.signed`.
    name: String,
    /// Package components below `provenant` (`["signed"]`).
    below: Vec<String>,
    /// (rule name, rule path for the engine) of each declared decision rule.
    rules: Vec<(&'static str, String)>,
}

/// A compiled policy set: the non-test modules of a directory (or given in
/// memory), merged data and mode overrides. Cheap to share (`Send + Sync`,
/// evaluation takes `&self`): each evaluation works on a clone of the
/// prepared engine, whose modules and data are reference-counted.
#[derive(Clone)]
pub struct PolicySet {
    engine: regorus::Engine,
    modules: Vec<(String, String)>,
    policies: Vec<Policy>,
    libraries: Vec<String>,
    modes: ModeOverrides,
    digest: String,
    time_limit: Duration,
    signer: Option<PolicySigner>,
}

impl fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySet")
            .field("digest", &self.digest)
            .field("modules", &self.modules)
            .field("policies", &self.policies())
            .field("modes", &self.modes)
            .field("time_limit", &self.time_limit)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl PolicySet {
    /// Loads and compiles the policy set `config` describes.
    ///
    /// # Errors
    /// Reading the directory or a data file; a module that does not parse
    /// or compile ([`PolicyError::Compile`] with file and line); a data
    /// conflict; an invalid mode or mode override.
    pub fn load(config: &PolicyConfig) -> Result<Self, PolicyError> {
        Self::load_signed(config, None)
    }

    /// Loads and compiles the policy set `config` describes; with
    /// `signature`, only when it is signed as required.
    ///
    /// Each module and data file is read once; the signature is verified
    /// against its trust root and the SHA-256 of exactly the bytes read is
    /// compared with the signed manifest before those bytes are compiled
    /// (no time-of-check/time-of-use gap). Every decision module (not the
    /// `*_test.rego` tests) and every data file must be listed; data files
    /// must lie inside the signed directory. The signature does not change
    /// the set digest; [`PolicySet::signer`] tells who signed.
    ///
    /// # Errors
    /// As [`PolicySet::load`]; with a signature also
    /// [`PolicyError::Signature`], [`PolicyError::SignedManifest`],
    /// [`PolicyError::Unsigned`], [`PolicyError::SignedDigestMismatch`] and
    /// [`PolicyError::DataOutsideSignedDir`].
    pub fn load_signed(
        config: &PolicyConfig,
        signature: Option<&SignatureCheck>,
    ) -> Result<Self, PolicyError> {
        let signed = signature.map(SignedFiles::verify).transpose()?;
        let modules = read_modules(&config.dir)?;
        let mut data = Vec::with_capacity(config.data_files.len());
        for path in &config.data_files {
            if let Some(signed) = &signed {
                // Refused before it is even read.
                if relative_inside(&config.dir, path).is_none() {
                    return Err(PolicyError::DataOutsideSignedDir {
                        file: path.clone(),
                        dir: config.dir.clone(),
                    });
                }
                let text = read_text(path)?;
                signed.check_data(&config.dir, path, text.as_bytes())?;
                data.push(parse_data(path, &text)?);
            } else {
                data.push(read_data_file(path)?);
            }
        }
        if let Some(signed) = &signed {
            for m in modules.iter().filter(|m| !m.is_test()) {
                signed.check(&m.path, m.text.as_bytes())?;
            }
        }
        let mut set = Self::compile(&modules, &data, &config.modes, config.time_limit)?;
        set.signer = signed.map(SignedFiles::into_signer);
        Ok(set)
    }

    /// Who signed the set, when it was loaded with a required signature.
    pub fn signer(&self) -> Option<&PolicySigner> {
        self.signer.as_ref()
    }

    /// Compiles a policy set from modules in memory. Test modules
    /// (`*_test.rego`) among them are left out.
    ///
    /// # Errors
    /// As [`PolicySet::load`], without the reading.
    pub fn compile(
        modules: &[ModuleSource],
        data: &[DataSource],
        modes: &ModeOverrides,
        time_limit: Duration,
    ) -> Result<Self, PolicyError> {
        let mut modules: Vec<&ModuleSource> = modules.iter().filter(|m| !m.is_test()).collect();
        modules.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(w) = modules.windows(2).find(|w| w[0].path == w[1].path) {
            return Err(PolicyError::Module {
                path: w[0].path.clone(),
                message: "two modules have this path".into(),
            });
        }
        let merged = merge_data(data)?;
        let data_canonical = canonical_json(&merged, "data")?;

        let mut engine = new_engine(time_limit);
        engine
            .add_data(regorus::Value::from(merged))
            .map_err(|e| PolicyError::Data {
                file: "<merged data>".into(),
                reason: e.to_string(),
            })?;
        for m in &modules {
            engine
                .add_policy(m.path.clone(), m.text.clone())
                .map_err(|e| PolicyError::from_engine(&m.path, &e))?;
        }
        // A call to a function that does not exist is refused now, as OPA
        // refuses it, not at every decision.
        if let Some(e) = crate::calls::unknown_calls(&modules).into_iter().next() {
            return Err(e);
        }
        let (policies, libraries) = discover_policies(&engine)?;
        engine
            .add_policy(DECISION_MODULE_PATH.into(), decision_module(&policies))
            .map_err(|e| PolicyError::from_engine(DECISION_MODULE_PATH, &e))?;
        prepare(&mut engine)?;

        for package in modes.keys() {
            if !policies.iter().any(|p| &p.name == package) {
                return Err(PolicyError::ModeOverride {
                    text: package.clone(),
                    reason: "the set has no such policy package".into(),
                });
            }
        }
        check_modes(&engine, &policies)?;

        let mut listing = String::from(DIGEST_HEADER);
        let modules: Vec<(String, String)> = modules
            .iter()
            .map(|m| (m.path.clone(), sha256_hex(m.text.as_bytes())))
            .collect();
        for (path, hash) in &modules {
            listing.push_str(&format!("module {path} {hash}\n"));
        }
        listing.push_str(&format!("data {}\n", sha256_hex(data_canonical.as_bytes())));
        for (package, mode) in modes {
            listing.push_str(&format!("mode {package} {mode}\n"));
        }
        Ok(Self {
            engine,
            modules,
            policies,
            libraries,
            modes: modes.clone(),
            digest: sha256_digest(listing.as_bytes()),
            time_limit,
            signer: None,
        })
    }

    /// The set digest: `sha256:` over the canonical listing of modules,
    /// data and mode overrides.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The policy packages (`provenant.*`), sorted.
    pub fn policies(&self) -> Vec<&str> {
        self.policies.iter().map(|p| p.name.as_str()).collect()
    }

    /// The library packages (any other package), sorted.
    pub fn libraries(&self) -> &[String] {
        &self.libraries
    }

    /// (relative path, SHA-256 hex) of each decision module, sorted by path.
    pub fn modules(&self) -> &[(String, String)] {
        &self.modules
    }

    /// The mode overrides the set was compiled with.
    pub fn mode_overrides(&self) -> &ModeOverrides {
        &self.modes
    }

    /// The evaluation time limit of one decision.
    pub fn time_limit(&self) -> Duration {
        self.time_limit
    }

    /// Decides on `input` at time `now` (which decides whether exceptions
    /// have expired). Never fails: invalid input, a set without policy, a
    /// runtime error or the time limit are a deny saying why.
    pub fn evaluate(&self, input: &Value, now: OffsetDateTime) -> Decision {
        let digest = match input_digest(input) {
            Ok(d) => d,
            Err(e) => {
                let compact = serde_json::to_vec(input).unwrap_or_default();
                return Decision::fail_closed(
                    Some(&self.digest),
                    &sha256_digest(&compact),
                    SET_POLICY,
                    "invalid_input",
                    e.to_string(),
                );
            }
        };
        if let Err(e) = validate_input(input) {
            return Decision::fail_closed(
                Some(&self.digest),
                &digest,
                SET_POLICY,
                "invalid_input",
                format!("the input does not match the policy input schema (v1): {e}"),
            );
        }
        if self.policies.is_empty() {
            return Decision::fail_closed(
                Some(&self.digest),
                &digest,
                SET_POLICY,
                "no_policy",
                "the policy set has no policy (no module in a provenant.* package)",
            );
        }
        match self.raw(input) {
            Ok(raw) => Decision::from_raw(&raw, &self.digest, &digest, &self.modes, now),
            Err(PolicyError::Evaluation {
                policy,
                message,
                timeout,
            }) => Decision::fail_closed(
                Some(&self.digest),
                &digest,
                &policy,
                if timeout {
                    "timeout"
                } else {
                    "evaluation_error"
                },
                format!("evaluating {policy} failed: {message}"),
            ),
            Err(e) => Decision::fail_closed(
                Some(&self.digest),
                &digest,
                SET_POLICY,
                "evaluation_error",
                e.to_string(),
            ),
        }
    }

    /// The engine's raw `data.provenant` document for `input`, restricted
    /// to the decision rules (`deny`, `warn`, `exception`, `mode`) of each
    /// policy package, nested by package path, sets as arrays sorted by
    /// canonical JSON (see [`crate::normalize_raw`]). The input is not
    /// validated against the schema here.
    ///
    /// # Errors
    /// [`PolicyError::Evaluation`] naming the policy for a runtime error or
    /// when the time limit (shared by all policies) runs out.
    pub fn raw(&self, input: &Value) -> Result<Value, PolicyError> {
        let started = Instant::now();
        let mut engine = self.engine.clone();
        engine.set_input(regorus::Value::from(input.clone()));
        let fail = |message: String, timeout: bool| PolicyError::Evaluation {
            // A runtime error's message names the module and line.
            policy: SET_POLICY.to_owned(),
            message,
            timeout,
        };
        let value = engine.eval_rule(DECISION_RULE.into()).map_err(|e| {
            let text = e.to_string();
            if text.contains("exceeded time limit") || started.elapsed() >= self.time_limit {
                fail(self.timeout_message(), true)
            } else {
                fail(text.trim().to_owned(), false)
            }
        })?;
        let value = serde_json::to_value(&value)
            .map_err(|e| fail(format!("the result has no JSON form: {e}"), false))?;
        let mut raw = Map::new();
        for policy in &self.policies {
            for (rule, _) in &policy.rules {
                let found = if *rule == "mode" {
                    value["modes"].get(&policy.name)
                } else {
                    value["sets"][&policy.name].get(*rule)
                };
                if let Some(v) = found {
                    insert_rule(&mut raw, &policy.below, rule, v.clone());
                }
            }
        }
        Ok(crate::decision::normalize_raw(&Value::Object(raw)))
    }

    fn timeout_message(&self) -> String {
        format!(
            "evaluation exceeded the time limit of {} ms",
            self.time_limit.as_millis()
        )
    }
}

/// The path of the synthetic module that gathers every decision rule into
/// one document, so one evaluation shares the work of helper rules across
/// policies (it is not part of the set digest, and lies outside
/// `data.provenant`).
const DECISION_MODULE_PATH: &str = "<provenant decision>";

/// The rule of the synthetic module.
const DECISION_RULE: &str = "data.__provenant_decision.result";

/// The synthetic module: `result := {"sets": {"<pkg>": {"deny": …, "warn": …,
/// "exception": …}}, "modes": {"<pkg>": mode}}` (a mode that is undefined
/// leaves its key out).
fn decision_module(policies: &[Policy]) -> String {
    let mut sets = Vec::new();
    let mut modes = String::new();
    for p in policies {
        let rules: Vec<String> = p
            .rules
            .iter()
            .filter(|(rule, _)| *rule != "mode")
            .map(|(rule, path)| format!("{}: {path}", Value::String((*rule).to_owned())))
            .collect();
        let name = Value::String(p.name.clone());
        sets.push(format!("{name}: {{{}}}", rules.join(", ")));
        if let Some((_, path)) = p.rules.iter().find(|(rule, _)| *rule == "mode") {
            modes.push_str(&format!("modes[{name}] := {path}\n"));
        }
    }
    format!(
        "package __provenant_decision\n\nsets := {{{}}}\n\nmodes[\"\"] := null if false\n{modes}\nresult := {{\"sets\": sets, \"modes\": modes}}\n",
        sets.join(",\n")
    )
}

/// An engine with the time limit set and strict builtin errors off (OPA's
/// default: a builtin error makes the expression undefined).
pub(crate) fn new_engine(time_limit: Duration) -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: time_limit,
        check_interval: TIMER_CHECK_INTERVAL,
    });
    engine.set_strict_builtin_errors(false);
    engine
}

/// Runs regorus's analysis (rule scheduling, safety of variables) so that
/// compile errors surface at load, and leaves the engine prepared, so clones
/// evaluate without preparing again.
pub(crate) fn prepare(engine: &mut regorus::Engine) -> Result<(), PolicyError> {
    engine
        .eval_query("true".into(), false)
        .map(|_| ())
        .map_err(|e| PolicyError::from_engine("<policy set>", &e))
}

/// The engine path of a rule in a package (`data.provenant.signed.deny`;
/// components that are not identifiers in brackets).
pub(crate) fn rule_path(components: &[String], rule: &str) -> String {
    let mut path = String::from("data");
    for c in components.iter().map(String::as_str).chain([rule]) {
        let ident = c
            .chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
            && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if ident {
            path.push('.');
            path.push_str(c);
        } else {
            path.push_str(&format!("[{}]", Value::String(c.to_owned())));
        }
    }
    path
}

/// The policy packages (with their declared decision rules) and library
/// packages of the engine's modules.
fn discover_policies(engine: &regorus::Engine) -> Result<(Vec<Policy>, Vec<String>), PolicyError> {
    let packages = engine
        .get_policy_package_components()
        .map_err(|e| PolicyError::from_engine("<policy set>", &e))?;
    let mut policies: BTreeMap<String, Policy> = BTreeMap::new();
    let mut libraries = Vec::new();
    for p in packages {
        let name = p.components.join(".");
        if p.components.first().map(String::as_str) != Some(SET_POLICY) {
            libraries.push(name);
            continue;
        }
        let policy = policies.entry(name.clone()).or_insert_with(|| Policy {
            name,
            below: p.components[1..].to_vec(),
            rules: Vec::new(),
        });
        for rule in DECISION_RULES {
            let declared = engine
                .has_declared_rule_rooted_at(&p.source_file, rule)
                .map_err(|e| PolicyError::from_engine(&p.source_file, &e))?;
            if declared && !policy.rules.iter().any(|(r, _)| *r == rule) {
                policy.rules.push((rule, rule_path(&p.components, rule)));
            }
        }
    }
    libraries.sort();
    libraries.dedup();
    Ok((policies.into_values().collect(), libraries))
}

/// Evaluates each `mode` rule without input: a value other than the three
/// modes is a load error naming the package. (A mode that depends on the
/// input and is undefined here is checked again at each decision.)
fn check_modes(engine: &regorus::Engine, policies: &[Policy]) -> Result<(), PolicyError> {
    for policy in policies {
        for (rule, path) in &policy.rules {
            if *rule != "mode" {
                continue;
            }
            let mut e = engine.clone();
            e.set_input(regorus::Value::new_object());
            let value = e
                .eval_rule(path.clone())
                .map_err(|e| PolicyError::Evaluation {
                    policy: policy.name.clone(),
                    message: format!(
                        "its mode rule fails without input: {}",
                        e.to_string().trim()
                    ),
                    timeout: false,
                })?;
            if value == regorus::Value::Undefined {
                continue;
            }
            let valid = value
                .as_string()
                .ok()
                .is_some_and(|s| s.parse::<Mode>().is_ok());
            if !valid {
                return Err(PolicyError::InvalidMode {
                    package: policy.name.clone(),
                    value: value.to_json_str().unwrap_or_else(|_| "?".into()),
                });
            }
        }
    }
    Ok(())
}

/// Puts `value` at `below…/rule` in the raw document.
fn insert_rule(raw: &mut Map<String, Value>, below: &[String], rule: &str, value: Value) {
    let mut node = raw;
    for c in below {
        let entry = node
            .entry(c.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            return;
        };
        node = next;
    }
    node.insert(rule.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_paths_bracket_non_identifiers() {
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rule_path(&c(&["provenant", "signed"]), "deny"),
            "data.provenant.signed.deny"
        );
        assert_eq!(
            rule_path(&c(&["provenant", "a-b"]), "deny"),
            r#"data.provenant["a-b"].deny"#
        );
    }

    #[test]
    fn policy_set_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<PolicySet>();
    }
}
