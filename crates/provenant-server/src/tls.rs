//! HTTPS for `serve`: the certificate chain and key come from two PEM files,
//! loaded at start (a bad file stops the start, naming the file and what is
//! wrong with it) and loaded again on SIGHUP or when either file changes. A
//! reload that fails keeps the certificate being served and logs why.
//!
//! TLS 1.2 and 1.3 (rustls with ring); ALPN offers `http/1.1`, the one
//! protocol the server speaks.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest as _;

use crate::server::ServerError;

/// The PEM files `serve` takes its certificate from.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain: the server's certificate first, then the
    /// intermediates (not the root).
    pub cert: PathBuf,
    /// Its private key: PKCS#8 (`PRIVATE KEY`), RSA (`RSA PRIVATE KEY`) or
    /// SEC1 (`EC PRIVATE KEY`), unencrypted.
    pub key: PathBuf,
}

/// How often the files are checked for changes.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Files larger than this are not certificate chains or keys.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The certificate served now, replaced whole on reload.
#[derive(Debug)]
pub(crate) struct CertStore {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

impl CertStore {
    /// Load the files, or say which one is wrong and how.
    pub(crate) fn load(files: TlsFiles) -> Result<Arc<Self>, ServerError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = load(&files, &provider)?;
        Ok(Arc::new(Self {
            files,
            provider,
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// A rustls server configuration that serves this store's certificate.
    pub(crate) fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, ServerError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::Tls {
                path: self.files.cert.clone(),
                reason: format!("TLS configuration: {e}"),
            })?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// Load the files again; on success serve what they hold from the next
    /// handshake on, and return its fingerprint.
    pub(crate) fn reload(&self) -> Result<String, ServerError> {
        let key = load(&self.files, &self.provider)?;
        let fingerprint = fingerprint(&key);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(key);
        Ok(fingerprint)
    }

    /// SHA-256 of the certificate served now (lowercase hex).
    pub(crate) fn fingerprint(&self) -> String {
        fingerprint(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// What the files look like on disk now: a change in either means a reload.
    fn stamp(&self) -> (Option<FileStamp>, Option<FileStamp>) {
        (
            FileStamp::of(&self.files.cert),
            FileStamp::of(&self.files.key),
        )
    }
}

/// SHA-256 of the first (the server's own) certificate of a chain.
fn fingerprint(key: &CertifiedKey) -> String {
    key.cert
        .first()
        .map(|c| hex::encode(sha2::Sha256::digest(c.as_ref())))
        .unwrap_or_default()
}

fn read_pem(path: &Path) -> Result<Vec<u8>, ServerError> {
    let wrong = |reason: String| ServerError::Tls {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| wrong(format!("cannot read it: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(wrong(format!(
            "{} bytes is too large for a PEM certificate chain or key (at most {MAX_FILE_BYTES})",
            meta.len()
        )));
    }
    std::fs::read(path).map_err(|e| wrong(format!("cannot read it: {e}")))
}

/// Read and check the chain and key: both parse, and the key is the one the
/// first certificate names.
fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, ServerError> {
    let cert_error = |reason: String| ServerError::Tls {
        path: files.cert.clone(),
        reason,
    };
    let key_error = |reason: String| ServerError::Tls {
        path: files.key.clone(),
        reason,
    };
    let pem = read_pem(&files.cert)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(cert_error(
            "holds no PEM CERTIFICATE block (expected the server's certificate, then its intermediates)"
                .into(),
        ));
    }
    let pem = read_pem(&files.key)?;
    let key = match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(k) => k,
        Err(rustls_pki_types::pem::Error::NoItemsFound) => {
            let text = String::from_utf8_lossy(&pem);
            return Err(key_error(if text.contains("ENCRYPTED PRIVATE KEY") {
                "the private key is encrypted; give it unencrypted (mode 0600)".into()
            } else {
                "holds no PEM private key (expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
                    .into()
            }));
        }
        Err(e) => return Err(key_error(format!("not a PEM private key: {e}"))),
    };
    CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => key_error(format!(
            "this key does not belong to the certificate in {}",
            files.cert.display()
        )),
        rustls::Error::InvalidCertificate(_) | rustls::Error::InvalidCertRevocationList(_) => {
            cert_error(format!("the server's certificate does not parse: {e}"))
        }
        other => key_error(format!("unusable private key: {other}")),
    })
}

/// Enough of a file's metadata to notice that it was written or replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: (u64, u64),
}

impl FileStamp {
    /// `None` when the file cannot be read (mid-replacement, say).
    fn of(path: &Path) -> Option<Self> {
        // Follows symbolic links: a Kubernetes secret volume swaps a link.
        let meta = std::fs::metadata(path).ok()?;
        Some(Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            #[cfg(unix)]
            inode: {
                use std::os::unix::fs::MetadataExt as _;
                (meta.dev(), meta.ino())
            },
        })
    }
}

/// Reload `store` when its files change (checked every `poll`) and, when
/// `on_sighup`, on SIGHUP, until the task is aborted.
pub(crate) fn spawn_reloader(
    store: Arc<CertStore>,
    poll: Duration,
    on_sighup: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut hangups = hangups(on_sighup);
        let mut seen = store.stamp();
        let mut ticks = tokio::time::interval(poll);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            let why = tokio::select! {
                _ = ticks.tick() => {
                    let now = store.stamp();
                    if now == seen {
                        continue;
                    }
                    // Whatever comes of it, this state of the files has been
                    // tried: a broken file is reported once, not every poll.
                    seen = now;
                    "the certificate or key file changed"
                }
                Some(()) = next_hangup(&mut hangups) => {
                    seen = store.stamp();
                    "SIGHUP"
                }
            };
            match store.reload() {
                Ok(fingerprint) => tracing::info!(
                    reason = why,
                    cert = %store.files.cert.display(),
                    sha256 = %fingerprint,
                    "TLS certificate reloaded"
                ),
                Err(e) => tracing::error!(
                    reason = why,
                    error = %e,
                    sha256 = %store.fingerprint(),
                    "TLS certificate reload failed; still serving the previous certificate"
                ),
            }
        }
    })
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<std::convert::Infallible>;

fn hangups(wanted: bool) -> Hangups {
    #[cfg(unix)]
    {
        if !wanted {
            return None;
        }
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; TLS files are still polled");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = wanted;
        None
    }
}

/// The next SIGHUP; never, without a handler.
async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    #[cfg(unix)]
    if let Some(s) = hangups {
        return s.recv().await;
    }
    #[cfg(not(unix))]
    let _ = hangups;
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::process::Command;

    /// A self-signed certificate and its key from `openssl` (on every
    /// machine this runs on); `None`, after saying so, where it is missing.
    fn openssl_cert(dir: &Path, name: &str, key_kind: &[&str]) -> Option<TlsFiles> {
        if !provenant_testkit::require_program("openssl") {
            return None;
        }
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        let out = Command::new("openssl")
            .args(["req", "-x509", "-nodes", "-days", "2", "-subj"])
            .arg(format!("/CN={name}"))
            .args(key_kind)
            .arg("-keyout")
            .arg(&files.key)
            .arg("-out")
            .arg(&files.cert)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(files)
    }

    fn message(r: Result<Arc<CertStore>, ServerError>) -> String {
        r.map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn loads_ecdsa_rsa_and_sec1_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        let Some(files) = openssl_cert(dir.path(), "ec", &ec) else {
            return;
        };
        let store = CertStore::load(files.clone()).unwrap();
        assert_eq!(store.fingerprint().len(), 64);
        store.server_config().unwrap();

        let rsa = openssl_cert(dir.path(), "rsa", &["-newkey", "rsa:2048"]).unwrap();
        CertStore::load(rsa.clone()).unwrap();
        // The same keys as PKCS#1 (`openssl rsa -traditional`) and SEC1
        // (what `openssl ec` writes).
        for (files, args) in [(&rsa, &["rsa", "-traditional"][..]), (&files, &["ec"][..])] {
            let converted = dir.path().join(format!("{}.traditional.key", args[0]));
            let out = Command::new("openssl")
                .args(args)
                .arg("-in")
                .arg(&files.key)
                .arg("-out")
                .arg(&converted)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let text = std::fs::read_to_string(&converted).unwrap();
            let header = format!("BEGIN {} PRIVATE KEY", args[0].to_uppercase());
            assert!(text.contains(&header), "{text}");
            CertStore::load(TlsFiles {
                cert: files.cert.clone(),
                key: converted,
            })
            .unwrap();
        }
    }

    #[test]
    fn a_bad_file_names_itself_and_the_fault() {
        let dir = tempfile::tempdir().unwrap();
        let Some(a) = openssl_cert(
            dir.path(),
            "a",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ) else {
            return;
        };
        let b = openssl_cert(
            dir.path(),
            "b",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        )
        .unwrap();
        let missing = dir.path().join("missing.pem");
        let m = message(CertStore::load(TlsFiles {
            cert: missing.clone(),
            key: a.key.clone(),
        }));
        assert!(
            m.contains(&missing.display().to_string()) && m.contains("cannot read"),
            "{m}"
        );

        // The key given as the certificate, and the certificate as the key.
        let m = message(CertStore::load(TlsFiles {
            cert: a.key.clone(),
            key: a.key.clone(),
        }));
        assert!(
            m.contains(&a.key.display().to_string()) && m.contains("no PEM CERTIFICATE"),
            "{m}"
        );
        let m = message(CertStore::load(TlsFiles {
            cert: a.cert.clone(),
            key: a.cert.clone(),
        }));
        assert!(m.contains("holds no PEM private key"), "{m}");

        // Another certificate's key.
        let m = message(CertStore::load(TlsFiles {
            cert: a.cert.clone(),
            key: b.key.clone(),
        }));
        assert!(
            m.contains(&b.key.display().to_string()) && m.contains("does not belong"),
            "{m}"
        );

        // A truncated certificate.
        let cut = dir.path().join("cut.crt");
        let text = std::fs::read_to_string(&a.cert).unwrap();
        std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
        let m = message(CertStore::load(TlsFiles {
            cert: cut.clone(),
            key: a.key.clone(),
        }));
        assert!(
            m.contains(&cut.display().to_string()) && m.contains("not a PEM certificate chain"),
            "{m}"
        );

        // An encrypted key.
        let enc = dir.path().join("enc.key");
        let out = Command::new("openssl")
            .args(["pkcs8", "-topk8", "-passout", "pass:secret", "-in"])
            .arg(&a.key)
            .arg("-out")
            .arg(&enc)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let m = message(CertStore::load(TlsFiles {
            cert: a.cert.clone(),
            key: enc,
        }));
        assert!(m.contains("encrypted"), "{m}");
    }

    #[tokio::test]
    async fn reloads_on_change_and_keeps_serving_after_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        let Some(live) = openssl_cert(dir.path(), "live", &ec) else {
            return;
        };
        let next = openssl_cert(dir.path(), "next", &ec).unwrap();
        let store = CertStore::load(live.clone()).unwrap();
        let first = store.fingerprint();
        let replaced = CertStore::load(next.clone()).unwrap().fingerprint();
        let reloader = spawn_reloader(store.clone(), Duration::from_millis(50), false);

        // A certificate without its key: refused, the old one stays.
        std::fs::copy(&next.cert, &live.cert).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(store.fingerprint(), first);
        // Then the key: the pair is served.
        std::fs::copy(&next.key, &live.key).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.fingerprint() != replaced {
            assert!(std::time::Instant::now() < deadline, "no reload");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Nothing changes while the files do not.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(store.fingerprint(), replaced);
        reloader.abort();
    }
}
