use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

/// Run the registry server.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on
    #[arg(long, env = "PROVENANT_LISTEN", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Data directory (SQLite database, blobs, admin token), created on first start
    #[arg(long, env = "PROVENANT_DATA_DIR", default_value = "./provenant-data")]
    pub data_dir: PathBuf,
    /// Metadata database: postgres://… for scale-out [default: sqlite in the data dir]
    #[arg(long, env = "PROVENANT_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Blob store: s3://…, gs://…, az://…, file://… or a path [default: DATA_DIR/blobs]
    #[arg(long, env = "PROVENANT_BLOB_URL")]
    pub blob_url: Option<String>,
    /// OSV source to keep the server's vulnerability database in sync with: a directory of
    /// JSON/YAML records (e.g. a clone of the PyPA advisory database) or an all.zip export;
    /// imported at start and whenever it changes, re-scanning every attached SBOM
    #[arg(long, env = "PROVENANT_VULNDB_WATCH", value_name = "PATH")]
    pub vulndb_watch: Option<PathBuf>,
    /// Seconds between checks of --vulndb-watch
    #[arg(long, env = "PROVENANT_VULNDB_WATCH_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub vulndb_watch_interval: u64,
    /// Provenance inputs not required on ingestion (policy), comma-separated:
    /// dataset-digest, commit, hyperparameters, image-digest [default: all required]
    #[arg(
        long,
        env = "PROVENANT_PROVENANCE_OPTIONAL",
        value_delimiter = ',',
        value_name = "INPUT"
    )]
    pub provenance_optional: Vec<String>,
    /// Log as JSON lines
    #[arg(long, env = "PROVENANT_LOG_JSON")]
    pub log_json: bool,
    /// Transparency log origin (checkpoint first line) [default: HOSTNAME/log]
    #[arg(long, env = "PROVENANT_LOG_ORIGIN")]
    pub log_origin: Option<String>,
    /// Transparency log signing key file (`PRIVATE+KEY+...`) [default:
    /// DATA_DIR/keys/log.key, generated on first start]
    #[arg(long, env = "PROVENANT_LOG_KEY_FILE")]
    pub log_key_file: Option<PathBuf>,
    /// Witness to collect checkpoint cosignatures from, as URL,VERIFIER_KEY (repeatable)
    #[arg(long = "log-witness", value_name = "URL,VKEY")]
    pub log_witnesses: Vec<provenant_server::WitnessPeer>,
    /// Connections served at once; one more is answered 503 and closed
    #[arg(long, env = "PROVENANT_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Connections one client address may hold at once; one more is answered 503
    #[arg(long, env = "PROVENANT_MAX_CONNECTIONS_PER_PEER", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_peer: u32,
    /// Seconds open connections get to finish on shutdown before the server stops waiting
    #[arg(long, env = "PROVENANT_DRAIN_TIMEOUT", default_value_t = 30)]
    pub drain_timeout: u64,
    /// Seconds a client has to send a request's headers (and an idle
    /// keep-alive connection stays open)
    #[arg(long, env = "PROVENANT_HEADER_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Seconds a request body may spend delivering fewer than --body-min-bytes
    /// before the request ends (an upload's session is then closed)
    #[arg(long, env = "PROVENANT_BODY_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout: u64,
    /// Bytes a request body must deliver every --body-timeout seconds
    #[arg(long, env = "PROVENANT_BODY_MIN_BYTES", default_value_t = 16384)]
    pub body_min_bytes: u64,
    /// Seconds any request body but an upload's PATCH (JSON) may take to arrive whole
    #[arg(long, env = "PROVENANT_REQUEST_BODY_TIMEOUT", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_body_timeout: u64,
    /// Upload sessions one token may hold open at once
    #[arg(long, env = "PROVENANT_UPLOAD_SESSIONS_PER_TOKEN", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub upload_sessions_per_token: u32,
    /// Bytes the open upload sessions of one token may declare in all [default: 1 TiB]
    #[arg(long, env = "PROVENANT_UPLOAD_BYTES_PER_TOKEN", default_value_t = 1 << 40)]
    pub upload_bytes_per_token: u64,
    /// Seconds an upload session may receive nothing before it is closed
    #[arg(long, env = "PROVENANT_UPLOAD_IDLE_TIMEOUT", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub upload_idle_timeout: u64,
    /// Bytes of one page of versions or models; a page that reaches them ends early
    /// with a cursor to the rest [default: 4 MiB]
    #[arg(long, env = "PROVENANT_PAGE_BYTES", default_value_t = 4 << 20, value_parser = clap::value_parser!(u64).range(1024..))]
    pub page_bytes: u64,
    /// Failed authentications one client address (IPv6: its /64) may make in a row; then it
    /// gets one more per --auth-failure-refill seconds, and is answered 429 meanwhile
    #[arg(long, env = "PROVENANT_AUTH_FAILURE_BURST", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failure_burst: u32,
    /// Seconds after which an address that used up --auth-failure-burst may fail once more
    #[arg(long, env = "PROVENANT_AUTH_FAILURE_REFILL", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub auth_failure_refill: u64,
    /// Serve HTTPS with this PEM certificate chain (server certificate first, then
    /// intermediates); reloaded on SIGHUP and when the file changes
    #[arg(
        long,
        env = "PROVENANT_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key (PKCS#8, RSA or SEC1; unencrypted)
    #[arg(
        long,
        env = "PROVENANT_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// On first start (no tokens in the database yet), take the admin token from this
    /// file (pvt_ and 43 base64url characters) instead of generating one; admin.token is
    /// then not written. Ignored, with a log line, once the database holds tokens
    #[arg(long, env = "PROVENANT_ADMIN_TOKEN_FILE", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Accept OIDC identity tokens (JWTs) of CI workloads from this issuer
    /// (repeatable; e.g. https://token.actions.githubusercontent.com); needs --oidc-rules
    #[arg(long = "oidc-issuer", value_name = "URL", requires = "oidc_rules")]
    pub oidc_issuers: Vec<String>,
    /// Audience the issuer's tokens must name (one per --oidc-issuer, by position,
    /// or one for all; a comma list allows several)
    #[arg(long = "oidc-audience", value_name = "AUD")]
    pub oidc_audiences: Vec<String>,
    /// Where the issuer's keys are: a JWKS file, an https:// URL, or `discover`
    /// (its /.well-known/openid-configuration); one per --oidc-issuer, or none to discover all
    #[arg(long = "oidc-jwks", value_name = "FILE|URL")]
    pub oidc_jwks: Vec<String>,
    /// Rules that map identity-token claims to a service account and its roles
    /// (YAML, or JSON for a .json file; see docs/oidc.md)
    #[arg(long = "oidc-rules", value_name = "FILE", requires = "oidc_issuers")]
    pub oidc_rules: Option<PathBuf>,
    /// Directory of Rego v1 policies (`package provenant.*` with deny/warn rules; see
    /// docs/policy.md), compiled at start and reloaded when the files change. Without
    /// it every gate decision is a deny
    #[arg(long, env = "PROVENANT_POLICY_DIR", value_name = "DIR")]
    pub policy_dir: Option<PathBuf>,
    /// Policy data (JSON, or YAML for .yaml/.yml), merged into `data` in order (repeatable)
    #[arg(long = "policy-data", value_name = "FILE", requires = "policy_dir")]
    pub policy_data: Vec<PathBuf>,
    /// Require the policy directory to be signed with this public key (PEM; `provenant sign
    /// DIR --key`): every load and reload verifies the signature and that each module and
    /// data file read is signed with its digest; a set that does not verify does not load
    #[arg(
        long = "policy-key",
        value_name = "PEM",
        requires = "policy_dir",
        conflicts_with = "policy_roots"
    )]
    pub policy_key: Option<PathBuf>,
    /// Require the policy directory to be signed with a certificate that chains to these root
    /// certificates (PEM, repeatable), checked at every load and reload as with --policy-key
    #[arg(long = "policy-root", value_name = "PEM", requires = "policy_dir")]
    pub policy_roots: Vec<PathBuf>,
    /// The policy directory's OMS signature (Sigstore bundle) [default: DIR/model.sig, where
    /// `provenant sign DIR` writes it]; needs --policy-key or --policy-root
    #[arg(
        long = "policy-signature",
        value_name = "FILE",
        requires = "policy_dir"
    )]
    pub policy_signature: Option<PathBuf>,
    /// Override a policy's mode: PACKAGE=enforce|warn|dry-run (repeatable)
    #[arg(long = "policy-mode", value_name = "PKG=MODE", requires = "policy_dir")]
    pub policy_modes: Vec<String>,
    /// Evaluation time limit of one decision, in milliseconds (a policy that runs longer is a deny)
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub policy_timeout_ms: u64,
    /// Seconds between checks of the policy files for changes
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub policy_reload_interval: u64,
    /// Gate pushes to this namespace (`*`: every namespace): a push the policies deny
    /// publishes nothing (repeatable)
    #[arg(long = "gate-ingest", value_name = "NAMESPACE")]
    pub gate_ingest: Vec<String>,
    /// Gate moves of this alias (a promotion, e.g. production) in every model: a move
    /// the policies deny is refused (repeatable)
    #[arg(long = "gate-promote", value_name = "ALIAS")]
    pub gate_promote: Vec<String>,
    /// Seconds a decision is reused for the same version, policy set and input
    #[arg(long, default_value_t = 60)]
    pub decision_cache_ttl: u64,
    /// `input.target.environment` of admission reviews (POST /admission)
    #[arg(long, value_name = "ENV")]
    pub admission_env: Option<String>,
    /// `input.target.cluster` of admission reviews
    #[arg(long, value_name = "NAME")]
    pub admission_cluster: Option<String>,
    /// Milliseconds the admission webhook has to answer; past it the review is denied
    #[arg(long, default_value_t = 4000, value_parser = clap::value_parser!(u64).range(1..=30_000))]
    pub admission_timeout_ms: u64,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let policy_signature = policy_signature(&a)?;
    let config = provenant_server::ServeConfig {
        listen: a.listen,
        data_dir: a.data_dir.clone(),
        database_url: a.database_url,
        blob_url: a.blob_url,
        vulndb_watch: a.vulndb_watch,
        vulndb_watch_interval: std::time::Duration::from_secs(a.vulndb_watch_interval),
        provenance_requirements: provenant_provenance::Requirements::all_except(
            &a.provenance_optional,
        )?,
        log: provenant_server::LogOptions {
            origin: a.log_origin,
            key_file: a.log_key_file,
            witnesses: a.log_witnesses,
        },
        limits: provenant_server::Limits {
            max_connections: a.max_connections as usize,
            max_connections_per_peer: a.max_connections_per_peer as usize,
            drain_timeout: std::time::Duration::from_secs(a.drain_timeout),
            header_timeout: std::time::Duration::from_secs(a.header_timeout),
            body_timeout: std::time::Duration::from_secs(a.body_timeout),
            body_min_bytes: a.body_min_bytes,
            request_body_timeout: std::time::Duration::from_secs(a.request_body_timeout),
            upload_sessions_per_token: a.upload_sessions_per_token as usize,
            upload_bytes_per_token: a.upload_bytes_per_token,
            upload_idle_timeout: std::time::Duration::from_secs(a.upload_idle_timeout),
            page_bytes: usize::try_from(a.page_bytes).context("--page-bytes")?,
            auth_failure_burst: a.auth_failure_burst,
            auth_failure_refill: std::time::Duration::from_secs(a.auth_failure_refill),
        },
        tls: match (a.tls_cert, a.tls_key) {
            (Some(cert), Some(key)) => Some(provenant_server::TlsFiles { cert, key }),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        },
        admin_token_file: a.admin_token_file,
        oidc: if a.oidc_issuers.is_empty() {
            None
        } else {
            Some(
                provenant_oidc::OidcConfig::from_flags(
                    &a.oidc_issuers,
                    &a.oidc_audiences,
                    &a.oidc_jwks,
                    a.oidc_rules.as_deref(),
                )
                .context("OIDC workload identity (--oidc-*)")?,
            )
        },
        gate: provenant_server::GateConfig {
            policy_dir: a.policy_dir,
            data_files: a.policy_data,
            policy_signature,
            modes: a.policy_modes,
            time_limit: std::time::Duration::from_millis(a.policy_timeout_ms),
            reload_interval: std::time::Duration::from_secs(a.policy_reload_interval),
            ingest: a.gate_ingest,
            promote: a.gate_promote,
            cache_ttl: std::time::Duration::from_secs(a.decision_cache_ttl),
            admission_environment: a.admission_env,
            admission_cluster: a.admission_cluster,
            admission_timeout: std::time::Duration::from_millis(a.admission_timeout_ms),
        },
    };
    let running = provenant_server::start(config, true)
        .await
        .context("starting the server")?;
    if let Some(token) = &running.new_admin_token {
        // Printed once; also stored (mode 0600) in DATA_DIR/admin.token.
        eprintln!(
            "\nadmin token (shown once; stored in {}):\n\n    {token}\n\nexport PROVENANT_URL={} PROVENANT_TOKEN=$(cat {})\n",
            a.data_dir.join("admin.token").display(),
            running.url(),
            a.data_dir.join("admin.token").display(),
        );
    }
    tracing::info!(
        addr = %running.addr,
        database = %running.database,
        blobs = %running.blobs,
        "provenant listening on {}",
        running.url()
    );
    running.wait().await.context("server error")?;
    Ok(())
}

/// The signature the policy set must carry (`--policy-key` or `--policy-root`,
/// `--policy-signature`), if any.
fn policy_signature(a: &Args) -> anyhow::Result<Option<provenant_policy::SignatureCheck>> {
    let trust = match (&a.policy_key, a.policy_roots.is_empty()) {
        (Some(key), _) => {
            provenant_attest::TrustRoot::PublicKey(crate::keyfile::public_key(key, "--policy-key")?)
        }
        (None, false) => provenant_attest::TrustRoot::Certificates(
            super::oms::certificates(&a.policy_roots).context("--policy-root")?,
        ),
        (None, true) => {
            if a.policy_signature.is_some() {
                anyhow::bail!(
                    "--policy-signature needs --policy-key or --policy-root to verify it against"
                );
            }
            return Ok(None);
        }
    };
    let Some(dir) = &a.policy_dir else {
        // clap: both trust flags require --policy-dir.
        return Ok(None);
    };
    Ok(Some(match &a.policy_signature {
        Some(bundle) => provenant_policy::SignatureCheck::new(bundle, trust),
        None => provenant_policy::SignatureCheck::in_dir(dir, trust),
    }))
}
