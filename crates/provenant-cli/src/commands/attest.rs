use std::path::PathBuf;

use anyhow::Context as _;
use provenant_attest::{Statement, Subject};
use provenant_provenance::{PREDICATE_TYPE, Recipe, Requirements};

use crate::GlobalArgs;
use crate::commands::oms::{Refused, refuse};

/// Produce signed attestations about a model.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// SLSA v1 provenance of a trained model from its recipe: an in-toto
    /// Statement v1 whose subject is the model's OMS root digest, signed as a
    /// DSSE envelope in a Sigstore bundle
    Provenance(ProvenanceArgs),
}

#[derive(Debug, clap::Args)]
#[command(
    mut_arg("key", |a| a.required(true)),
    mut_arg("certificate_chain", |a| a.requires("certificate"))
)]
pub struct ProvenanceArgs {
    /// Model directory or single file (the training output)
    pub model: PathBuf,
    /// Recipe written by `provenant capture`
    #[arg(long)]
    pub recipe: PathBuf,
    #[command(flatten)]
    pub signing: super::signing::SigningFlags,
    /// Subject name [default: the model directory's name]
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write the bundle [default: stdout]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub async fn run(g: &GlobalArgs, c: Command) -> anyhow::Result<()> {
    let Command::Provenance(a) = c;
    let json = g.json;
    tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(&a.recipe)
            .with_context(|| format!("cannot read recipe {}", a.recipe.display()))?;
        let recipe = Recipe::from_json(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", a.recipe.display()))?;
        let predicate =
            serde_json::to_value(provenant_provenance::provenance_from_recipe(&recipe))?;
        // Refuse locally what the registry would refuse, naming the field.
        provenant_provenance::validate(PREDICATE_TYPE, &predicate, Requirements::default())
            .map_err(|e| Refused(format!("{}: {e}", a.recipe.display())))?;
        let mut opts = provenant_digest::HashOptions::default();
        if a.model.is_dir() {
            opts.ignore_paths
                .push(provenant_attest::DEFAULT_SIGNATURE_NAME.to_owned());
        }
        let digest = provenant_digest::hash_model(&a.model, &opts)
            .with_context(|| format!("hashing {}", a.model.display()))?;
        let key = a
            .signing
            .private_key(a.signing.key_for("attest provenance")?)?;
        let chain = a.signing.chain()?;
        let name = a.name.clone().unwrap_or_else(|| digest.model_name.clone());
        let statement = Statement::new(
            vec![Subject::sha256(name, digest.root_digest_hex())],
            PREDICATE_TYPE,
            predicate,
        );
        let bundle = provenant_attest::sign_statement(&statement, &key, &chain).map_err(refuse)?;
        let root = provenant_digest::Digest::from_sha256_bytes(digest.root_digest);
        let text = bundle.to_json();
        match &a.out {
            Some(p) => {
                std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
                if json {
                    crate::output::json(&serde_json::json!({
                        "bundle": p,
                        "subject": root,
                        "predicateType": PREDICATE_TYPE,
                    }))?;
                } else {
                    println!("provenance for {root} -> {}", p.display());
                }
            }
            None => println!("{text}"),
        }
        Ok(())
    })
    .await?
}
