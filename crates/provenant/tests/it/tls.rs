//! Transport security end to end: `serve --tls-cert/--tls-key` with a
//! private CA (made here with `openssl`), the CLI trusting it through
//! `--ca-file` and refusing the server without it, certificate reloads (on
//! SIGHUP and when the files change), tokens refused over plain HTTP to
//! another host, failed authentications limited per address, and
//! `serve --admin-token-file`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;

use super::{BIN, Server, assert_same_tree, free_port, start_with, write};

/// Run `openssl` with `args` in `dir`, or fail the test with its stderr.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private CA in `dir` (`ca.crt`, `ca.key`); `None` (after a skip, which
/// fails under CI) where `openssl` is missing.
fn make_ca(dir: &Path) -> Option<PathBuf> {
    if !provenant_testkit::require_program("openssl") {
        return None;
    }
    write(
        &dir.join("ca.cnf"),
        b"[req]\nprompt = no\ndistinguished_name = dn\nx509_extensions = v3_ca\n\
          [dn]\nCN = Provenant test CA\n\
          [v3_ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
          subjectKeyIdentifier = hash\n",
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-config",
            "ca.cnf",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    );
    Some(dir.join("ca.crt"))
}

/// A server certificate for `localhost` and 127.0.0.1, issued by the CA in
/// `dir` with serial `serial`: (`<name>.crt`, `<name>.key`).
fn issue(dir: &Path, name: &str, serial: u32) -> (PathBuf, PathBuf) {
    write(
        &dir.join("leaf.cnf"),
        b"[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = localhost\n",
    );
    write(
        &dir.join("leaf.ext"),
        b"basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
          extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n\
          subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    );
    let (crt, key, csr) = (
        format!("{name}.crt"),
        format!("{name}.key"),
        format!("{name}.csr"),
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-config",
            "leaf.cnf",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial.to_string(),
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            &crt,
        ],
    );
    (dir.join(crt), dir.join(key))
}

/// A PEM file's bytes padded with newlines to 4 KiB (PEM ignores what lies
/// between its blocks).
fn padded(pem: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(pem).unwrap();
    assert!(bytes.len() < 4096);
    bytes.resize(4096, b'\n');
    bytes
}

/// The DER of the certificate a PEM file starts with.
fn der(pem: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(pem).unwrap().to_vec()
}

/// The certificate the server on `port` presents now, through a rustls
/// client that trusts only `ca` (so it also checks the chain and the name).
fn served_cert(port: u16, ca: &Path) -> Vec<u8> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap();
    }
    conn.peer_certificates().unwrap()[0].to_vec()
}

/// Wait (at most `within`) until the server on `port` presents `want`.
fn wait_for_cert(port: u16, ca: &Path, want: &[u8], within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while served_cert(port, ca) != want {
        assert!(
            Instant::now() < deadline,
            "{what}: the new certificate is not served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// The CLI against `url` with the server's token and a config file of its own.
fn cli(s: &Server, url: &str, cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("PROVENANT_URL", url)
        .env("PROVENANT_TOKEN", &s.token)
        .env("PROVENANT_CONFIG", cwd.join("no-config.toml"))
        .env_remove("PROVENANT_CA_FILE")
        .env_remove("PROVENANT_INSECURE_HTTP")
        .output()
        .unwrap()
}

/// [`cli`] with another token.
fn cli_with_token(url: &str, cwd: &Path, token: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("PROVENANT_URL", url)
        .env("PROVENANT_TOKEN", token)
        .env("PROVENANT_CONFIG", cwd.join("no-config.toml"))
        .env_remove("PROVENANT_CA_FILE")
        .env_remove("PROVENANT_INSECURE_HTTP")
        .output()
        .unwrap()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn https_end_to_end_with_a_private_ca_and_certificate_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    let Some(ca) = make_ca(&pki) else {
        return;
    };
    let ca_arg = ca.to_str().unwrap().to_owned();
    let (crt_a, key_a) = issue(&pki, "a", 1001);
    let (crt_b, key_b) = issue(&pki, "b", 1002);
    let (crt_c, key_c) = issue(&pki, "c", 1003);
    // The files the server reads; the test replaces their contents. They
    // are padded to one size (PEM ignores text between blocks), so that a
    // replacement in place can keep their size.
    let live_crt = pki.join("live.crt");
    let live_key = pki.join("live.key");
    std::fs::write(&live_crt, padded(&crt_a)).unwrap();
    std::fs::write(&live_key, padded(&key_a)).unwrap();

    let s = start_with(
        dir.path(),
        None,
        &[
            "--tls-cert",
            live_crt.to_str().unwrap(),
            "--tls-key",
            live_key.to_str().unwrap(),
        ],
    );
    let port = port_of(&s.url);
    let url = format!("https://localhost:{port}");
    assert_eq!(served_cert(port, &ca), der(&crt_a));

    // Without the CA, the server's certificate is refused.
    let work = dir.path();
    let out = cli(&s, &url, work, &["list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("certificate"), "a certificate error: {err}");
    // Plain HTTP to a TLS port is no way in either.
    let out = cli(&s, &format!("http://127.0.0.1:{port}"), work, &["list"]);
    assert!(!out.status.success());

    // With it: push and pull a small model, over the name and over the IP.
    let model = work.join("small");
    write(&model.join("weights.bin"), &super::noise(300_000, 7));
    write(&model.join("config.json"), br#"{"layers": 1}"#);
    let pushed: Value = serde_json::from_str(&ok(
        &cli(
            &s,
            &url,
            work,
            &[
                "--ca-file",
                &ca_arg,
                "push",
                "small",
                "--model",
                "tls/small",
                "--json",
            ],
        ),
        "push over https",
    ))
    .unwrap();
    assert_eq!(pushed["version"]["reference"], "tls/small:1", "{pushed}");
    ok(
        &cli(
            &s,
            &format!("https://127.0.0.1:{port}"),
            work,
            &["pull", "tls/small:1", "pulled", "--ca-file", &ca_arg],
        ),
        "pull over https by IP",
    );
    assert_same_tree(&model, &work.join("pulled"));
    // The variable does what the flag does.
    let out = Command::new(BIN)
        .args(["list"])
        .current_dir(work)
        .env("PROVENANT_URL", &url)
        .env("PROVENANT_TOKEN", &s.token)
        .env("PROVENANT_CA_FILE", &ca)
        .env("PROVENANT_CONFIG", work.join("no-config.toml"))
        .output()
        .unwrap();
    assert!(ok(&out, "list with PROVENANT_CA_FILE").contains("tls/small"));

    // login remembers the CA file; later commands need nothing else.
    let cfg = work.join("cfg/config.toml");
    let login = Command::new(BIN)
        .args(["login", "--url", &url, "--token", &s.token, "--ca-file"])
        .arg(pki.join("../pki/ca.crt"))
        .current_dir(work)
        .env("PROVENANT_CONFIG", &cfg)
        .env_remove("PROVENANT_URL")
        .env_remove("PROVENANT_TOKEN")
        .env_remove("PROVENANT_CA_FILE")
        .output()
        .unwrap();
    ok(&login, "login --ca-file");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("ca_file = "), "{text}");
    let elsewhere = work.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = Command::new(BIN)
        .args(["list"])
        .current_dir(&elsewhere)
        .env("PROVENANT_CONFIG", &cfg)
        .env_remove("PROVENANT_URL")
        .env_remove("PROVENANT_TOKEN")
        .env_remove("PROVENANT_CA_FILE")
        .output()
        .unwrap();
    assert!(ok(&out, "list from the config file").contains("tls/small"));

    // SIGHUP: the files are rewritten in place keeping their inode, size
    // and modification time, which the poll does not notice: only the
    // signal can explain a reload.
    #[cfg(unix)]
    {
        let replace_in_place = |path: &Path, from: &Path| {
            let before = std::fs::metadata(path).unwrap();
            let file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .unwrap();
            std::io::Write::write_all(&mut &file, &padded(from)).unwrap();
            file.set_modified(before.modified().unwrap()).unwrap();
            drop(file);
            let after = std::fs::metadata(path).unwrap();
            assert_eq!(
                (after.len(), after.modified().unwrap()),
                (before.len(), before.modified().unwrap())
            );
        };
        replace_in_place(&live_key, &key_b);
        replace_in_place(&live_crt, &crt_b);
        let hup = Command::new("kill")
            .args(["-HUP", &s.child.id().to_string()])
            .status()
            .unwrap();
        assert!(hup.success());
        wait_for_cert(port, &ca, &der(&crt_b), Duration::from_secs(3), "SIGHUP");
        ok(
            &cli(&s, &url, work, &["list", "--ca-file", &ca_arg]),
            "list after SIGHUP",
        );
    }

    // A change of the files is noticed by the poll (every 5 s): the key
    // and the certificate replaced by rename, one after the other.
    let swap = |path: &Path, from: &Path| {
        let tmp = path.with_extension("tmp");
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    };
    swap(&live_key, &key_c);
    swap(&live_crt, &crt_c);
    wait_for_cert(
        port,
        &ca,
        &der(&crt_c),
        Duration::from_secs(20),
        "file change",
    );

    // A broken certificate file: the server keeps serving the last good one.
    std::fs::write(&live_crt, b"-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(served_cert(port, &ca), der(&crt_c));
    ok(
        &cli(&s, &url, work, &["list", "--ca-file", &ca_arg]),
        "list after a failed reload",
    );
}

#[test]
fn a_bad_certificate_or_key_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    let Some(_ca) = make_ca(&pki) else {
        return;
    };
    let (crt_a, _key_a) = issue(&pki, "a", 1);
    let (_crt_b, key_b) = issue(&pki, "b", 2);
    let serve = |crt: &Path, key: &Path| {
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--tls-cert")
            .arg(crt)
            .arg("--tls-key")
            .arg(key)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = serve(&crt_a, &key_b);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&key_b.display().to_string()) && err.contains("does not belong"),
        "{err}"
    );
    let missing = pki.join("missing.crt");
    let out = serve(&missing, &key_b);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created before the certificate is known to be good"
    );
    // One without the other is a usage error.
    let out = Command::new(BIN)
        .args(["serve", "--tls-cert"])
        .arg(&crt_a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}

#[test]
fn a_token_is_not_sent_in_clear_to_another_host() {
    let dir = tempfile::tempdir().unwrap();
    let run = |url: &str, extra: &[&str]| {
        let started = Instant::now();
        let out = Command::new(BIN)
            .args(["list", "--url", url, "--token", "pvt_not_sent"])
            .args(extra)
            .env("PROVENANT_CONFIG", dir.path().join("no-config.toml"))
            .env_remove("PROVENANT_URL")
            .env_remove("PROVENANT_TOKEN")
            .env_remove("PROVENANT_INSECURE_HTTP")
            .output()
            .unwrap();
        (out, started.elapsed())
    };
    // TEST-NET-1: nothing answers there; a connection attempt would hang
    // for the connect timeout (10 s).
    let (out, took) = run("http://192.0.2.1:1", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refusing to send the API token over plain http:// to 192.0.2.1")
            && err.contains("--insecure-http"),
        "{err}"
    );
    assert!(
        took < Duration::from_secs(5),
        "refused before any connection ({took:?})"
    );
    // With --insecure-http (or its variable) the request is made: 0.0.0.0 is
    // not loopback by name, and nothing listens on its port 1.
    for extra in [&["--insecure-http"][..], &[]] {
        let mut cmd = Command::new(BIN);
        cmd.args(["list", "--url", "http://0.0.0.0:1", "--token", "pvt_x"])
            .args(extra)
            .env("PROVENANT_CONFIG", dir.path().join("no-config.toml"))
            .env_remove("PROVENANT_URL")
            .env_remove("PROVENANT_TOKEN");
        if extra.is_empty() {
            cmd.env("PROVENANT_INSECURE_HTTP", "true");
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot reach the registry")
                && err.contains("warning: sending the API token over plain http://")
                && !err.contains("refusing"),
            "{extra:?}: {err}"
        );
    }
    // Loopback stays allowed (the request is made, and fails to connect).
    let port = free_port();
    let (out, _) = run(&format!("http://127.0.0.1:{port}"), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the registry"), "{err}");
}

/// Status, `code` and `Retry-After` of a GET of `path` with `token`.
fn get(url: &str, path: &str, token: Option<&str>) -> (u16, Value, Option<u64>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut rb = reqwest::Client::new().get(format!("{url}{path}"));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let resp = rb.send().await.unwrap();
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse().unwrap());
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null), retry)
    })
}

#[test]
fn failed_authentications_are_limited_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(
        dir.path(),
        None,
        &["--auth-failure-burst", "3", "--auth-failure-refill", "60"],
    );
    // Requests without credentials do not count: they guess nothing.
    for _ in 0..5 {
        let (status, body, _) = get(&s.url, "/api/v1/whoami", None);
        assert_eq!(status, 401, "{body}");
    }
    // A caller with a real credential, validated before the guessing starts.
    let (status, body, _) = get(&s.url, "/api/v1/models", Some(&s.token));
    assert_eq!(status, 200, "{body}");
    let bad = "pvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for i in 0..3 {
        let (status, body, _) = get(&s.url, "/api/v1/models", Some(bad));
        assert_eq!(status, 401, "failure {i}: {body}");
    }
    let (status, body, retry) = get(&s.url, "/api/v1/models", Some(bad));
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_failures")),
        "{body}"
    );
    let retry = retry.expect("Retry-After");
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    // Credentials not yet validated are not looked at meanwhile, a real
    // one included ...
    let (status, body, _) = get(&s.url, "/api/v1/models", Some(&s.token));
    assert_eq!(status, 200, "{body}");
    let out = cli(
        &s,
        &s.url,
        dir.path(),
        &["token", "create", "late", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let late = created["token"].as_str().unwrap();
    let (status, body, _) = get(&s.url, "/api/v1/models", Some(late));
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_failures")),
        "{body}"
    );
    // ... but the guesses do not lock out the caller whose credential this
    // server validated moments ago (one behind the same address).
    let (status, body, _) = get(&s.url, "/api/v1/models", Some(&s.token));
    assert_eq!(status, 200, "{body}");
    // Requests without credentials are not refused.
    let (status, _, _) = get(&s.url, "/healthz", None);
    assert_eq!(status, 200);
    // The CLI says what happened.
    let out = cli_with_token(&s.url, dir.path(), late, &["list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("too_many_failures"),
        "{err}"
    );
}

#[test]
fn admin_token_file_on_first_start_only() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let make = |byte: u8| {
        format!(
            "pvt_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([byte; 32])
        )
    };
    let (token, other_token) = (make(7), make(9));
    let token = token.as_str();
    let file = dir.path().join("admin-token");
    write(&file, format!("  {token}\n").as_bytes());
    let spawn = |token_file: &Path| {
        let port = free_port();
        let child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .arg("--admin-token-file")
            .arg(token_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            token: token.to_owned(),
            data: dir.path().join("data"),
        }
    };
    let s = spawn(&file);
    assert!(
        !s.data.join("admin.token").exists(),
        "no admin.token is written when the token is given"
    );
    let (status, body, _) = get(&s.url, "/api/v1/whoami", Some(token));
    assert_eq!(status, 200, "{body}");
    drop(s);

    // Once tokens exist the file is not read: another token in it changes nothing.
    let other = dir.path().join("other-token");
    write(&other, format!("{other_token}\n").as_bytes());
    let s = spawn(&other);
    assert_eq!(get(&s.url, "/api/v1/whoami", Some(token)).0, 200);
    let (status, _, _) = get(&s.url, "/api/v1/whoami", Some(&other_token));
    assert_eq!(status, 401);
    drop(s);

    // A file that holds no proper token stops a first start, naming the file.
    let padded = format!("{token}=\n");
    for (content, needle) in [
        ("hunter2\n", "starts with pvt_"),
        ("pvt_short\n", "43 base64url characters"),
        (padded.as_str(), "this one has 44 characters"),
    ] {
        let fresh = tempfile::tempdir().unwrap();
        let bad = fresh.path().join("bad-token");
        write(&bad, content.as_bytes());
        let out = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(fresh.path().join("data"))
            .arg("--admin-token-file")
            .arg(&bad)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&bad.display().to_string()) && err.contains(needle),
            "{needle}: {err}"
        );
        assert!(
            !err.contains("hunter2"),
            "the file's content is not shown: {err}"
        );
    }
}
