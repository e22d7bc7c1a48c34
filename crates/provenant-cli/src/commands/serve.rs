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
}

pub async fn run(a: Args) -> anyhow::Result<()> {
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
    };
    let running = provenant_server::start(config, true)
        .await
        .context("starting the server")?;
    if let Some(token) = &running.new_admin_token {
        // Printed once; also stored (mode 0600) in DATA_DIR/admin.token.
        eprintln!(
            "\nadmin token (shown once; stored in {}):\n\n    {token}\n\nexport PROVENANT_URL=http://{} PROVENANT_TOKEN=$(cat {})\n",
            a.data_dir.join("admin.token").display(),
            running.addr,
            a.data_dir.join("admin.token").display(),
        );
    }
    tracing::info!(
        addr = %running.addr,
        database = %running.database,
        blobs = %running.blobs,
        "provenant listening on http://{}",
        running.addr
    );
    running.wait().await.context("server error")?;
    Ok(())
}
