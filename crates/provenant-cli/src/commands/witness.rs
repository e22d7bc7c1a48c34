use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

/// Run a witness (C2SP tlog-witness): cosigns checkpoints of the logs it is
/// given, after checking each extends the last one it cosigned.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on
    #[arg(
        long,
        env = "PROVENANT_WITNESS_LISTEN",
        default_value = "127.0.0.1:7879"
    )]
    pub listen: SocketAddr,
    /// Directory for the witness key (generated, 0600) and its state
    #[arg(
        long,
        env = "PROVENANT_WITNESS_DIR",
        default_value = "./provenant-witness"
    )]
    pub data_dir: PathBuf,
    /// Name of a newly generated witness key [default: HOSTNAME/witness]
    #[arg(long)]
    pub name: Option<String>,
    /// A log to witness: its verifier key (origin = key name), or ORIGIN,VKEY (repeatable)
    #[arg(long = "log", value_name = "[ORIGIN,]VKEY", required = true)]
    pub logs: Vec<String>,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let mut logs = Vec::new();
    for l in &a.logs {
        let (origin, key) = match l.split_once(',') {
            Some((o, k)) => (o.to_owned(), k.to_owned()),
            None => (
                l.split('+').next().unwrap_or_default().to_owned(),
                l.clone(),
            ),
        };
        logs.push((origin, key));
    }
    let name = a.name.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "provenant".into());
        format!("{host}/witness")
    });
    let running = provenant_server::start_witness(provenant_server::WitnessConfig {
        listen: a.listen,
        data_dir: a.data_dir,
        name,
        logs,
    })
    .await
    .map_err(anyhow::Error::msg)
    .context("starting the witness")?;
    // The key on stdout (first line) so scripts can pick it up.
    println!("{}", running.vkey);
    tracing::info!(addr = %running.addr, vkey = %running.vkey, "witness listening on http://{}", running.addr);
    running.wait().await.context("witness server error")?;
    Ok(())
}
