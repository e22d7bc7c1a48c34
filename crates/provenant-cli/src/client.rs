//! HTTP client for the registry API, and client configuration
//! (flags > `PROVENANT_*` environment > config file > defaults).

use std::path::PathBuf;

use anyhow::Context as _;
use provenant_api::{ErrorBody, ErrorCode};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub const DEFAULT_URL: &str = "http://127.0.0.1:7878";

/// A request the server refused, with its stable error code.
#[derive(Debug, thiserror::Error)]
#[error("{message} [{wire_code}, HTTP {status}]")]
pub struct ApiFailure {
    pub status: u16,
    /// The server's code; `None` when the answer had no error body, or a
    /// code newer than this client (match on this, never on the message).
    pub code: Option<ErrorCode>,
    /// The code as it came (`http_error` when the answer had no error body).
    pub wire_code: String,
    pub message: String,
}

impl ApiFailure {
    /// Whether the server answered with this code.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == Some(code)
    }
}

/// The user config file (`~/.config/provenant/config.toml`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub url: Option<String>,
    pub token: Option<String>,
    /// The transparency log's pinned verifier key (`provenant log verify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_key: Option<String>,
    /// PEM certificates trusted for the registry's TLS certificate, besides
    /// the system roots (`login --ca-file` stores it, as an absolute path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// Where the config file lives: `$PROVENANT_CONFIG`, else
/// `$XDG_CONFIG_HOME/provenant/config.toml`, else `~/.config/provenant/config.toml`.
pub fn config_path() -> PathBuf {
    if let Some(p) = std::env::var_os("PROVENANT_CONFIG") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("provenant").join("config.toml")
}

pub fn read_config() -> anyhow::Result<ConfigFile> {
    let path = config_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).with_context(|| format!("reading config file {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(e).with_context(|| format!("reading config file {}", path.display())),
    }
}

pub fn write_config(cfg: &ConfigFile) -> anyhow::Result<PathBuf> {
    use std::io::Write as _;
    let path = config_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = toml::to_string(cfg)?;
    let tmp = path.with_extension("toml.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// How the client may reach the registry.
#[derive(Clone, Debug, Default)]
pub struct Transport {
    /// PEM certificates to trust for the server's certificate, added to the
    /// system's roots (a private CA, or a self-signed server certificate).
    pub ca_file: Option<PathBuf>,
    /// Send the token over plain `http://` to a host other than this
    /// machine (refused otherwise).
    pub insecure_http: bool,
}

/// Registry API client.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    token: Option<String>,
    insecure_http: bool,
}

/// Percent-encode a model name (`ns/name`) as one path segment.
pub fn model_segment(model: &str) -> String {
    url::form_urlencoded::byte_serialize(model.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl Client {
    /// Build from flag/env values, falling back to the config file (URL,
    /// token and CA file each).
    pub fn new(
        url: Option<&str>,
        token: Option<&str>,
        transport: &Transport,
    ) -> anyhow::Result<Self> {
        let file = read_config()?;
        let url = url
            .map(str::to_owned)
            .or(file.url)
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let token = token.map(str::to_owned).or(file.token);
        let transport = Transport {
            ca_file: transport.ca_file.clone().or(file.ca_file),
            insecure_http: transport.insecure_http,
        };
        Self::with(&url, token, &transport)
    }

    pub fn with(url: &str, token: Option<String>, transport: &Transport) -> anyhow::Result<Self> {
        // TLS through rustls with ring; an error only means a provider is already set.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut base =
            url::Url::parse(url).with_context(|| format!("invalid registry URL {url:?}"))?;
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        // Server certificates are checked against the system's roots (the
        // platform verifier), plus those of --ca-file.
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("provenant/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10));
        if let Some(path) = &transport.ca_file {
            builder = builder.tls_certs_merge(read_ca_file(path)?);
        }
        let http = builder.build().context("building HTTP client")?;
        Ok(Self {
            http,
            base,
            token,
            insecure_http: transport.insecure_http,
        })
    }

    pub fn base(&self) -> &url::Url {
        &self.base
    }

    pub fn url(&self, path: &str) -> anyhow::Result<url::Url> {
        self.base
            .join(path.trim_start_matches('/'))
            .with_context(|| format!("bad API path {path}"))
    }

    pub fn request(&self, method: Method, path: &str) -> anyhow::Result<reqwest::RequestBuilder> {
        let mut rb = self.http.request(method, self.url(path)?);
        if let Some(t) = &self.token {
            if sends_in_clear(&self.base) {
                if !self.insecure_http {
                    anyhow::bail!(
                        "refusing to send the API token over plain http:// to {} ({}): anyone \
                         on the network path could read it; use https://, or give \
                         --insecure-http (PROVENANT_INSECURE_HTTP=true) to send it anyway",
                        self.base.host_str().unwrap_or("?"),
                        self.base
                    );
                }
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    eprintln!(
                        "warning: sending the API token over plain http:// to {} \
                         (--insecure-http); anyone on the network path can read it",
                        self.base.host_str().unwrap_or("?")
                    );
                });
            }
            rb = rb.bearer_auth(t);
        }
        Ok(rb)
    }

    /// Send and turn an error status into an [`ApiFailure`].
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let resp = rb.send().await.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the registry at {}: {}",
                self.base,
                error_chain(&e)
            )
        })?;
        check(resp).await
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let resp = self.send(self.request(Method::GET, path)?).await?;
        resp.json().await.context("decoding server response")
    }

    pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> anyhow::Result<(StatusCode, T)> {
        let resp = self.send(self.request(method, path)?.json(body)).await?;
        let status = resp.status();
        Ok((
            status,
            resp.json().await.context("decoding server response")?,
        ))
    }
}

/// The certificates of a PEM bundle, or an error naming the file.
fn read_ca_file(path: &std::path::Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).with_context(|| format!("reading CA file {}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| anyhow::anyhow!("CA file {}: {}", path.display(), error_chain(&e)))?;
    if certs.is_empty() {
        anyhow::bail!(
            "CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(certs)
}

/// True when `url` is plain `http://` to a host other than this machine
/// (`localhost`, 127.0.0.0/8, `::1`): a bearer token sent there crosses a network in clear.
fn sends_in_clear(url: &url::Url) -> bool {
    if url.scheme() != "http" {
        return false;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d != "localhost" && !d.ends_with(".localhost")
        }
        None => true,
    }
}

pub async fn check(resp: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    Err(failure(status, &text).into())
}

/// The failure an error answer describes: its [`ErrorBody`], or (from a
/// newer server) a body of the same shape with a code this client does not
/// know, or (from anything else) the start of the text.
fn failure(status: u16, text: &str) -> ApiFailure {
    if let Ok(b) = serde_json::from_str::<ErrorBody>(text) {
        return ApiFailure {
            status,
            code: Some(b.code),
            wire_code: b.code.to_string(),
            message: b.message,
        };
    }
    #[derive(serde::Deserialize)]
    struct Unknown {
        code: String,
        message: String,
    }
    match serde_json::from_str::<Unknown>(text) {
        Ok(b) => ApiFailure {
            status,
            code: None,
            wire_code: b.code,
            message: b.message,
        },
        Err(_) => ApiFailure {
            status,
            code: None,
            wire_code: "http_error".into(),
            message: text.chars().take(300).collect(),
        },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn clear_text_only_off_this_machine() {
        let t = |u: &str| {
            super::sends_in_clear(&url::Url::parse(u).unwrap_or_else(|e| panic!("{u}: {e}")))
        };
        assert!(!t("http://127.0.0.1:7878"));
        assert!(!t("http://127.8.0.1:7878"));
        assert!(!t("http://[::1]:7878"));
        assert!(!t("http://localhost:7878"));
        assert!(!t("http://LOCALHOST.:7878"));
        assert!(!t("https://registry.example.com"));
        assert!(t("http://registry.example.com"));
        assert!(t("http://10.0.0.5:7878"));
        assert!(t("http://[2001:db8::1]:7878"));
        assert!(t("http://localhost.example.com"));
    }

    #[test]
    fn a_token_in_clear_needs_insecure_http() {
        use super::{Client, Transport};
        let token = Some("pvt_secret".to_owned());
        let strict = Transport::default();
        let c = Client::with("http://10.0.0.5:7878", token.clone(), &strict).unwrap();
        let err = c
            .request(reqwest::Method::GET, "api/v1/whoami")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("http://10.0.0.5:7878/") && text.contains("--insecure-http"),
            "{text}"
        );
        assert!(!text.contains("pvt_secret"), "{text}");
        // Without a token there is nothing to protect; with the flag it goes.
        let c = Client::with("http://10.0.0.5:7878", None, &strict).unwrap();
        assert!(c.request(reqwest::Method::GET, "api/v1/whoami").is_ok());
        let insecure = Transport {
            insecure_http: true,
            ..Transport::default()
        };
        let c = Client::with("http://10.0.0.5:7878", token.clone(), &insecure).unwrap();
        assert!(c.request(reqwest::Method::GET, "api/v1/whoami").is_ok());
        let c = Client::with("http://127.0.0.1:7878", token, &strict).unwrap();
        assert!(c.request(reqwest::Method::GET, "api/v1/whoami").is_ok());
    }

    #[test]
    fn a_ca_file_without_certificates_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let transport = super::Transport {
            ca_file: Some(path.clone()),
            insecure_http: false,
        };
        let err = super::Client::with("https://reg.example", None, &transport).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains(&path.display().to_string()) && text.contains("no PEM certificate"),
            "{text}"
        );
        let missing = dir.path().join("missing.pem");
        let transport = super::Transport {
            ca_file: Some(missing.clone()),
            insecure_http: false,
        };
        let err = super::Client::with("https://reg.example", None, &transport).unwrap_err();
        assert!(format!("{err:#}").contains(&missing.display().to_string()));
    }

    #[test]
    fn failures_carry_the_code_as_an_enum() {
        use provenant_api::ErrorCode;
        let f = super::failure(404, r#"{"code":"key_not_found","message":"no key k"}"#);
        assert!(f.is(ErrorCode::KeyNotFound));
        assert_eq!(f.to_string(), "no key k [key_not_found, HTTP 404]");
        // A code from a newer server: shown as it came, matched as none.
        let f = super::failure(400, r#"{"code":"brand_new","message":"m"}"#);
        assert_eq!((f.code, f.wire_code.as_str()), (None, "brand_new"));
        let f = super::failure(502, "<html>bad gateway</html>");
        assert_eq!((f.code, f.wire_code.as_str()), (None, "http_error"));
        assert_eq!(f.message, "<html>bad gateway</html>");
    }
}
