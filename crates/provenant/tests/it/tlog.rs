//! The transparency log end to end, on SQLite and PostgreSQL: every registry
//! change lands in the log; `log verify`, `log prove`, `audit verify` and
//! `audit export` work against a running server; tampering with each stored
//! piece (a database row, an entry bundle, a hash tile, a tile's length, the
//! checkpoint signature, a shrunk or forked checkpoint) is detected and
//! named; a witness cosigns.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use provenant_testkit::{ServeDatabase, execute};
use serde_json::Value;

use crate::{BIN, Server, free_port, start, start_with, write};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs SQL against the server's database behind its back.
fn sql(s: &Server, db: Option<&str>, statement: &str) -> u64 {
    let url = match db {
        Some(u) => u.to_owned(),
        None => format!("sqlite://{}", s.data.join("meta.db").display()),
    };
    rt().block_on(execute(&url, statement))
}

/// GET a path; (status, cache-control, body).
/// An anonymous GET, except for what names models and people (log entries
/// and entry bundles), which needs an auditor's or admin's token: those go
/// with the admin's token (`get_anonymous` sends none).
fn get(s: &Server, path: &str) -> (u16, String, Vec<u8>) {
    let private =
        path.starts_with("/api/v1/log/entries/") || path.starts_with("/log/tile/entries/");
    get_with(s, path, private.then_some(s.token.as_str()))
}

fn get_anonymous(s: &Server, path: &str) -> (u16, String, Vec<u8>) {
    get_with(s, path, None)
}

fn get_with(s: &Server, path: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    rt().block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut rb = reqwest::Client::new().get(format!("{}{path}", s.url));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let cc = resp
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, cc, resp.bytes().await.unwrap().to_vec())
    })
}

fn checkpoint_size(s: &Server) -> u64 {
    let (_, _, body) = get(s, "/log/checkpoint");
    let text = String::from_utf8(body).unwrap();
    text.lines().nth(1).unwrap().parse().unwrap()
}

/// Waits until every change is sequenced (the export shows nothing pending).
fn wait_logged(s: &Server, dir: &Path) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = s.ok(dir, &["audit", "export", "--since", "2000-01-01"]);
        // The log's part of the trail (the access part follows it).
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["trail"] == "log")
            .collect();
        if lines.iter().all(|l| l["outcome"] == "logged") {
            return lines;
        }
        assert!(Instant::now() < deadline, "entries stay pending: {out}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The files of `log/` whose path starts with `prefix` (e.g. `tile/0/000`).
fn log_object(s: &Server, prefix: &str) -> PathBuf {
    let root = s.data.join("blobs/log");
    let full = root.join(prefix);
    if full.is_file() {
        return full;
    }
    // The partial tile: `<prefix>.p/<W>`.
    let p = root.join(format!("{prefix}.p"));
    let entry = std::fs::read_dir(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .next()
        .unwrap()
        .unwrap();
    entry.path()
}

fn restart(s: Server, dir: &Path, db: Option<&str>) -> Server {
    drop(s);
    start(dir, db)
}

fn log_flow(dir: &Path, db: Option<&str>) {
    let mut s = start(dir, db);
    let w = dir.join("work");
    write(&w.join("m/weights.bin"), &[7u8; 4096]);
    write(&w.join("m/config.json"), b"{}");
    // Every kind of change.
    s.ok(&w, &["push", "m", "--model", "aiops/tl", "--label", "a=1"]);
    s.ok(&w, &["label", "aiops/tl:1", "team=sre", "--remove", "a"]);
    s.ok(&w, &["alias", "set", "aiops/tl:1", "production"]);
    write(&w.join("m/config.json"), b"{\"v\":2}");
    s.ok(&w, &["push", "m", "--model", "aiops/tl"]);
    s.ok(&w, &["alias", "set", "aiops/tl:2", "production"]);
    s.ok(&w, &["deprecate", "aiops/tl:1", "--reason", "drift"]);
    s.ok(&w, &["archive", "aiops/tl:1", "--reason", "replaced"]);
    crate::signing::signed_flow(&s, &w);

    let key = s.ok(&w, &["log", "key"]).trim().to_owned();
    assert!(key.contains('+'), "{key}");
    let events = wait_logged(&s, &w);
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["what"].as_str().unwrap()).collect();
    for k in [
        "version.published",
        "labels.changed",
        "alias.moved",
        "version.deprecated",
        "version.archived",
        "attachment.added",
        "trusted_key.added",
        "trusted_key.removed",
    ] {
        assert!(kinds.contains(k), "no {k} entry in {kinds:?}");
    }
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["log_index"], i as u64, "{e}");
        assert!(e["who"].is_string() && e["when"].is_string() && e["target"].is_string());
    }
    let size = checkpoint_size(&s);
    assert_eq!(size, events.len() as u64);

    // An accepted signature bundle carries its log entry: it verifies offline.
    let (status, sigs) = s.api(
        "GET",
        "/api/v1/models/secure%2Fdetector/versions/1/signatures",
        Value::Null,
    );
    assert_eq!(status, 200, "{sigs}");
    let digest = sigs[0]["digest"].as_str().unwrap();
    let (status, bundle) = s.api(
        "GET",
        &format!("/api/v1/models/secure%2Fdetector/versions/1/signatures/{digest}"),
        Value::Null,
    );
    assert_eq!(status, 200);
    // A digest the version has no bundle for, or text that is no digest,
    // names nothing: 404 either way.
    for missing in [
        format!("sha256:{}", "0".repeat(64)),
        "sha256:nothex".to_owned(),
        "detector".to_owned(),
    ] {
        for kind in ["signatures", "attestations"] {
            let (status, body) = s.api(
                "GET",
                &format!("/api/v1/models/secure%2Fdetector/versions/1/{kind}/{missing}"),
                Value::Null,
            );
            assert_eq!(status, 404, "{kind}/{missing}: {body}");
            assert_eq!(body["code"], "version_not_found", "{body}");
        }
    }
    let t = &bundle["verificationMaterial"]["tlogEntries"][0];
    let b64 = |v: &Value| provenant_tlog::Hash::from_base64(v.as_str().unwrap()).unwrap();
    let body = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(t["canonicalizedBody"].as_str().unwrap())
            .unwrap()
    };
    assert!(String::from_utf8_lossy(&body).contains("attachment.added"));
    let proof: Vec<_> = t["inclusionProof"]["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64)
        .collect();
    let tree_size: u64 = t["inclusionProof"]["treeSize"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let index: u64 = t["logIndex"].as_str().unwrap().parse().unwrap();
    let note = t["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap();
    let mut vs = provenant_tlog::Verifiers::new();
    vs.push(provenant_tlog::Ed25519Verifier::from_vkey(&key).unwrap());
    let (cp, _) = provenant_tlog::Checkpoint::open(note.as_bytes(), None, &vs).unwrap();
    assert_eq!(
        (cp.size, cp.root),
        (tree_size, b64(&t["inclusionProof"]["rootHash"]))
    );
    provenant_tlog::verify_inclusion(
        &provenant_tlog::leaf_hash(&body),
        index,
        tree_size,
        &proof,
        &cp.root,
    )
    .unwrap();

    // The checkpoint is a C2SP checkpoint in a signed note.
    let cp = s.ok(&w, &["log", "checkpoint"]);
    let lines: Vec<&str> = cp.lines().collect();
    assert_eq!(lines[1], size.to_string());
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with("\u{2014} "), "{cp}");

    let state = w.join("state");
    let st = state.to_str().unwrap();
    let trust = ["--log-key", &key, "--state-dir", st];
    let verify = |s: &Server| {
        let mut a = vec!["log", "verify"];
        a.extend(trust);
        s.ok(&w, &a)
    };
    let out = verify(&s);
    assert!(out.contains("first checkpoint seen"), "{out}");
    let mut a = vec!["log", "prove", "aiops/tl:1"];
    a.extend(trust);
    let out = s.ok(&w, &a);
    assert!(
        out.contains("version.published") && out.contains("labels.changed"),
        "{out}"
    );
    let mut a = vec!["log", "prove", "0"];
    a.extend(trust);
    s.ok(&w, &a);
    let mut a = vec!["audit", "verify"];
    a.extend(trust);
    assert!(s.ok(&w, &a).contains("audit passed"));

    // A wrong pinned key is refused.
    let (_, other_vkey) = provenant_tlog::generate_key("other.test/log").unwrap();
    s.fails(
        &w,
        &["log", "verify", "--log-key", &other_vkey, "--state-dir", st],
        1,
        "no verifiable signature",
    );

    // Bad requests name what is wrong.
    let (status, _, body) = get(&s, &format!("/api/v1/log/proof/inclusion?index={size}"));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("out of range"));
    let (status, _, _) = get(
        &s,
        &format!("/api/v1/log/proof/inclusion?index=0&size={}", size + 5),
    );
    assert_eq!(status, 404);
    // Inclusion by entry hash finds the same index.
    let e: Value = serde_json::from_slice(&get(&s, "/api/v1/log/entries/3").2).unwrap();
    let by_hash: Value = serde_json::from_slice(
        &get(
            &s,
            &format!(
                "/api/v1/log/proof/inclusion?hash={}",
                e["leaf_hash"].as_str().unwrap()
            ),
        )
        .2,
    )
    .unwrap();
    assert_eq!(by_hash["index"], 3, "{by_hash}");
    assert_eq!(
        e["leaf_hash"].as_str().unwrap(),
        provenant_tlog::leaf_hash(e["entry"].as_str().unwrap().as_bytes()).to_hex()
    );
    // A proof asked for a size that does not hold the index.
    let (status, _, body) = get(&s, "/api/v1/log/proof/inclusion?index=5&size=3");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(
        String::from_utf8_lossy(&body)
            .contains("leaf index 5 is out of range for a tree of size 3")
    );
    let (status, _, _) = get(
        &s,
        &format!("/api/v1/log/proof/consistency?old={}&new=1", size),
    );
    assert_eq!(status, 400);
    let (status, _, _) = get(&s, "/log/tile/0/001");
    assert_eq!(status, 404);
    let (status, _, body) = get(&s, "/log/tile/0/01");
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("tile"));
    let (status, _, _) = get(&s, "/api/v1/log/entries/999999");
    assert_eq!(status, 404);
    // Entries and entry bundles name models and people: not public. Hash
    // tiles, checkpoints and proofs are.
    for private in ["/api/v1/log/entries/0", "/log/tile/entries/000.p/1"] {
        let (status, _, body) = get_anonymous(&s, private);
        assert_eq!(status, 401, "{private}: {}", String::from_utf8_lossy(&body));
    }
    // Spelled so that the public tile route matches and decodes it into an
    // entry bundle: still not served.
    for private in [
        "/log/tile/%65ntries/000.p/1",
        "/log/tile/entries%2F000.p%2F1",
    ] {
        let (status, _, body) = get_anonymous(&s, private);
        assert!(
            status == 404 || status == 401,
            "{private}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    for public in [
        "/log/checkpoint",
        "/log/key",
        "/api/v1/log/proof/inclusion?index=0",
    ] {
        let (status, _, body) = get_anonymous(&s, public);
        assert_eq!(status, 200, "{public}: {}", String::from_utf8_lossy(&body));
    }

    // Fill the first tile: full tiles are immutable and cacheable forever.
    let (status, _) = s.api("GET", "/api/v1/models/aiops%2Ftl/versions/2", Value::Null);
    assert_eq!(status, 200);
    for i in 0..(256 - size % 256) {
        let (status, body) = s.api(
            "POST",
            "/api/v1/models/aiops%2Ftl/versions/2/labels",
            serde_json::json!({"set": {"n": i.to_string()}, "remove": []}),
        );
        assert_eq!(status, 200, "{body}");
    }
    wait_logged(&s, &w);
    let (status, cc, body) = get(&s, "/log/tile/0/000");
    assert_eq!((status, body.len()), (200, 8192));
    assert!(cc.contains("immutable"), "{cc}");
    let (status, _, _) = get(&s, "/log/tile/entries/000");
    assert_eq!(status, 200);
    // A client of an older checkpoint still gets its partial tile.
    let (status, _, body) = get(&s, "/log/tile/0/000.p/3");
    assert_eq!((status, body.len()), (200, 96));
    let out = verify(&s);
    assert!(
        out.contains(&format!("consistent with size {size}")),
        "{out}"
    );
    let size = checkpoint_size(&s);
    let good_note = String::from_utf8(get(&s, "/log/checkpoint").2).unwrap();

    let mut audit = vec!["audit", "verify"];
    audit.extend(trust);

    // 1. A database row that disagrees with its log entry.
    let n = sql(
        &s,
        db,
        "UPDATE versions SET metadata_digest = 'sha256:0000000000000000000000000000000000000000000000000000000000000000' WHERE number = 1 AND model_id = (SELECT id FROM models WHERE full_name = 'aiops/tl')",
    );
    assert_eq!(n, 1);
    s.fails(
        &w,
        &audit,
        1,
        "PROBLEM at log index 0: log entry 0 disagrees with versions row",
    );
    s.fails(&w, &audit, 1, "details.metadata_digest");
    // 2. A registry row with no log entry.
    sql(
        &s,
        db,
        "DELETE FROM log_events WHERE source = 'alias_history'",
    );
    s.fails(&w, &audit, 1, "has no log entry (alias.moved missing)");

    // 3. A tampered entry bundle.
    let bundle = log_object(&s, "tile/entries/000");
    let saved = std::fs::read(&bundle).unwrap();
    let mut bytes = saved.clone();
    let at = bytes.iter().position(|&b| b == b'r').unwrap(); // inside entry 0's JSON
    bytes[at] = b'R';
    std::fs::write(&bundle, &bytes).unwrap();
    s = restart(s, dir, db);
    s.fails(&w, &audit, 1, "PROBLEM at log index 0: tile tile/0/000");
    s.fails(
        &w,
        &audit,
        1,
        "differs from the tree recomputed from the entry bundles",
    );
    std::fs::write(&bundle, &saved).unwrap();

    // 4. A tampered hash tile: proofs through it fail, and the audit names it.
    let tile = log_object(&s, "tile/0/000");
    let saved = std::fs::read(&tile).unwrap();
    let mut bytes = saved.clone();
    bytes[32] ^= 1; // leaf hash of entry 1, on entry 0's proof path
    std::fs::write(&tile, &bytes).unwrap();
    s = restart(s, dir, db);
    s.fails(&w, &audit, 1, "PROBLEM at log index 1: tile tile/0/000");
    let mut a = vec!["log", "prove", "0"];
    a.extend(trust);
    s.fails(&w, &a, 1, "entry 0 is not proven");

    // 5. A tile of the wrong length.
    std::fs::write(&tile, &saved[..saved.len() - 5]).unwrap();
    s = restart(s, dir, db);
    s.fails(
        &w,
        &audit,
        1,
        &format!("({} bytes) differs", saved.len() - 5),
    );
    std::fs::write(&tile, &saved).unwrap();
    s = restart(s, dir, db);

    // 6. A forged checkpoint signature.
    let mut forged = good_note.clone().into_bytes();
    let last = forged.len() - 10;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    sql(
        &s,
        db,
        &format!("UPDATE log_state SET checkpoint = '{forged}' WHERE id = 1"),
    );
    // A restarted server reads the row anew (a running one serves its cached head).
    s = restart(s, dir, db);
    let mut a = vec!["log", "verify"];
    a.extend(trust);
    s.fails(&w, &a, 1, "invalid signature");

    // 7. A shrunk log: an older, validly signed checkpoint.
    let key_file = s.data.join("keys/log.key");
    let signer = provenant_tlog::Ed25519Signer::from_skey(
        std::fs::read_to_string(&key_file).unwrap().trim(),
    )
    .unwrap();
    let origin = good_note.lines().next().unwrap().to_owned();
    let root_small = {
        let p: Value =
            serde_json::from_slice(&get(&s, "/api/v1/log/proof/consistency?old=1&new=1").2)
                .unwrap();
        assert!(p["hashes"].as_array().unwrap().is_empty());
        let e: Value = serde_json::from_slice(&get(&s, "/api/v1/log/entries/0").2).unwrap();
        provenant_tlog::leaf_hash(e["entry"].as_str().unwrap().as_bytes())
    };
    let small = provenant_tlog::Checkpoint::new(&origin, 1, root_small)
        .sign(&[&signer])
        .unwrap();
    sql(
        &s,
        db,
        &format!("UPDATE log_state SET checkpoint = '{small}' WHERE id = 1"),
    );
    // A restarted server reads the row anew (a running one serves its cached head).
    s = restart(s, dir, db);
    s.fails(
        &w,
        &a,
        1,
        &format!("LOG SHRANK: {origin} now has size 1, but this client saw size {size}"),
    );

    // 8. A forked log: same size, another root, signed by the log key.
    let fork = provenant_tlog::Checkpoint::new(&origin, size, provenant_tlog::leaf_hash(b"fork"))
        .sign(&[&signer])
        .unwrap();
    sql(
        &s,
        db,
        &format!("UPDATE log_state SET checkpoint = '{fork}' WHERE id = 1"),
    );
    // A restarted server reads the row anew (a running one serves its cached head).
    s = restart(s, dir, db);
    s.fails(&w, &a, 1, "LOG FORKED");

    // Restored, everything verifies again (except the rows deleted above).
    sql(
        &s,
        db,
        &format!("UPDATE log_state SET checkpoint = '{good_note}' WHERE id = 1"),
    );
    // A restarted server reads the row anew (a running one serves its cached head).
    s = restart(s, dir, db);
    verify(&s);
}

provenant_testkit::both!(sync log, |db: &ServeDatabase| {
    let dir = tempfile::tempdir().unwrap();
    log_flow(dir.path(), db.url());
});

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn witness_cosigns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The log key is made up front so that the witness can be told it.
    let signer = provenant_tlog::Ed25519Signer::generate("witnessed.test/log").unwrap();
    write(&d.join("log.key"), signer.skey().as_bytes());
    let log_vkey = signer.vkey();

    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "witness",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--name",
            "w1.test/witness",
            "--data-dir",
        ])
        .arg(d.join("witness"))
        .args(["--log", &log_vkey])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _witness = Child(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let witness_vkey = line.trim().to_owned();
    assert!(
        witness_vkey.starts_with("w1.test/witness+"),
        "{witness_vkey}"
    );

    let s = start_with(
        d,
        None,
        &[
            "--log-origin",
            "witnessed.test/log",
            "--log-key-file",
            d.join("log.key").to_str().unwrap(),
            "--log-witness",
            &format!("http://127.0.0.1:{port},{witness_vkey}"),
        ],
    );
    assert_eq!(s.ok(d, &["log", "key"]).trim(), log_vkey);
    write(&d.join("m/w.bin"), b"weights");
    s.ok(d, &["push", "m", "--model", "aiops/witnessed"]);
    let st = d.join("state");
    let args = [
        "log",
        "verify",
        "--log-key",
        &log_vkey,
        "--state-dir",
        st.to_str().unwrap(),
        "--witness-key",
        &witness_vkey,
        "--min-witnesses",
        "1",
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = s.cli(d, &args);
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("cosigned by w1.test/witness"), "{text}");
            if text.contains("size 1 ") {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no cosigned checkpoint: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Two witnesses required, one cosigned: refused.
    let (_, other) = provenant_tlog::CosignatureSigner::generate("w2.test/witness")
        .map(|c| ((), c.vkey()))
        .unwrap();
    let two = [
        "log",
        "verify",
        "--log-key",
        &log_vkey,
        "--state-dir",
        st.to_str().unwrap(),
        "--witness-key",
        &witness_vkey,
        "--witness-key",
        &other,
        "--min-witnesses",
        "2",
    ];
    s.fails(d, &two, 1, "1 valid witness cosignatures, 2 required");

    // The witness answers a stale old size with 409 and its size.
    let cp = String::from_utf8(get(&s, "/log/checkpoint").2).unwrap();
    let plain: String = {
        // Only the log's own signature line.
        let (text, sigs) = provenant_tlog::parse_note(cp.as_bytes()).unwrap();
        let own: Vec<_> = sigs
            .into_iter()
            .filter(|x| x.name == "witnessed.test/log")
            .collect();
        let mut out = format!("{text}\n");
        for sig in own {
            out.push_str(&sig.line());
        }
        out
    };
    let (status, body) = rt().block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/add-checkpoint"))
            .body(format!("old 0\n\n{plain}"))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    });
    assert_eq!(status, 409, "{body}");
    assert_eq!(body.trim().parse::<u64>().unwrap(), checkpoint_size(&s));
}

/// Kill -9 the server while changes are being appended, three times: each
/// restart serves a checkpoint consistent with every earlier one (`log verify`
/// remembers them), every change that committed is logged exactly once, and
/// the audit passes.
fn killed_while_appending(dir: &Path, db: Option<&str>) {
    let w = dir.join("work");
    write(&w.join("m/weights.bin"), &[9u8; 1024]);
    let mut s = start(dir, db);
    s.ok(&w, &["push", "m", "--model", "crash/tl"]);
    let key = s.ok(&w, &["log", "key"]).trim().to_owned();
    let state = w.join("state");
    let st = state.to_str().unwrap().to_owned();
    let trust = ["--log-key", key.as_str(), "--state-dir", st.as_str()];
    wait_logged(&s, &w);
    let mut a = vec!["log", "verify"];
    a.extend(trust);
    s.ok(&w, &a);
    for round in 0..3 {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (url, token) = (s.url.clone(), s.token.clone());
        let flag = stop.clone();
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let progress = acked.clone();
        let writer = std::thread::spawn(move || {
            rt().block_on(async move {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let http = reqwest::Client::new();
                let mut ok = 0u32;
                for i in 0.. {
                    if flag.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let r = http
                        .post(format!("{url}/api/v1/models/crash%2Ftl/versions/1/labels"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"set": {"round": round.to_string(), "i": i.to_string()}}))
                        .send()
                        .await;
                    match r {
                        Ok(resp) if resp.status().is_success() => {
                            ok += 1;
                            progress.store(ok, std::sync::atomic::Ordering::Relaxed);
                        }
                        _ => break,
                    }
                }
                ok
            })
        });
        // Kill once the writer is well under way (later each round, so that the
        // batches are cut at different points): wait for its acknowledgements,
        // not for a time that a slow machine might not fill.
        let target = 25u32 << round;
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.load(std::sync::atomic::Ordering::Relaxed) < target && !writer.is_finished() {
            assert!(
                Instant::now() < deadline,
                "round {round}: fewer than {target} changes acknowledged in 30 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // SIGKILL: no graceful shutdown, batches cut wherever they were.
        drop(s);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let acknowledged = writer.join().unwrap();
        assert!(acknowledged > 0, "round {round}: no change went through");
        s = start(dir, db);
        let events = wait_logged(&s, &w);
        let labels = events
            .iter()
            .filter(|e| e["what"] == "labels.changed")
            .count();
        assert!(
            labels >= acknowledged as usize,
            "round {round}: {acknowledged} acknowledged label changes, {labels} logged"
        );
        let mut indexes: Vec<u64> = events
            .iter()
            .map(|e| e["log_index"].as_u64().unwrap())
            .collect();
        let n = indexes.len();
        indexes.sort_unstable();
        indexes.dedup();
        assert_eq!(indexes.len(), n, "round {round}: an index used twice");
        let mut a = vec!["log", "verify"];
        a.extend(trust);
        let out = s.ok(&w, &a);
        assert!(out.contains("consistent"), "round {round}: {out}");
        let mut a = vec!["audit", "verify"];
        a.extend(trust);
        assert!(s.ok(&w, &a).contains("audit passed"), "round {round}");
    }
}

provenant_testkit::both!(sync killed_while_appending, |db: &ServeDatabase| {
    let dir = tempfile::tempdir().unwrap();
    killed_while_appending(dir.path(), db.url());
});
