//! The signing flags `sign`, `attest provenance`, `push` and `attach` share
//! (one set, flattened into each), and the key material they load.
//!
//! The flags are the same everywhere; what differs is whether a command needs
//! them. `sign` and `attest provenance` always sign, so they make `--key`
//! required (`#[command(mut_arg("key", …))]`); `push` signs only with `--key`;
//! `attach` also takes them to verify a ready bundle, where
//! `--certificate-chain` alone names the roots. Each command states its
//! requirements where it defines its `Args`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Signing key, its password and, for certificate mode, the certificate chain.
#[derive(Debug, Clone, clap::Args)]
pub struct SigningFlags {
    /// Signing key (PEM: PKCS#8, optionally encrypted, or SEC1); to attach a
    /// ready BUNDLE, the signer's public key (or the private key)
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Environment variable holding the key's password
    #[arg(long, requires = "key")]
    pub password_env: Option<String>,
    /// Signing certificate (PEM) for certificate mode, with --key
    #[arg(long)]
    pub certificate: Option<PathBuf>,
    /// Rest of the certificate chain (PEM), with --certificate: intermediates,
    /// up to the root for `push` and `attach`; to attach a ready BUNDLE, the
    /// roots that verify it
    #[arg(long = "certificate-chain")]
    pub certificate_chain: Vec<PathBuf>,
}

impl SigningFlags {
    /// The key file, or an error naming the flag and what needs it
    /// (`"--sbom needs --key"`).
    pub fn key_for(&self, what: &str) -> anyhow::Result<&Path> {
        self.key
            .as_deref()
            .with_context(|| format!("{what} needs --key"))
    }

    /// The key's password, read from the variable `--password-env` names.
    pub fn password(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.password_env
            .as_deref()
            .map(|v| {
                std::env::var(v)
                    .map(String::into_bytes)
                    .map_err(|_| anyhow::anyhow!("--password-env: {v} is not set"))
            })
            .transpose()
    }

    /// The private key at `key`, decrypted with the password if one is given.
    pub fn private_key(&self, key: &Path) -> anyhow::Result<provenant_attest::PrivateKey> {
        let password = self.password()?;
        provenant_attest::PrivateKey::from_pem_file(key, password.as_deref())
            .map_err(super::oms::refuse)
    }

    /// DER certificates, leaf first: `--certificate` then `--certificate-chain`
    /// (empty in key mode).
    pub fn chain(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        let Some(cert) = &self.certificate else {
            return Ok(Vec::new());
        };
        let mut chain = super::oms::certificates(std::slice::from_ref(cert))?;
        chain.extend(super::oms::certificates(&self.certificate_chain)?);
        Ok(chain)
    }

    /// The `--certificate-chain` files as PEM text (the roots sent to a server).
    pub fn chain_pems(&self) -> anyhow::Result<Vec<String>> {
        self.certificate_chain
            .iter()
            .map(|p| {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
            })
            .collect()
    }
}

/// A loaded signing key with what the server needs to verify its signatures.
pub struct SigningMaterial {
    pub key: provenant_attest::PrivateKey,
    /// DER certificates, leaf first (empty in key mode).
    pub chain: Vec<Vec<u8>>,
    /// Key mode: the public key PEM sent to the server.
    pub public_key: Option<String>,
    /// Certificate mode: the root PEMs sent to the server.
    pub certificate_roots: Vec<String>,
}

impl SigningMaterial {
    /// Loads the key (decrypting with the password from `--password-env`) and,
    /// in certificate mode, the certificate and its chain up to the root, for
    /// a signature the server verifies. `what` names what needs the key in
    /// the error when `--key` is missing (`"--sbom"`).
    pub fn load(flags: &SigningFlags, what: &str) -> anyhow::Result<Self> {
        use provenant_attest::Signer as _;
        let key = flags.private_key(flags.key_for(what)?)?;
        let chain = flags.chain()?;
        let mut roots = Vec::new();
        if flags.certificate.is_some() {
            roots = flags.chain_pems()?;
            anyhow::ensure!(
                !roots.is_empty(),
                "--certificate needs --certificate-chain up to the root"
            );
        }
        let public_key = chain.is_empty().then(|| key.public_key().to_pem());
        Ok(Self {
            key,
            chain,
            public_key,
            certificate_roots: roots,
        })
    }

    /// A bundle this material signed, with what verifies it, as sent to the server.
    pub fn body(&self, bundle: serde_json::Value) -> provenant_api::BundleBody {
        provenant_api::BundleBody {
            bundle,
            public_key: self.public_key.clone(),
            certificate_roots: self.certificate_roots.clone(),
        }
    }

    /// Signs a statement into a bundle (JSON value, as sent to the server).
    pub fn sign(
        &self,
        statement: &provenant_attest::Statement,
    ) -> anyhow::Result<serde_json::Value> {
        let bundle = provenant_attest::sign_statement(statement, &self.key, &self.chain)
            .map_err(super::oms::refuse)?;
        serde_json::from_str(&bundle.to_json()).context("serialising the attestation bundle")
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    fn parses(args: &[&str]) -> bool {
        crate::Cli::try_parse_from(std::iter::once("provenant").chain(args.iter().copied())).is_ok()
    }

    #[test]
    fn each_command_keeps_its_requirements_on_the_shared_flags() {
        // `sign` and `attest provenance` always sign: --key is required.
        assert!(!parses(&["sign", "m"]));
        assert!(parses(&["sign", "m", "--key", "k"]));
        assert!(!parses(&["attest", "provenance", "m", "--recipe", "r"]));
        assert!(parses(&[
            "attest",
            "provenance",
            "m",
            "--recipe",
            "r",
            "--key",
            "k"
        ]));
        // A chain goes with a certificate when signing.
        for cmd in [
            &["sign", "m", "--key", "k"][..],
            &["attest", "provenance", "m", "--recipe", "r", "--key", "k"],
            &["push", "m", "--model", "a/b", "--key", "k"],
        ] {
            let mut with_chain = cmd.to_vec();
            with_chain.extend(["--certificate-chain", "c"]);
            assert!(!parses(&with_chain), "{with_chain:?}");
            with_chain.extend(["--certificate", "x"]);
            assert!(parses(&with_chain), "{with_chain:?}");
        }
        // `push` signs only with --key: a certificate or password alone is refused.
        assert!(!parses(&[
            "push",
            "m",
            "--model",
            "a/b",
            "--certificate",
            "c"
        ]));
        assert!(!parses(&[
            "push",
            "m",
            "--model",
            "a/b",
            "--password-env",
            "P"
        ]));
        assert!(!parses(&["push", "m", "--model", "a/b", "--sbom", "s"]));
        assert!(!parses(&["push", "m", "--model", "a/b", "--sign"]));
        // `attach` verifies a ready bundle with roots alone.
        assert!(parses(&[
            "attach",
            "a/b:1",
            "b.json",
            "--certificate-chain",
            "r"
        ]));
        assert!(parses(&["attach", "a/b:1", "b.json", "--key", "k.pub"]));
        assert!(!parses(&[
            "attach",
            "a/b:1",
            "b.json",
            "--password-env",
            "P"
        ]));
    }
}
