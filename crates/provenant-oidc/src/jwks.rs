//! Issuers' signing keys: JWK sets parsed into keys that each verify one
//! algorithm, and a per-issuer cache refreshed (single-flight, at most once
//! per interval) when a token names a key it does not hold.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::config::{JwksSource, url_allowed};
use crate::error::OidcError;
use crate::token::{alg_name, truncate};

/// The largest JWKS (or discovery document) read over HTTP.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// How long one JWKS or discovery request may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// One usable public key of an issuer.
pub(crate) struct Key {
    pub kid: Option<String>,
    /// The one algorithm the key verifies, from its `kty`/`crv`/`alg`.
    pub alg: Algorithm,
    pub decoding: DecodingKey,
    /// `jsonwebtoken`'s checks for this key: its algorithm only; the claim
    /// checks are the verifier's (they need the caller's clock).
    pub validation: Validation,
}

impl Key {
    /// The key's id for messages (`-` when it has none).
    pub fn kid_text(&self) -> String {
        self.kid.as_deref().map_or_else(|| "-".to_owned(), truncate)
    }
}

/// The usable keys of one JWKS.
#[derive(Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Arc<Key>>,
    all: Vec<Arc<Key>>,
}

/// What a key set answers for a `kid`.
pub(crate) enum Lookup {
    Found(Arc<Key>),
    /// The token names a `kid` the set lacks.
    UnknownKid,
    /// The token names none and the set does not hold exactly one key.
    Ambiguous(usize),
}

impl KeySet {
    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn lookup(&self, kid: Option<&str>) -> Lookup {
        match kid {
            Some(kid) => match self.by_kid.get(kid) {
                Some(k) => Lookup::Found(k.clone()),
                None => Lookup::UnknownKid,
            },
            None => match self.all.as_slice() {
                [only] => Lookup::Found(only.clone()),
                all => Lookup::Ambiguous(all.len()),
            },
        }
    }
}

/// Parses a JWK set; keys that cannot verify identity tokens (symmetric,
/// encryption, unsupported curves, RSA under 2048 bits, an `alg` that does
/// not fit the key) are left out and named in the second value. A set with
/// no usable key is an error.
pub(crate) fn parse_jwks(bytes: &[u8]) -> Result<(KeySet, Vec<String>), String> {
    #[derive(serde::Deserialize)]
    struct Raw {
        keys: Vec<Value>,
    }
    let raw: Raw = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a JWK set (a JSON object with `keys`): {e}"))?;
    let mut set = KeySet::default();
    let mut skipped = Vec::new();
    for (i, value) in raw.keys.into_iter().enumerate() {
        let key = match key_from_jwk(value) {
            Ok(k) => k,
            Err(why) => {
                skipped.push(format!("key {i}: {why}"));
                continue;
            }
        };
        let key = Arc::new(key);
        if let Some(kid) = &key.kid {
            if set.by_kid.contains_key(kid) {
                skipped.push(format!(
                    "key {i}: kid {:?} repeats an earlier key",
                    truncate(kid)
                ));
                continue;
            }
            set.by_kid.insert(kid.clone(), key.clone());
        }
        set.all.push(key);
    }
    if set.all.is_empty() {
        let why = if skipped.is_empty() {
            "the set is empty".to_owned()
        } else {
            skipped.join("; ")
        };
        return Err(format!("no usable signing key ({why})"));
    }
    Ok((set, skipped))
}

fn b64(field: &str, text: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| format!("`{field}` is not base64url"))
}

/// The algorithm a JWK's `alg` names, when it names one this crate uses.
fn declared(alg: Option<KeyAlgorithm>) -> Result<Option<Algorithm>, String> {
    let Some(alg) = alg else { return Ok(None) };
    Ok(Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        other => {
            return Err(format!(
                "`alg` {other} is not a supported signature algorithm"
            ));
        }
    }))
}

fn key_from_jwk(value: Value) -> Result<Key, String> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| format!("not a JWK: {e}"))?;
    if let Some(u) = &jwk.common.public_key_use
        && *u != PublicKeyUse::Signature
    {
        return Err("not a signature key (`use`)".to_owned());
    }
    let declared = declared(jwk.common.key_algorithm)?;
    let (alg, decoding) = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            let n = b64("n", &p.n)?;
            let e = b64("e", &p.e)?;
            let bits = n.iter().position(|b| *b != 0).map_or(0, |first| {
                (n.len() - first) * 8 - n[first].leading_zeros() as usize
            });
            if bits < 2048 {
                return Err(format!("RSA modulus of {bits} bits (at least 2048 needed)"));
            }
            let alg = declared.unwrap_or(Algorithm::RS256);
            if !matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ) {
                return Err(format!("an RSA key with `alg` {}", alg_name(alg)));
            }
            (alg, DecodingKey::from_rsa_raw_components(&n, &e))
        }
        AlgorithmParameters::EllipticCurve(p) => {
            let (alg, len) = match p.curve {
                EllipticCurve::P256 => (Algorithm::ES256, 32),
                EllipticCurve::P384 => (Algorithm::ES384, 48),
                _ => return Err("an EC key on an unsupported curve".to_owned()),
            };
            let x = b64("x", &p.x)?;
            let y = b64("y", &p.y)?;
            if x.len() != len || y.len() != len {
                return Err("EC coordinates of the wrong length".to_owned());
            }
            if declared.is_some_and(|d| d != alg) {
                return Err(format!(
                    "an EC key for {} with another `alg`",
                    alg_name(alg)
                ));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (alg, DecodingKey::from_ec_der(&point))
        }
        AlgorithmParameters::OctetKeyPair(p) => {
            if p.curve != EllipticCurve::Ed25519 {
                return Err("an OKP key on a curve other than Ed25519".to_owned());
            }
            let x = b64("x", &p.x)?;
            if x.len() != 32 {
                return Err("an Ed25519 key that is not 32 bytes".to_owned());
            }
            if declared.is_some_and(|d| d != Algorithm::EdDSA) {
                return Err("an Ed25519 key with an `alg` other than EdDSA".to_owned());
            }
            (Algorithm::EdDSA, DecodingKey::from_ed_der(&x))
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("a symmetric key (HMAC is never accepted)".to_owned());
        }
        _ => return Err("an unsupported key type".to_owned()),
    };
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    Ok(Key {
        kid: jwk.common.key_id,
        alg,
        decoding,
        validation,
    })
}

/// The HTTP side of key fetching.
pub(crate) struct Http {
    client: reqwest::Client,
}

impl Http {
    pub fn new() -> Result<Self, OidcError> {
        // TLS through rustls with ring; an error only means a provider is set.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("provenant/", env!("CARGO_PKG_VERSION")))
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("more than 5 redirects")
                } else if url_allowed(attempt.url()) {
                    attempt.follow()
                } else {
                    attempt.error("a redirect away from https")
                }
            }))
            .build()
            .map_err(|e| OidcError::config(format!("cannot build the JWKS HTTP client: {e}")))?;
        Ok(Self { client })
    }

    /// GETs `url` (https, or http to this machine), at most
    /// [`MAX_JWKS_BYTES`], within [`FETCH_TIMEOUT`].
    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        if !url_allowed(&parsed) {
            return Err("not https (plain http only to localhost)".to_owned());
        }
        let mut resp = self
            .client
            .get(parsed)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("answered HTTP {}", resp.status()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(format!("the body is over {MAX_JWKS_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("reading the body failed: {e}"))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the body is over {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The keys of one issuer, as last loaded.
struct Snapshot {
    keys: Arc<KeySet>,
    /// When they were fetched (remote sources; `None`: never).
    fetched_at: Option<Instant>,
    /// Modification time and length of the file they were read from.
    file_stamp: Option<(SystemTime, u64)>,
}

/// What the single refresher of an issuer remembers.
#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    /// `jwks_uri` from discovery, once found.
    jwks_uri: Option<String>,
    /// URL and reason of the last failed fetch, until one succeeds: while
    /// no key was ever loaded, tokens are refused with it (the server could
    /// not decide) rather than as naming an unknown key.
    last_failure: Option<(String, String)>,
}

/// One issuer's key cache.
pub(crate) struct IssuerKeys {
    issuer: String,
    source: JwksSource,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Held by the one task that refreshes; others wait on it and then use
    /// what it loaded (single flight).
    refresh: tokio::sync::Mutex<RefreshState>,
}

/// When an issuer's keys may be fetched again.
#[derive(Clone, Copy)]
pub(crate) struct Intervals {
    pub refetch: Duration,
    pub max_age: Duration,
}

impl IssuerKeys {
    /// A cache for `issuer`; a file source is read now (an unreadable or
    /// keyless file is an error), a remote one on first use.
    pub fn new(issuer: &str, source: &JwksSource) -> Result<Self, OidcError> {
        let snapshot = match source {
            JwksSource::File(path) => {
                let (keys, stamp) = read_file(issuer, path)?;
                Snapshot {
                    keys: Arc::new(keys),
                    fetched_at: None,
                    file_stamp: Some(stamp),
                }
            }
            JwksSource::Discover | JwksSource::Url(_) => Snapshot {
                keys: Arc::new(KeySet::default()),
                fetched_at: None,
                file_stamp: None,
            },
        };
        Ok(Self {
            issuer: issuer.to_owned(),
            source: source.clone(),
            snapshot: RwLock::new(Arc::new(snapshot)),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        })
    }

    fn current(&self) -> Arc<Snapshot> {
        // A poisoned lock still holds a whole Arc: the writer only swaps it.
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        match self.snapshot.write() {
            Ok(mut s) => *s = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    fn is_remote(&self) -> bool {
        !matches!(self.source, JwksSource::File(_))
    }

    fn is_stale(&self, snap: &Snapshot, max_age: Duration) -> bool {
        self.is_remote() && snap.fetched_at.is_none_or(|t| t.elapsed() >= max_age)
    }

    /// The key a token names. An unknown `kid` (or keys never fetched, or
    /// older than `max_age`) leads to one reload, shared by every task
    /// asking meanwhile and at most once per `refetch` interval.
    pub async fn key(
        &self,
        kid: Option<&str>,
        http: &Http,
        intervals: Intervals,
    ) -> Result<Arc<Key>, OidcError> {
        let snap = self.current();
        let mut state = match snap.keys.lookup(kid) {
            Lookup::Found(key) if !self.is_stale(&snap, intervals.max_age) => return Ok(key),
            // Known but old: refresh unless another task is at it; never
            // wait for a fetch while holding a usable key.
            Lookup::Found(key) => match self.refresh.try_lock() {
                Ok(state) => state,
                Err(_) => return Ok(key),
            },
            _ => self.refresh.lock().await,
        };
        // Another task may have reloaded while this one waited.
        let snap = self.current();
        let stale = self.is_stale(&snap, intervals.max_age);
        if !stale && let Lookup::Found(key) = snap.keys.lookup(kid) {
            return Ok(key);
        }
        let may_reload = match &self.source {
            // A file is only read again when it has changed.
            JwksSource::File(_) => true,
            _ => state
                .last_attempt
                .is_none_or(|t| t.elapsed() >= intervals.refetch),
        };
        if !may_reload {
            if snap.keys.is_empty()
                && let Some((url, reason)) = &state.last_failure
            {
                return Err(OidcError::JwksFetch {
                    issuer: self.issuer.clone(),
                    url: url.clone(),
                    reason: format!("{reason} (not retried yet)"),
                });
            }
            return self.answer(&snap.keys, kid);
        }
        match self.reload(&mut state, &snap, http).await {
            Ok(Some(fresh)) => {
                let keys = fresh.keys.clone();
                self.store(fresh);
                self.answer(&keys, kid)
            }
            // The file has not changed.
            Ok(None) => self.answer(&snap.keys, kid),
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "cannot reload the issuer's JWKS");
                match snap.keys.lookup(kid) {
                    // Keep using what was loaded before.
                    Lookup::Found(key) => Ok(key),
                    _ => Err(e),
                }
            }
        }
    }

    fn answer(&self, keys: &KeySet, kid: Option<&str>) -> Result<Arc<Key>, OidcError> {
        match keys.lookup(kid) {
            Lookup::Found(key) => Ok(key),
            Lookup::UnknownKid => Err(OidcError::UnknownKid {
                issuer: self.issuer.clone(),
                kid: kid.map(truncate).unwrap_or_default(),
            }),
            Lookup::Ambiguous(keys) => Err(OidcError::MissingKid {
                issuer: self.issuer.clone(),
                keys,
            }),
        }
    }

    /// Loads the keys again: `Ok(None)` when a file has not changed.
    async fn reload(
        &self,
        state: &mut RefreshState,
        previous: &Snapshot,
        http: &Http,
    ) -> Result<Option<Snapshot>, OidcError> {
        let url = match &self.source {
            JwksSource::File(path) => {
                let stamp = file_stamp(&self.issuer, path)?;
                if previous.file_stamp == Some(stamp) {
                    return Ok(None);
                }
                let (keys, stamp) = read_file(&self.issuer, path)?;
                tracing::info!(
                    issuer = %self.issuer,
                    path = %path.display(),
                    keys = keys.len(),
                    "reloaded the issuer's JWKS file"
                );
                return Ok(Some(Snapshot {
                    keys: Arc::new(keys),
                    fetched_at: None,
                    file_stamp: Some(stamp),
                }));
            }
            JwksSource::Url(url) => {
                state.last_attempt = Some(Instant::now());
                url.clone()
            }
            JwksSource::Discover => {
                state.last_attempt = Some(Instant::now());
                match &state.jwks_uri {
                    Some(url) => url.clone(),
                    None => {
                        let url = self.discover(http).await.inspect_err(|e| {
                            if let OidcError::JwksFetch { url, reason, .. } = e {
                                state.last_failure = Some((url.clone(), reason.clone()));
                            }
                        })?;
                        state.jwks_uri = Some(url.clone());
                        url
                    }
                }
            }
        };
        let fetched = http.get(&url).await.and_then(|body| parse_jwks(&body));
        let (keys, skipped) = match fetched {
            Ok(parsed) => parsed,
            Err(reason) => {
                // The issuer may have moved its keys: discover again next time.
                state.jwks_uri = None;
                state.last_failure = Some((url.clone(), reason.clone()));
                return Err(OidcError::JwksFetch {
                    issuer: self.issuer.clone(),
                    url,
                    reason,
                });
            }
        };
        if !skipped.is_empty() {
            tracing::info!(issuer = %self.issuer, %url, skipped = %skipped.join("; "), "JWKS keys left out");
        }
        tracing::debug!(issuer = %self.issuer, %url, keys = keys.len(), "fetched the issuer's JWKS");
        state.last_failure = None;
        Ok(Some(Snapshot {
            keys: Arc::new(keys),
            fetched_at: Some(Instant::now()),
            file_stamp: None,
        }))
    }

    /// The `jwks_uri` of the issuer's discovery document, whose `issuer`
    /// must be the issuer itself (OpenID Connect Discovery 1.0, section 4.3).
    async fn discover(&self, http: &Http) -> Result<String, OidcError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let fail = |reason: String| OidcError::JwksFetch {
            issuer: self.issuer.clone(),
            url: url.clone(),
            reason,
        };
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let body = http.get(&url).await.map_err(fail)?;
        let doc: Discovery = serde_json::from_slice(&body)
            .map_err(|e| fail(format!("not a discovery document: {e}")))?;
        if doc.issuer != self.issuer {
            return Err(fail(format!(
                "the discovery document is for issuer {:?}",
                truncate(&doc.issuer)
            )));
        }
        let jwks = url::Url::parse(&doc.jwks_uri)
            .map_err(|e| fail(format!("`jwks_uri` is not a URL: {e}")))?;
        if !url_allowed(&jwks) {
            return Err(fail(format!(
                "`jwks_uri` {} is not https",
                truncate(&doc.jwks_uri)
            )));
        }
        Ok(doc.jwks_uri)
    }

    /// Fetches a remote JWKS now, whatever the intervals say (a server's
    /// warm-up at start).
    pub async fn prefetch(&self, http: &Http) -> Result<(), OidcError> {
        if !self.is_remote() {
            return Ok(());
        }
        let mut state = self.refresh.lock().await;
        let snap = self.current();
        if let Some(fresh) = self.reload(&mut state, &snap, http).await? {
            self.store(fresh);
        }
        Ok(())
    }
}

fn file_stamp(issuer: &str, path: &Path) -> Result<(SystemTime, u64), OidcError> {
    let meta = std::fs::metadata(path).map_err(|e| OidcError::JwksFile {
        issuer: issuer.to_owned(),
        path: path.to_owned(),
        reason: format!("cannot read: {e}"),
    })?;
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    Ok((modified, meta.len()))
}

fn read_file(issuer: &str, path: &Path) -> Result<(KeySet, (SystemTime, u64)), OidcError> {
    let fail = |reason: String| OidcError::JwksFile {
        issuer: issuer.to_owned(),
        path: path.to_owned(),
        reason,
    };
    let stamp = file_stamp(issuer, path)?;
    if stamp.1 > MAX_JWKS_BYTES as u64 {
        return Err(fail(format!("over {MAX_JWKS_BYTES} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let (keys, skipped) = parse_jwks(&bytes).map_err(fail)?;
    if !skipped.is_empty() {
        tracing::info!(issuer, path = %path.display(), skipped = %skipped.join("; "), "JWKS keys left out");
    }
    Ok((keys, stamp))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn set(keys: Value) -> Result<(KeySet, Vec<String>), String> {
        parse_jwks(json!({ "keys": keys }).to_string().as_bytes())
    }

    #[test]
    fn algorithms_come_from_the_key() {
        let n = {
            let mut n = vec![0xc5; 256];
            n[255] |= 1;
            n
        };
        let (keys, skipped) = set(json!([
            {"kty": "OKP", "crv": "Ed25519", "x": b64(&[7; 32]), "kid": "ed"},
            {"kty": "EC", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32]), "kid": "ec"},
            {"kty": "RSA", "n": b64(&n), "e": "AQAB", "kid": "rsa"},
            {"kty": "RSA", "n": b64(&n), "e": "AQAB", "kid": "pss", "alg": "PS256"},
        ]))
        .unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        let alg = |kid| match keys.lookup(Some(kid)) {
            Lookup::Found(k) => k.alg,
            _ => panic!("{kid} missing"),
        };
        assert_eq!(alg("ed"), Algorithm::EdDSA);
        assert_eq!(alg("ec"), Algorithm::ES256);
        assert_eq!(alg("rsa"), Algorithm::RS256);
        assert_eq!(alg("pss"), Algorithm::PS256);
        assert!(matches!(keys.lookup(Some("x")), Lookup::UnknownKid));
        assert!(matches!(keys.lookup(None), Lookup::Ambiguous(4)));
    }

    #[test]
    fn unusable_keys_are_left_out() {
        let short_n = b64(&[0xc5; 128]);
        let (keys, skipped) = set(json!([
            {"kty": "OKP", "crv": "Ed25519", "x": b64(&[7; 32])},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "RSA", "n": short_n, "e": "AQAB", "kid": "small"},
            {"kty": "EC", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32]), "alg": "ES384"},
            {"kty": "EC", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32]), "use": "enc"},
            {"kty": "EC", "crv": "secp256k1", "x": b64(&[1; 32]), "y": b64(&[2; 32])},
            {"kty": "OKP", "crv": "Ed25519", "x": b64(&[7; 31])},
            {"kty": "RSA", "n": b64(&[0xc5; 256]), "e": "AQAB", "alg": "HS256"},
            "not an object",
        ]))
        .unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(skipped.len(), 8, "{skipped:?}");
        assert!(skipped[0].contains("symmetric"), "{skipped:?}");
        assert!(skipped[1].contains("1024 bits"), "{skipped:?}");
        // The only key, without a kid, serves tokens that name none.
        assert!(matches!(keys.lookup(None), Lookup::Found(_)));

        let err = set(json!([{"kty": "oct", "k": "c2VjcmV0"}])).err().unwrap();
        assert!(err.contains("no usable signing key"), "{err}");
        assert!(set(json!([])).is_err());
        assert!(parse_jwks(b"[]").is_err());
    }
}
