//! Public key files given to commands that verify or trust (`keys add`,
//! `attach --key`, `pull --key`, `verify --key`, `push --provenance-key`).
//!
//! Private key material never leaves this machine: a file holding a private
//! key yields its public key, derived here (and the command says so on
//! stderr); a file holding a public key or certificates alongside a private
//! key yields only those. Anything else is refused before any request.

use std::path::Path;

use anyhow::Context as _;

/// One `-----BEGIN <label>-----` … `-----END <label>-----` block, verbatim.
struct Block<'a> {
    label: &'a str,
    text: &'a str,
}

/// The PEM blocks of `text` (anything between blocks is ignored).
fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let from = &rest[start..];
        let Some(label_end) = from["-----BEGIN ".len()..].find("-----") else {
            break;
        };
        let label = &from["-----BEGIN ".len().."-----BEGIN ".len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = from.find(&end_marker) else {
            break;
        };
        let len = end + end_marker.len();
        out.push(Block {
            label,
            text: &from[..len],
        });
        rest = &from[len..];
    }
    out
}

/// The public part of the PEM file at `path`: its `PUBLIC KEY` and
/// `CERTIFICATE` blocks only (see the module doc). `flag` names the option in
/// messages (`--key`, `keys add`).
pub fn public_pem(path: &Path, flag: &str) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| anyhow::anyhow!("{flag} {}: not a PEM file", path.display()))?;
    let all = blocks(text);
    let public: Vec<&str> = all
        .iter()
        .filter(|b| matches!(b.label, "PUBLIC KEY" | "CERTIFICATE"))
        .map(|b| b.text)
        .collect();
    let private = all.iter().any(|b| b.label.ends_with("PRIVATE KEY"));
    if !public.is_empty() {
        if private {
            eprintln!(
                "note: {} also holds a private key; only its public key or certificates are used",
                path.display()
            );
        }
        let mut pem = public.join("\n");
        pem.push('\n');
        return Ok(pem);
    }
    if private {
        let key = provenant_attest::PrivateKey::from_pem(&bytes, None).map_err(|e| {
            anyhow::anyhow!(
                "{flag} {} is a private key this command cannot read ({e}); give its public key \
                 (the key.pub that `provenant keygen` wrote beside it)",
                path.display()
            )
        })?;
        use provenant_attest::Signer as _;
        let public = key.public_key();
        eprintln!(
            "note: {} is a private key; using only its public key {} (derived here, the private key is not sent)",
            path.display(),
            public.fingerprint()
        );
        return Ok(public.to_pem());
    }
    anyhow::bail!(
        "{flag} {}: no PUBLIC KEY or CERTIFICATE PEM block",
        path.display()
    )
}

/// The public key of the PEM file at `path` (a private key's is derived here).
pub fn public_key(path: &Path, flag: &str) -> anyhow::Result<provenant_attest::PublicKey> {
    let pem = public_pem(path, flag)?;
    provenant_attest::PublicKey::from_pem(pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("{flag} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let key = provenant_attest::PrivateKey::generate(provenant_attest::KeyAlgorithm::EcdsaP256)
            .unwrap();
        let private = dir.join("k.pem");
        let public = key.write_pem_files(&private).unwrap();
        (private, public)
    }

    #[test]
    fn private_key_yields_its_public_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = key_files(dir.path());
        let from_private = public_pem(&private, "--key").unwrap();
        let from_public = public_pem(&public, "--key").unwrap();
        assert!(!from_private.contains("PRIVATE"), "{from_private}");
        assert_eq!(from_private, from_public);
        assert_eq!(
            public_key(&private, "--key").unwrap(),
            public_key(&public, "--key").unwrap()
        );
        // A file holding both: only the public block goes out.
        let both = dir.path().join("both.pem");
        let text =
            std::fs::read_to_string(&private).unwrap() + &std::fs::read_to_string(&public).unwrap();
        std::fs::write(&both, text).unwrap();
        let p = public_pem(&both, "--key").unwrap();
        assert!(!p.contains("PRIVATE"), "{p}");
    }

    #[test]
    fn garbage_and_unreadable_private_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let e = public_pem(&junk, "--key").unwrap_err().to_string();
        assert!(e.contains("no PUBLIC KEY or CERTIFICATE"), "{e}");
        let enc = dir.path().join("enc.pem");
        std::fs::write(
            &enc,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = public_pem(&enc, "keys add").unwrap_err().to_string();
        assert!(
            e.contains("is a private key") && e.contains("public key"),
            "{e}"
        );
        assert!(!e.contains("AAAA"), "{e}");
    }
}
