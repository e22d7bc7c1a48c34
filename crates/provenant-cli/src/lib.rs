//! The `provenant` command line: the server (`serve`) and the registry client
//! commands, one module per command. Data goes to stdout, logs and progress to
//! stderr; `--json` gives machine-readable output.
//!
//! Exit codes: 0 success; 1 denied (missing/invalid token, forbidden) or failed
//! verification (a pulled file does not match its digest); 2 usage, I/O, or any
//! other error (including "not found" and invalid input rejected by the server).
//! `sign`/`verify`: 1 when the library refuses (bad signature, wrong key, tampered
//! file, untrusted certificate), 2 for I/O and usage errors.

// Every `println!`/`print!` of this crate goes through [`output::stdout`]: a
// closed pipe (`provenant show … | head`) ends the process quietly instead of
// panicking. These definitions shadow the standard macros for the modules below.
macro_rules! println {
    () => {
        $crate::output::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

macro_rules! print {
    ($($arg:tt)*) => {
        $crate::output::stdout(format_args!($($arg)*))
    };
}

mod client;
mod commands;
mod hashing;
mod keyfile;
mod output;
mod upload;

use std::process::ExitCode;

use clap::Subcommand;

/// With it, `Cli::try_parse_from` parses a command line without running it
/// (`tests/it/docs.rs` checks every command the README and `docs/` show).
pub use clap::Parser;
pub use client::{ApiFailure, Client, ConfigFile, config_path};
pub use hashing::{VerifyFailure, hash_file};

/// Provenant is a model registry you can verify: push and pull model versions by
/// content digest, sign them, attach SBOMs and provenance, and check it all
/// against a public transparency log.
///
/// `provenant serve` runs the registry; every other command is its client.
/// Exit codes: 0 success, 1 denied or failed verification, 2 usage or I/O
/// error; a closed output pipe (`| head`) ends the command quietly with 141.
#[derive(Debug, Parser)]
#[command(name = "provenant", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Commands,
}

/// Options every client command takes.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Registry URL [default: config file, else http://127.0.0.1:7878]
    #[arg(long, global = true, env = "PROVENANT_URL")]
    pub url: Option<String>,
    /// API token [default: from the config file]
    #[arg(long, global = true, env = "PROVENANT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Machine-readable JSON output
    #[arg(long, global = true)]
    pub json: bool,
    /// PEM file of CA certificates to trust for the registry's TLS certificate, besides
    /// the system roots [default: ca_file in the config file]
    #[arg(long, global = true, env = "PROVENANT_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Send the token over plain http:// to a host other than this machine (refused
    /// otherwise: anyone on the network path could read it)
    #[arg(
        long,
        global = true,
        env = "PROVENANT_INSECURE_HTTP",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub insecure_http: bool,
}

impl GlobalArgs {
    pub fn client(&self) -> anyhow::Result<Client> {
        Client::new(
            self.url.as_deref(),
            self.token.as_deref(),
            &self.transport(),
        )
    }

    /// The transport options given as flags or environment.
    pub fn transport(&self) -> client::Transport {
        client::Transport {
            ca_file: self.ca_file.clone(),
            insecure_http: self.insecure_http,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Run the registry server (embedded SQLite + local blobs by default)
    Serve(Box<commands::serve::Args>),
    /// Store the registry URL and a token in the user config file
    Login(commands::login::Args),
    /// Publish a model directory (or file) as a new version
    Push(commands::push::Args),
    /// Download a version into a directory, verifying every digest
    Pull(commands::pull::Args),
    /// Attach a signed attestation (an SBOM signed with --key, or a ready bundle) to a version
    Attach(commands::attach::Args),
    /// Ask the policy gate whether a version may be deployed (exit 0 allow, 1 deny)
    Gate(commands::gate::Args),
    /// Decisions the policy gate recorded about a version
    Decisions(commands::gate::DecisionsArgs),
    /// Policy sets (Rego): test, eval, check; the input document the gate sees
    #[command(subcommand)]
    Policy(commands::policy::Command),
    /// Show a version: digest, state, labels, aliases, metadata, files
    Show(commands::show::Args),
    /// List models (optionally under a namespace) or a model's versions
    List(commands::list::Args),
    /// Search versions by name, description, metadata and labels
    Search(commands::search::Args),
    /// Set or remove labels on a version
    Label(commands::label::Args),
    /// Move aliases (e.g. production) and show their history
    #[command(subcommand)]
    Alias(commands::alias::Command),
    /// Mark a version deprecated, with a reason
    Deprecate(commands::state::Args),
    /// Archive a version, with a reason
    Archive(commands::state::Args),
    /// Print a model's OMS root digest (OpenSSF Model Signing hashing)
    Digest(commands::digest::Args),
    /// Generate a signing key pair (ECDSA P-256/P-384 or Ed25519)
    Keygen(commands::keygen::Args),
    /// Sign a model with an OMS signature (model.sig)
    Sign(commands::sign::Args),
    /// Verify a model's OMS signature with a key or certificate roots
    Verify(commands::verify::Args),
    /// Keys a namespace trusts for signatures: add, list, remove
    #[command(subcommand)]
    Keys(commands::keys::Command),
    /// Generate a CycloneDX or SPDX SBOM for environments, lock files, images or a registry version
    Sbom(commands::sbom::Args),
    /// Manage the local OSV vulnerability database
    #[command(subcommand)]
    Vulndb(commands::vulndb::Command),
    /// Scan an SBOM for known vulnerabilities (OSV), with VEX and waivers
    Scan(commands::scan::Args),
    /// Known vulnerabilities of a registry version (server-side scans of its attached SBOMs)
    Findings(commands::findings::Args),
    /// Dataset descriptors: `dataset hash <path>`
    #[command(subcommand)]
    Dataset(commands::dataset::Command),
    /// Record what a training run used (recipe JSON), inside the training repository
    Capture(commands::capture::Args),
    /// Produce signed attestations: `attest provenance <model> --recipe … --key …`
    #[command(subcommand)]
    Attest(commands::attest::Command),
    /// Show a version's lineage (upstream inputs and parents, downstream fine-tunes)
    Lineage(commands::lineage::Args),
    /// List versions and aliases affected by a dataset, commit or image
    Impact(commands::impact::Args),
    /// Compare recipes and outputs: `reproduce diff A B`, `reproduce check REF DIR`
    #[command(subcommand)]
    Reproduce(commands::reproduce::Command),
    /// The transparency log: verifier key, checkpoint, verify, prove inclusion
    #[command(subcommand)]
    Log(commands::log::Command),
    /// Audit the registry against its log (admin): verify, export the trail
    #[command(subcommand)]
    Audit(commands::audit::Command),
    /// Run a witness that cosigns log checkpoints (C2SP tlog-witness)
    Witness(commands::witness::Args),
    /// Who the token (or workload identity) is: principal, roles, expiry
    Whoami,
    /// API tokens: create (shown once), list, revoke
    #[command(subcommand)]
    Token(commands::identity::TokenCommand),
    /// Users and service accounts (admin): create, list
    #[command(subcommand)]
    Principal(commands::identity::PrincipalCommand),
    /// Namespaces: create with an owner (admin), list those you may read
    #[command(subcommand)]
    Namespace(commands::identity::NamespaceCommand),
    /// Roles per namespace: grant, revoke, list
    #[command(subcommand)]
    Role(commands::identity::RoleCommand),
}

/// Map an error to the documented exit code.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<ApiFailure>() {
            return if matches!(f.status, 401 | 403) { 1 } else { 2 };
        }
        if let Some(f) = cause.downcast_ref::<commands::capture::CommandFailed>() {
            return f.exit_code;
        }
        if cause.downcast_ref::<VerifyFailure>().is_some()
            || cause.downcast_ref::<commands::oms::Refused>().is_some()
            || cause.downcast_ref::<commands::scan::GateFailed>().is_some()
            || cause.downcast_ref::<commands::gate::Denied>().is_some()
            || cause
                .downcast_ref::<commands::policy::PolicyFailed>()
                .is_some()
        {
            return 1;
        }
    }
    2
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROVENANT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_json = matches!(&cli.command, Commands::Serve(a) if a.log_json);
    init_logging(log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = &cli.global;
    match cli.command {
        Commands::Serve(a) => commands::serve::run(*a).await,
        Commands::Whoami => commands::identity::whoami(g).await,
        Commands::Token(c) => commands::identity::token(g, c).await,
        Commands::Principal(c) => commands::identity::principal(g, c).await,
        Commands::Namespace(c) => commands::identity::namespace(g, c).await,
        Commands::Role(c) => commands::identity::role(g, c).await,
        Commands::Login(a) => commands::login::run(g, a).await,
        Commands::Push(a) => commands::push::run(g, a).await,
        Commands::Pull(a) => commands::pull::run(g, a).await,
        Commands::Show(a) => commands::show::run(g, a).await,
        Commands::Attach(a) => commands::attach::run(g, a).await,
        Commands::Findings(a) => commands::findings::run(g, a).await,
        Commands::Gate(a) => commands::gate::run(g, a).await,
        Commands::Decisions(a) => commands::gate::decisions(g, a).await,
        Commands::Policy(c) => commands::policy::run(g, c).await,
        Commands::List(a) => commands::list::run(g, a).await,
        Commands::Search(a) => commands::search::run(g, a).await,
        Commands::Label(a) => commands::label::run(g, a).await,
        Commands::Alias(c) => commands::alias::run(g, c).await,
        Commands::Deprecate(a) => commands::state::run(g, a, "deprecate").await,
        Commands::Archive(a) => commands::state::run(g, a, "archive").await,
        Commands::Digest(a) => commands::digest::run(g, a).await,
        Commands::Keygen(a) => commands::keygen::run(g, a).await,
        Commands::Sign(a) => commands::sign::run(g, a).await,
        Commands::Verify(a) => commands::verify::run(g, a).await,
        Commands::Keys(c) => commands::keys::run(g, c).await,
        Commands::Sbom(a) => commands::sbom::run(g, a).await,
        Commands::Vulndb(c) => commands::vulndb::run(g, c).await,
        Commands::Scan(a) => commands::scan::run(g, a).await,
        Commands::Dataset(c) => commands::dataset::run(g, c).await,
        Commands::Capture(a) => commands::capture::run(g, a).await,
        Commands::Attest(c) => commands::attest::run(g, c).await,
        Commands::Lineage(a) => commands::lineage::run(g, a).await,
        Commands::Impact(a) => commands::impact::run(g, a).await,
        Commands::Reproduce(c) => commands::reproduce::run(g, c).await,
        Commands::Log(c) => commands::log::run(g, c).await,
        Commands::Audit(c) => commands::audit::run(g, c).await,
        Commands::Witness(a) => commands::witness::run(a).await,
    }
}
