//! Every input has a budget: bodies, metadata, listing pages, upload
//! sessions, connections, headers, tokens and file paths. Every case runs on
//! SQLite and PostgreSQL; the budgets under test are set small in the
//! server's configuration, never outlasted by sleeping.

use std::time::Duration;

use provenant_server::Limits;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::both;
use crate::harness::{Backend, TestServer, enc, sha};

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<no code>")
}

/// What a case may take at most: a server that waits for what never comes
/// fails the case instead of hanging it.
const CASE_TIMEOUT: Duration = Duration::from_secs(20);

/// Opens the server of a `both!(name, open = with_limits(…), …)` case: one
/// with these budgets.
fn with_limits(limits: Limits) -> impl AsyncFnOnce(Backend) -> Option<(TestServer, ())> {
    async move |backend| Some((TestServer::start_with_limits(backend, limits).await?, ()))
}

/// `body` within [`CASE_TIMEOUT`]: a case that runs out of time fails.
fn within(body: impl AsyncFnOnce(&TestServer)) -> impl AsyncFnOnce(&TestServer) {
    async move |s: &TestServer| {
        tokio::time::timeout(CASE_TIMEOUT, body(s))
            .await
            .expect("the case ran out of time");
    }
}

/// A request body that sends `first` and then nothing, for ever.
fn stalled_body(first: &'static [u8]) -> reqwest::Body {
    use futures::StreamExt as _;
    let stream =
        futures::stream::once(
            async move { Ok::<_, std::io::Error>(bytes::Bytes::from_static(first)) },
        )
        .chain(futures::stream::pending());
    reqwest::Body::wrap_stream(stream)
}

async fn response_json(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

both!(an_upload_commit_body_is_limited, async |s: &TestServer| {
    let (status, st) = s
        .json(Method::POST, "/api/v1/uploads", Some(json!({"size": 3})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{st}");
    let id = st["id"].as_str().unwrap();
    // A commit is a digest or a checksum; 64 KiB of it is refused unread
    // (the route had no limit at all).
    let padding = "x".repeat(64 << 10);
    let (status, v) = s
        .json(
            Method::PUT,
            &format!("/api/v1/uploads/{id}"),
            Some(json!({"checksum": padding})),
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        "{v}"
    );
    // The PATCH on the same route still streams a body of any size. (On a
    // new connection: the server closes the one whose body it refused unread,
    // and a pooled client could send the PATCH down it as it closes.)
    let resp = reqwest::Client::new()
        .patch(format!("{}/api/v1/uploads/{id}", s.base))
        .bearer_auth(&s.token)
        .header("Upload-Offset", "0")
        .body(b"abc".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
});

both!(
    metadata_over_its_cap_is_refused_naming_the_field,
    async |s: &TestServer| {
        let big = "h".repeat(provenant_registry::MAX_METADATA_FIELD_BYTES);
        let (status, v) = s
            .publish(
                "aiops/meta",
                &[("m.bin", b"m")],
                json!({"hyperparameters": {"notes": big}}),
            )
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_metadata"),
            "{v}"
        );
        assert!(
            v["message"].as_str().unwrap().contains("/hyperparameters"),
            "{v}"
        );
    }
);

/// The items of every page of a listing (`path` has a query already),
/// following `next_cursor`; each page must be non-empty and at most `budget`
/// bytes.
async fn every_page(s: &TestServer, path: &str, budget: usize) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let resp = s
            .req(Method::GET, &format!("{path}&cursor={cursor}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.bytes().await.unwrap();
        assert!(body.len() <= budget, "a page of {} bytes", body.len());
        let page: Value = serde_json::from_slice(&body).unwrap();
        let items = page["items"].as_array().unwrap().clone();
        assert!(!items.is_empty());
        pages.push(items);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.replace('/', "%2F"),
            None => return pages,
        }
    }
}

both!(
    version_pages_stop_at_their_byte_budget,
    open = with_limits(Limits {
        page_bytes: 6000,
        ..Limits::default()
    }),
    within(async |s: &TestServer| {
        let pad = "p".repeat(2000);
        for n in 1..=5u8 {
            let (status, v) = s
                .publish(
                    "aiops/pages",
                    &[("m.bin", &[n][..])],
                    json!({"x-pad": pad, "x-n": n}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{v}");
        }
        let pages = every_page(
            s,
            &format!("/api/v1/models/{}/versions?limit=50", enc("aiops/pages")),
            6000,
        )
        .await;
        let seen: Vec<i64> = pages
            .iter()
            .flatten()
            .map(|v| v["number"].as_i64().unwrap())
            .collect();
        // Fifty rows were asked for; the byte budget split them, and the
        // cursors still list every version once, newest first.
        assert!(pages.len() > 1, "one page of {seen:?}");
        assert_eq!(seen, [5, 4, 3, 2, 1]);
    })
);

both!(
    upload_sessions_are_budgeted_per_token,
    open = with_limits(Limits {
        upload_sessions_per_token: 2,
        upload_bytes_per_token: 1000,
        ..Limits::default()
    }),
    within(async |s: &TestServer| {
        let open = |token: String, data: &'static [u8], size: usize| {
            let http = s.http.clone();
            let url = format!("{}/api/v1/uploads", s.base);
            async move {
                let resp = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"digest": sha(data), "size": size}))
                    .send()
                    .await
                    .unwrap();
                response_json(resp).await
            }
        };
        let me = s.token.clone();
        let (status, a) = open(me.clone(), b"first", 5).await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        let (status, b) = open(me.clone(), b"second", 6).await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
        // A third session is one too many for this token.
        let (status, v) = open(me.clone(), b"third", 5).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::TOO_MANY_REQUESTS, "upload_limit"),
            "{v}"
        );
        // Resuming one of its own is not a new session.
        let (status, again) = open(me.clone(), b"first", 5).await;
        assert_eq!(
            (status, &again["id"]),
            (StatusCode::OK, &a["id"]),
            "{again}"
        );
        // Cancelling one frees its place, but not room for more bytes than
        // the budget reserves.
        let resp = s
            .req(
                Method::DELETE,
                &format!("/api/v1/uploads/{}", b["id"].as_str().unwrap()),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let (status, v) = open(me.clone(), b"large", 996).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::TOO_MANY_REQUESTS, "upload_limit"),
            "{v}"
        );
        assert!(v["message"].as_str().unwrap().contains("1000"), "{v}");
        let (status, v) = open(me.clone(), b"third", 995).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        // Another token has a budget of its own.
        let other = s.add_token("other").await;
        let (status, v) = open(other, b"theirs", 1000).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    })
);

both!(
    a_trickling_upload_is_closed,
    open = with_limits(Limits {
        body_timeout: Duration::from_millis(300),
        body_min_bytes: 1024,
        ..Limits::default()
    }),
    within(async |s: &TestServer| {
        let data = vec![7u8; 100_000];
        let (status, st) = s
            .json(
                Method::POST,
                "/api/v1/uploads",
                Some(json!({"digest": sha(&data), "size": data.len()})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{st}");
        let id = st["id"].as_str().unwrap().to_owned();
        // Ten bytes, then nothing: the session would be held for ever.
        let resp = s
            .req(Method::PATCH, &format!("/api/v1/uploads/{id}"))
            .header("Upload-Offset", "0")
            .body(stalled_body(b"0123456789"))
            .send()
            .await
            .unwrap();
        let (status, v) = response_json(resp).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::REQUEST_TIMEOUT, "upload_stalled"),
            "{v}"
        );
        // Closed: its bytes and its place in the budget are gone.
        let (status, v) = s
            .json(Method::GET, &format!("/api/v1/uploads/{id}"), None)
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::NOT_FOUND, "upload_not_found")
        );
        // A JSON body that stalls ends its request too.
        let resp = s
            .req(
                Method::POST,
                &format!("/api/v1/models/{}/versions", enc("aiops/slow")),
            )
            .header("content-type", "application/json")
            .body(stalled_body(b"{\"files\": ["))
            .send()
            .await
            .unwrap();
        let (status, v) = response_json(resp).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            "{v}"
        );
        // A body that keeps coming is not cut off.
        s.upload(&data).await;
    })
);

both!(
    vulndb_import_checks_the_role_before_reading_the_body,
    async |s: &TestServer| {
        let reader = s.add_token_with_role("reader", "reader").await;
        // The body never ends: only a refusal before reading it answers.
        let resp = tokio::time::timeout(
            CASE_TIMEOUT,
            s.http
                .post(format!("{}/api/v1/vulndb/import", s.base))
                .bearer_auth(&reader)
                .header("content-type", "application/json")
                .body(stalled_body(b"{\"source\": \"x\", \"records\": ["))
                .send(),
        )
        .await
        .expect("the server read the body before checking the role")
        .unwrap();
        let (status, v) = response_json(resp).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{v}"
        );
        // An admin's import still goes through.
        let (status, v) = s
            .json(
                Method::POST,
                "/api/v1/vulndb/import",
                Some(json!({"source": "empty", "records": []})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
);

both!(
    headers_have_a_read_timeout,
    open = with_limits(Limits {
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    }),
    within(async |s: &TestServer| {
        let addr = s.running.as_ref().unwrap().addr;
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        // A request line and one header, and never the blank line.
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        // The server closes the connection (else this waits for ever).
        let _ = tcp.read_to_end(&mut got).await;
        assert!(!String::from_utf8_lossy(&got).contains("200 OK"), "{got:?}");
    })
);

both!(
    connections_beyond_the_cap_are_refused,
    open = with_limits(Limits {
        max_connections: 1,
        ..Limits::default()
    }),
    within(async |s: &TestServer| {
        let addr = s.running.as_ref().unwrap().addr;
        let request = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
        // One connection, kept open after its answer.
        let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
        first.write_all(request).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&got).contains("ok\n") {
            let n = first.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed early: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
        // A second one is answered 503 and closed.
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = second.write_all(request).await;
        let mut answer = Vec::new();
        let _ = second.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("too_many_connections"), "{answer}");
        assert!(s.running.as_ref().unwrap().counters().connections_refused() >= 1);
        // Once the first goes, others are served again.
        drop(first);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(r) = s.http.get(format!("{}/healthz", s.base)).send().await
                && r.status() == StatusCode::OK
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no connection was served in the 10 s after the first one closed \
                 (the connection cap was never released)"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
);

both!(
    failed_authentication_is_counted_and_unknown_tokens_remembered,
    async |s: &TestServer| {
        let counters = || s.running.as_ref().unwrap().counters().auth_failures();
        let before = counters();
        let get = |token: Option<&str>| {
            let mut rb = s.http.get(format!("{}/api/v1/whoami", s.base));
            if let Some(t) = token {
                rb = rb.bearer_auth(t);
            }
            async move { response_json(rb.send().await.unwrap()).await }
        };
        let (status, v) = get(None).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::UNAUTHORIZED, "unauthorized")
        );
        // The token `add_token("later")` makes, before it exists.
        let unknown = format!("pvt_{}", &sha(b"later")["sha256:".len()..]);
        for _ in 0..2 {
            let (status, v) = get(Some(&unknown)).await;
            assert_eq!(
                (status, code(&v)),
                (StatusCode::UNAUTHORIZED, "unknown_token"),
                "{v}"
            );
            assert!(v["message"].as_str().unwrap().contains("unknown token"));
        }
        assert_eq!(counters() - before, 3);
        // The refusal is remembered for a few seconds: a token that comes to
        // exist meanwhile is not looked up again at once (which is what
        // spares the database a client that repeats a bad token).
        let token = s.add_token("later").await;
        assert_eq!(token, unknown);
        let (status, _) = get(Some(&token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // Known tokens are not counted.
        let (status, _) = get(Some(&s.token)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(counters() - before, 4);
    }
);

both!(
    file_paths_unsafe_on_a_client_os_are_refused,
    async |s: &TestServer| {
        let ok = s.upload(b"payload").await;
        let publish = |paths: &[&str]| {
            let files: Vec<Value> = paths
                .iter()
                .map(|p| json!({"path": p, "digest": ok, "size": 7}))
                .collect();
            s.json(
                Method::POST,
                "/api/v1/models/aiops%2Fpaths/versions",
                Some(json!({"files": files})),
            )
        };
        for (paths, why) in [
            // "a-x" sorts between "a" and "a/b": the neighbour check missed it.
            (&["a", "a-x", "a/b"][..], "is also a file"),
            (&["Model.bin", "model.bin"], "collides"),
            (&["caf\u{e9}.txt", "cafe\u{301}.txt"], "collides"),
            (&["c:/weights.bin"], "':'"),
            (&["docs/NUL.txt"], "reserved"),
            (&["model. "], "dot or a space"),
        ] {
            let (status, v) = publish(paths).await;
            assert_eq!(
                (status, code(&v)),
                (StatusCode::BAD_REQUEST, "invalid_path"),
                "{paths:?}: {v}"
            );
            assert!(
                v["message"].as_str().unwrap().contains(why),
                "{paths:?}: {v}"
            );
        }
        assert_eq!(s.version_count().await, 0);
    }
);

// One address cannot take every connection slot.
both!(
    one_address_cannot_take_every_connection,
    open = with_limits(Limits {
        max_connections_per_peer: 1,
        ..Limits::default()
    }),
    within(async |s: &TestServer| {
        let addr = s.running.as_ref().unwrap().addr;
        let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
        first
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        assert!(first.read(&mut buf).await.unwrap() > 0);
        // The same address again: 503 and closed, though slots remain.
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = second
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await;
        let mut answer = Vec::new();
        let _ = second.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        drop(first);
    })
);

// A client that never reads its response does not hold shutdown past the
// drain timeout (graceful shutdown would otherwise wait for that response
// for ever: nothing times out a write).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_past_the_drain_timeout() {
    let s = TestServer::start_with_limits(
        Backend::Sqlite,
        Limits {
            drain_timeout: Duration::from_millis(200),
            ..Limits::default()
        },
    )
    .await
    .unwrap();
    // Larger than what the socket buffers on both sides can hold.
    let digest = s.upload(&vec![7u8; 32 << 20]).await;
    let addr = s.running.as_ref().unwrap().addr;
    let mut stuck = tokio::net::TcpStream::connect(addr).await.unwrap();
    stuck
        .write_all(
            format!(
                "GET /api/v1/blobs/{digest} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
                s.token
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = [0u8; 64];
    let n = stuck.read(&mut head).await.unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));
    // Never read again; shut down.
    tokio::time::timeout(Duration::from_secs(60), s.stop())
        .await
        .expect("shutdown waited for a response nobody reads");
    drop(stuck);
}

// A JSON body that keeps pace but never ends is cut off at the request body
// timeout: one body cannot hold a connection (and its buffer) for hours.
both!(
    a_json_body_must_arrive_whole_in_time,
    open = with_limits(Limits {
        body_timeout: Duration::from_secs(10),
        body_min_bytes: 1,
        request_body_timeout: Duration::from_millis(600),
        ..Limits::default()
    }),
    within(async |s: &TestServer| {
        let drip = futures::stream::unfold(0u32, |i| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            (i < 400).then(|| {
                (
                    Ok::<_, std::io::Error>(bytes::Bytes::from_static(b" ")),
                    i + 1,
                )
            })
        });
        let resp = s
            .req(
                Method::POST,
                &format!("/api/v1/models/{}/versions", enc("aiops/drip")),
            )
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(drip))
            .send()
            .await
            .unwrap();
        let (status, v) = response_json(resp).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            "{v}"
        );
        assert!(
            v["message"].as_str().unwrap().contains("whole within"),
            "{v}"
        );
    })
);

// Model listings are bounded in bytes too (a model's description comes
// from version metadata): pages end early with a cursor, and the cursors
// still list every model exactly once.
both!(
    model_pages_stop_at_their_byte_budget,
    open = with_limits(Limits {
        page_bytes: 5000,
        ..Limits::default()
    }),
    within(async |s: &TestServer| {
        let description = "d".repeat(2000);
        for n in 1..=4u8 {
            let (status, v) = s
                .publish(
                    &format!("aiops/paged-{n}"),
                    &[("m.bin", &[n][..])],
                    json!({"description": description}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{v}");
        }
        let pages = every_page(s, "/api/v1/models?prefix=aiops/&limit=50", 5000).await;
        let mut seen: Vec<&str> = pages
            .iter()
            .flatten()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(pages.len(), 2, "{seen:?}");
        assert_eq!(seen.len(), 4, "{seen:?}");
        seen.dedup();
        assert_eq!(seen.len(), 4, "{seen:?}");
    })
);
