//! The policy gate of a running server: the live policy set
//! (`provenant-policy`, reloaded when its files change), which pushes and
//! alias moves it gates, the decision cache of the admission webhook and of
//! `POST /api/v1/gate`, and the [`IngestGate`] the registry asks before a
//! push is written.
//!
//! Fail closed: without a policy set every decision is a deny saying so; a
//! set that stops compiling on reload keeps the previous one in force.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use provenant_api::{DecisionDocument, DecisionView, PolicyInput, PolicySetView};
use provenant_policy::{LivePolicies, PolicyConfig};
use provenant_registry::IngestGate;
use serde_json::{Value, json};

/// Who decisions and policy loads are recorded as made by when no caller
/// asked (a push's ingestion check, a reload).
pub const GATE_PRINCIPAL: &str = "policy-gate";

/// How the gate is configured (`serve` flags).
#[derive(Clone, Debug)]
pub struct GateConfig {
    /// The directory of `.rego` policies; `None`: no policy set (every gate
    /// decision is a deny).
    pub policy_dir: Option<PathBuf>,
    /// Policy data files (JSON or YAML), merged in order.
    pub data_files: Vec<PathBuf>,
    /// The OMS signature the policy directory must carry at every load and
    /// reload (`serve --policy-key`/`--policy-root`, `--policy-signature`);
    /// `None`: unsigned sets load.
    pub policy_signature: Option<provenant_policy::SignatureCheck>,
    /// `package=mode` overrides (`provenant.licences=warn`).
    pub modes: Vec<String>,
    /// Evaluation time limit of one decision.
    pub time_limit: Duration,
    /// How often the policy files are checked for changes.
    pub reload_interval: Duration,
    /// Namespaces whose pushes are gated (`*`: every namespace).
    pub ingest: Vec<String>,
    /// Aliases whose moves (promotions) are gated, in every namespace.
    pub promote: Vec<String>,
    /// How long a decision is reused for the same digest, policy set and
    /// input.
    pub cache_ttl: Duration,
    /// `input.target.environment` and `cluster` of admission reviews.
    pub admission_environment: Option<String>,
    pub admission_cluster: Option<String>,
    /// The admission webhook answers within this (or denies).
    pub admission_timeout: Duration,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            policy_dir: None,
            data_files: Vec::new(),
            policy_signature: None,
            modes: Vec::new(),
            time_limit: Duration::from_millis(250),
            reload_interval: Duration::from_secs(5),
            ingest: Vec::new(),
            promote: Vec::new(),
            cache_ttl: Duration::from_secs(60),
            admission_environment: None,
            admission_cluster: None,
            admission_timeout: Duration::from_secs(4),
        }
    }
}

/// A gate that could not start: the policy set does not load.
#[derive(Debug, thiserror::Error)]
#[error("policy set: {0}")]
pub struct GateError(pub String);

type CacheKey = (String, String, String);

/// The server's policy gate.
pub struct PolicyGate {
    config: GateConfig,
    live: Option<LivePolicies>,
    /// (digest, policy set, input digest) → when decided, the decision.
    cache: Mutex<HashMap<CacheKey, (Instant, DecisionView)>>,
    /// The last reload's error, while the files on disk do not compile.
    reload_error: Mutex<Option<String>>,
}

/// Most decisions cached at once; a full cache drops expired entries, then
/// everything.
const CACHE_CAPACITY: usize = 65_536;

impl PolicyGate {
    /// Loads the policy set (a set that does not compile stops the start).
    pub fn new(config: GateConfig) -> Result<Self, GateError> {
        let live = match &config.policy_dir {
            Some(dir) => {
                let mut pc = PolicyConfig::new(dir.clone());
                pc.data_files = config.data_files.clone();
                pc.modes = provenant_policy::parse_mode_overrides(&config.modes)
                    .map_err(|e| GateError(e.to_string()))?;
                pc.time_limit = config.time_limit;
                Some(
                    LivePolicies::load_signed(pc, config.policy_signature.clone())
                        .map_err(|e| GateError(e.to_string()))?,
                )
            }
            None => None,
        };
        Ok(Self {
            config,
            live,
            cache: Mutex::new(HashMap::new()),
            reload_error: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// The digest of the set in force, if any.
    pub fn policy_set(&self) -> Option<String> {
        self.live.as_ref().map(|l| l.current().digest().to_owned())
    }

    /// What the set in force holds, for the record and `GET /api/v1/policies`.
    pub fn set_description(&self) -> Value {
        let Some(live) = &self.live else {
            return Value::Null;
        };
        let set = live.current();
        json!({
            "digest": set.digest(),
            "policies": set.policies(),
            "libraries": set.libraries(),
            "modules": set.modules().iter().map(|(path, sha)| json!({"path": path, "sha256": sha})).collect::<Vec<_>>(),
            "data_files": live.config().data_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "modes": self.config.modes,
            "signature": match (live.signature(), set.signer()) {
                (Some(check), Some(signer)) => json!({
                    "bundle": check.bundle.display().to_string(),
                    "signer": signer.identity,
                    "fingerprint": signer.fingerprint,
                    "root_digest": signer.root_digest,
                }),
                _ => Value::Null,
            },
        })
    }

    pub fn view(&self) -> PolicySetView {
        PolicySetView {
            configured: self.live.is_some(),
            digest: self.policy_set(),
            set: self.set_description(),
            gate_ingest: self.config.ingest.clone(),
            gate_promote: self.config.promote.clone(),
            reload_error: self
                .reload_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    /// Whether moving `alias` is a gated promotion.
    pub fn gates_promotion(&self, alias: &str) -> bool {
        self.config.promote.iter().any(|a| a == alias)
    }

    /// The decision about `input` (blocking: run it off the async runtime).
    pub fn decide(&self, input: &PolicyInput) -> DecisionDocument {
        let value = match serde_json::to_value(input) {
            Ok(v) => v,
            Err(e) => return fail_closed(None, "", format!("the input does not serialise: {e}")),
        };
        let now = time::OffsetDateTime::now_utc();
        let decision = match &self.live {
            Some(live) => live.current().evaluate(&value, now),
            None => {
                let digest = provenant_policy::input_digest(&value).unwrap_or_default();
                return fail_closed(
                    None,
                    &digest,
                    "no policy set is configured (serve --policy-dir): the gate denies".into(),
                );
            }
        };
        document_of(&decision)
    }

    /// The digest of `input` as decisions name it.
    pub fn input_digest(input: &PolicyInput) -> String {
        serde_json::to_value(input)
            .ok()
            .and_then(|v| provenant_policy::input_digest(&v).ok())
            .unwrap_or_default()
    }

    /// A decision made within the cache's lifetime for the same version,
    /// policy set and input.
    pub fn cached(&self, digest: &str, input_digest: &str) -> Option<DecisionView> {
        let set = self.policy_set().unwrap_or_default();
        let key = (digest.to_owned(), set, input_digest.to_owned());
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, view) = cache.get(&key)?;
        (at.elapsed() < self.config.cache_ttl).then(|| {
            let mut v = view.clone();
            v.cached = true;
            v
        })
    }

    /// Keeps a recorded decision for [`GateConfig::cache_ttl`].
    pub fn remember(&self, digest: &str, view: &DecisionView) {
        let key = (
            digest.to_owned(),
            view.decision.policy_set.clone().unwrap_or_default(),
            view.decision.input_digest.clone(),
        );
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_CAPACITY {
            let ttl = self.config.cache_ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(key, (Instant::now(), view.clone()));
    }

    /// Reloads the set when its files changed; returns the new set's
    /// description when the digest changed. A set that does not compile is
    /// reported (and kept as `reload_error`), the previous one stays.
    pub fn reload_if_changed(&self) -> Option<Value> {
        let live = self.live.as_ref()?;
        match live.reload_if_changed() {
            Ok(Some(r)) => {
                *self
                    .reload_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                if r.changed() {
                    tracing::info!(previous = %r.previous, digest = %r.digest, "policy set reloaded");
                    self.cache
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clear();
                    Some(self.set_description())
                } else {
                    None
                }
            }
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "policy set does not load; the previous set stays in force");
                *self
                    .reload_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
                None
            }
        }
    }
}

/// A deny decided by the server itself (policy `gate`).
pub fn fail_closed(
    policy_set: Option<String>,
    input_digest: &str,
    message: String,
) -> DecisionDocument {
    DecisionDocument {
        allowed: false,
        decision: "deny".into(),
        deny: vec![provenant_api::DecisionMessage {
            policy: "gate".into(),
            message,
            id: None,
        }],
        warn: Vec::new(),
        dry_run: Vec::new(),
        exceptions: Vec::new(),
        policy_set,
        input_digest: input_digest.to_owned(),
    }
}

/// The engine's decision as the API carries it (the same JSON).
fn document_of(d: &provenant_policy::Decision) -> DecisionDocument {
    serde_json::to_value(d)
        .and_then(serde_json::from_value)
        .unwrap_or_else(|e| {
            fail_closed(
                d.policy_set.clone(),
                &d.input_digest,
                format!("the decision does not convert: {e}"),
            )
        })
}

/// The registry's ingestion check, backed by the gate.
pub struct Ingest(pub Arc<PolicyGate>);

impl IngestGate for Ingest {
    fn gates(&self, namespace: &str) -> bool {
        self.0
            .config
            .ingest
            .iter()
            .any(|n| n == "*" || n == namespace)
    }

    fn decide(&self, input: &PolicyInput) -> DecisionDocument {
        self.0.decide(input)
    }

    fn decided_by(&self) -> &str {
        GATE_PRINCIPAL
    }
}

/// Polls the policy files every `reload_interval`; a changed set is
/// recorded (and logged) as loaded by the gate.
pub async fn watch(gate: Arc<PolicyGate>, registry: provenant_registry::Registry) {
    let mut tick = tokio::time::interval(gate.config.reload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let g = gate.clone();
        let Ok(changed) = tokio::task::spawn_blocking(move || g.reload_if_changed()).await else {
            continue;
        };
        if let Some(description) = changed
            && let Some(digest) = gate.policy_set()
            && let Err(e) = registry
                .policy_set_record(&digest, &description, GATE_PRINCIPAL)
                .await
        {
            tracing::error!(error = %e, "recording the reloaded policy set failed");
        }
    }
}
