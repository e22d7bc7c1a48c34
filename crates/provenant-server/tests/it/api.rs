use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, TestServer, enc, sha};

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<no code>")
}

both!(
    publish_resolve_all_reference_forms,
    async |s: &TestServer| {
        let (status, v) = s
            .publish(
                "aiops/anomaly",
                &[("model.bin", b"weights-1"), ("cfg/config.json", b"{}")],
                json!({"framework": "pytorch", "x-team": "sre"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert_eq!(v["created"], true);
        let digest = v["version"]["digest"].as_str().unwrap().to_owned();
        assert_eq!(v["version"]["metadata"]["x-team"], "sre", "x-* kept");

        // Idempotent re-publish.
        let (status, again) = s
            .publish(
                "aiops/anomaly",
                &[("cfg/config.json", b"{}"), ("model.bin", b"weights-1")],
                json!({"framework": "pytorch", "x-team": "sre"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["created"], false);
        assert_eq!(again["version"]["number"], 1);

        let (status, _) = s
            .json(
                Method::PUT,
                "/api/v1/models/aiops%2Fanomaly/aliases/production",
                Some(json!({"version": 1})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        for r in [
            "aiops/anomaly:1",
            &format!("aiops/anomaly@{digest}"),
            "aiops/anomaly#production",
            "aiops/anomaly",
        ] {
            let (status, v) = s
                .json(
                    Method::GET,
                    &format!("/api/v1/resolve?ref={}", r.replace('#', "%23")),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{r}: {v}");
            assert_eq!(v["digest"], digest, "{r}");
            assert_eq!(v["number"], 1);
        }
        // The manifest is the OCI/ModelPack document whose digest is the version digest.
        let resp = s
            .req(
                Method::GET,
                "/api/v1/models/aiops%2Fanomaly/versions/1/manifest",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.headers()["content-type"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(sha(&bytes), digest);
        let m: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            m["artifactType"],
            "application/vnd.cncf.model.manifest.v1+json"
        );
        assert_eq!(
            m["layers"][1]["annotations"]["org.cncf.model.filepath"],
            "model.bin"
        );
        // Blobs download byte-identical.
        let resp = s
            .req(Method::GET, &format!("/api/v1/blobs/{}", sha(b"weights-1")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.bytes().await.unwrap().as_ref(), b"weights-1");
    }
);

both!(
    bad_input_is_rejected_and_changes_nothing,
    async |s: &TestServer| {
        s.publish("aiops/base", &[("m.bin", b"base")], json!({}))
            .await;
        let before = s.version_count().await;
        let ok = s.upload(b"payload").await;
        let file = |path: &str| json!({"files": [{"path": path, "digest": ok, "size": 7}]});
        for (path, what) in [
            ("../etc/passwd", "'..'"),
            ("/abs/file", "absolute"),
            ("a//b", "empty"),
            ("a\\b", "backslash"),
        ] {
            let (status, v) = s
                .json(
                    Method::POST,
                    "/api/v1/models/aiops%2Fm/versions",
                    Some(file(path)),
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(code(&v), "invalid_path", "{path}: {v}");
            assert!(v["message"].as_str().unwrap().contains(what), "{path}: {v}");
        }
        // Illegal model names.
        for name in ["Aiops%2Fm", "aiops%2Fm%20x", "noslash"] {
            let (status, v) = s
                .json(
                    Method::POST,
                    &format!("/api/v1/models/{name}/versions"),
                    Some(file("m.bin")),
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
            assert_eq!(code(&v), "invalid_name", "{name}: {v}");
        }
        // Metadata that fails the schema names the field.
        let mut body = file("m.bin");
        body["metadata"] = json!({"metrics": {"f1": "good"}, "unknown_field": 1});
        let (status, v) = s
            .json(
                Method::POST,
                "/api/v1/models/aiops%2Fm/versions",
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code(&v), "invalid_metadata");
        let msg = v["message"].as_str().unwrap();
        assert!(
            msg.contains("/metrics/f1") && msg.contains("unknown_field"),
            "{msg}"
        );
        // A file whose blob was never uploaded, or whose size is wrong.
        let missing = sha(b"never uploaded");
        let (status, v) = s
        .json(Method::POST, "/api/v1/models/aiops%2Fm/versions", Some(json!({"files": [{"path": "a.bin", "digest": ok, "size": 7}, {"path": "b.bin", "digest": missing, "size": 3}]})))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code(&v), "blob_missing");
        assert!(v["message"].as_str().unwrap().contains("b.bin"));
        let (status, v) = s
            .json(
                Method::POST,
                "/api/v1/models/aiops%2Fm/versions",
                Some(json!({"files": [{"path": "a.bin", "digest": ok, "size": 8}]})),
            )
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "blob_size_mismatch")
        );
        // Duplicate paths, bad digests, unknown body fields, no files.
        let (_, v) = s.json(Method::POST, "/api/v1/models/aiops%2Fm/versions", Some(json!({"files": [{"path": "a", "digest": ok, "size": 7}, {"path": "a", "digest": ok, "size": 7}]}))).await;
        assert_eq!(code(&v), "duplicate_path");
        let (_, v) = s
            .json(
                Method::POST,
                "/api/v1/models/aiops%2Fm/versions",
                Some(json!({"files": [{"path": "a", "digest": "sha256:xyz", "size": 7}]})),
            )
            .await;
        assert_eq!(code(&v), "invalid_digest");
        let (status, v) = s
            .json(
                Method::POST,
                "/api/v1/models/aiops%2Fm/versions",
                Some(json!({"files": [], "extra": 1})),
            )
            .await;
        assert_eq!((status.as_u16() / 100, code(&v)), (4, "invalid_body"));
        let (_, v) = s
            .json(
                Method::POST,
                "/api/v1/models/aiops%2Fm/versions",
                Some(json!({"files": []})),
            )
            .await;
        assert_eq!(code(&v), "no_files");
        // Nothing was created by any of that.
        assert_eq!(s.version_count().await, before);
        let (status, v) = s.json(Method::GET, "/api/v1/models/aiops%2Fm", None).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::NOT_FOUND, "model_not_found")
        );
        // Missing versions and bad references.
        let (status, v) = s
            .json(Method::GET, "/api/v1/resolve?ref=aiops/base:9", None)
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::NOT_FOUND, "version_not_found")
        );
        let (status, v) = s
            .json(Method::GET, "/api/v1/resolve?ref=aiops/base:zero", None)
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_reference")
        );
    }
);

both!(
    an_upload_larger_than_the_disk_is_refused_up_front,
    async |s: &TestServer| {
        // 1 PiB: more than this disk holds (and than ext4 allows in one file).
        let (status, v) = s
            .json(
                Method::POST,
                "/api/v1/uploads",
                Some(json!({"digest": sha(b"never sent"), "size": 1u64 << 50})),
            )
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
            "{v}"
        );
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("1125899906842624 bytes"),
            "{v}"
        );
    }
);

/// A disk that fills up while an upload writes: 507, the session closed,
/// the staged bytes gone, and the disk usable again once there is room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fills_mid_upload_reads_as_insufficient_storage() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = provenant_testkit::SmallDisk::mount(&dir.path().join("disk"), 4) else {
        return;
    };
    let blobs = disk.path.join("blobs");
    let s = TestServer::start_with_blobs(
        Backend::Sqlite,
        Some(blobs.display().to_string()),
        tempfile::tempdir().unwrap(),
    )
    .await
    .unwrap();
    // Small enough to sit in the loopback socket's buffers whole: the
    // client has sent it all when the server answers early.
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 249) as u8).collect();
    let digest = sha(&data);
    let (status, st) = s
        .json(
            Method::POST,
            "/api/v1/uploads",
            Some(json!({"digest": digest, "size": data.len()})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "room for it when it opens: {st}"
    );
    let id = st["id"].as_str().unwrap().to_owned();
    // Something else takes the room meanwhile.
    let filler = disk.path.join("filler");
    let free = free_bytes(&disk.path);
    std::fs::write(&filler, vec![1u8; usize::try_from(free).unwrap() - 500_000]).unwrap();
    // On a connection of its own: the server answers before it has read the
    // body, then closes the connection, which a pooled client could reuse.
    let resp = reqwest::Client::new()
        .patch(format!("{}/api/v1/uploads/{id}", s.base))
        .bearer_auth(&s.token)
        .header("Upload-Offset", "0")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INSUFFICIENT_STORAGE);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(code(&v), "insufficient_storage", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains(&blobs.display().to_string()),
        "names the store: {v}"
    );
    let (status, _) = s
        .json(Method::GET, &format!("/api/v1/uploads/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the session is closed");
    let staged: Vec<_> = std::fs::read_dir(blobs.join("uploads")).unwrap().collect();
    assert!(staged.is_empty(), "staged bytes left: {staged:?}");
    // Room again: the same blob uploads.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(s.upload(&data).await, digest);
    s.stop().await;
    drop(disk);
}

/// Bytes free on the filesystem holding `dir`.
fn free_bytes(dir: &std::path::Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

both!(uploads_verify_digest_and_resume, async |s: &TestServer| {
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let digest = sha(&data);
    // A wrong declared digest: rejected at the last byte, nothing stored.
    let wrong = sha(b"something else");
    let (_, st) = s
        .json(
            Method::POST,
            "/api/v1/uploads",
            Some(json!({"digest": wrong, "size": data.len()})),
        )
        .await;
    let id = st["id"].as_str().unwrap().to_owned();
    let resp = s
        .req(Method::PATCH, &format!("/api/v1/uploads/{id}"))
        .header("Upload-Offset", "0")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(code(&v), "digest_mismatch");
    assert!(v["message"].as_str().unwrap().contains(&digest), "{v}");
    let resp = s
        .req(Method::HEAD, &format!("/api/v1/blobs/{wrong}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (status, _) = s
        .json(Method::GET, &format!("/api/v1/uploads/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a failed session is closed");

    // Truncated upload: half the bytes arrive; nothing is visible; the session resumes.
    let (_, st) = s
        .json(
            Method::POST,
            "/api/v1/uploads",
            Some(json!({"digest": digest, "size": data.len()})),
        )
        .await;
    let id = st["id"].as_str().unwrap().to_owned();
    let half = data.len() / 2;
    let resp = s
        .req(Method::PATCH, &format!("/api/v1/uploads/{id}"))
        .header("Upload-Offset", "0")
        .body(data[..half].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = s
        .req(Method::HEAD, &format!("/api/v1/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::NOT_FOUND,
        "partial blob must not be visible"
    );
    // A version naming the half-uploaded blob is refused.
    let (status, v) = s
        .json(
            Method::POST,
            "/api/v1/models/aiops%2Fpartial/versions",
            Some(json!({"files": [{"path": "w", "digest": digest, "size": data.len()}]})),
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "blob_missing")
    );
    // Starting again for the same blob returns the same session and its offset.
    let (status, st) = s
        .json(
            Method::POST,
            "/api/v1/uploads",
            Some(json!({"digest": digest, "size": data.len()})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (st["id"].as_str().unwrap(), st["offset"].as_u64().unwrap()),
        (id.as_str(), half as u64)
    );
    // Another token that knows the digest neither resumes, writes nor
    // cancels the session: it gets one of its own.
    let other = s.add_token("ci-other").await;
    let as_other = |m: Method, path: &str| {
        s.http
            .request(m, format!("{}{path}", s.base))
            .bearer_auth(&other)
    };
    let resp = as_other(Method::POST, "/api/v1/uploads")
        .json(&json!({"digest": digest, "size": data.len()}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let theirs: Value = resp.json().await.unwrap();
    assert_ne!(theirs["id"].as_str().unwrap(), id, "{theirs}");
    let path = format!("/api/v1/uploads/{id}");
    for resp in [
        as_other(Method::PATCH, &path)
            .header("Upload-Offset", half.to_string())
            .body(vec![0u8])
            .send()
            .await
            .unwrap(),
        as_other(Method::DELETE, &path).send().await.unwrap(),
    ] {
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
    let resp = as_other(
        Method::DELETE,
        &format!("/api/v1/uploads/{}", theirs["id"].as_str().unwrap()),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // Wrong offset is a conflict.
    let resp = s
        .req(Method::PATCH, &format!("/api/v1/uploads/{id}"))
        .header("Upload-Offset", "0")
        .body(vec![1u8])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = s
        .req(Method::PATCH, &format!("/api/v1/uploads/{id}"))
        .header("Upload-Offset", half.to_string())
        .body(data[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = s
        .req(Method::GET, &format!("/api/v1/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[..]);
    // Already stored: no session needed.
    let (status, st) = s
        .json(
            Method::POST,
            "/api/v1/uploads",
            Some(json!({"digest": digest, "size": data.len()})),
        )
        .await;
    assert_eq!(
        (status, st["complete"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    // More bytes than declared.
    let small = sha(b"abc");
    let (_, st) = s
        .json(
            Method::POST,
            "/api/v1/uploads",
            Some(json!({"digest": small, "size": 3})),
        )
        .await;
    let id = st["id"].as_str().unwrap().to_owned();
    let resp = s
        .req(Method::PATCH, &format!("/api/v1/uploads/{id}"))
        .header("Upload-Offset", "0")
        .body(b"abcdef".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&resp.json::<Value>().await.unwrap()), "size_mismatch");
});

fn crc64nvme(data: &[u8]) -> String {
    let mut c = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme);
    c.update(data);
    format!("crc64nvme:{:016x}", c.finalize())
}

both!(
    undeclared_uploads_commit_by_checksum_and_resume,
    async |s: &TestServer| {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 13 % 256) as u8).collect();
        let digest = sha(&data);
        let n = data.len() as u64;
        let put = async |id: &str, body: Value| {
            s.json(Method::PUT, &format!("/api/v1/uploads/{id}"), Some(body))
                .await
        };
        let patch = async |id: &str, at: usize, bytes: &[u8]| {
            s.req(Method::PATCH, &format!("/api/v1/uploads/{id}"))
                .header("Upload-Offset", at.to_string())
                .body(bytes.to_vec())
                .send()
                .await
                .unwrap()
        };
        // The plan before: this local store takes undeclared uploads, holds
        // a blob of the size uploaded for the base model only.
        s.upload(b"base").await;
        let (status, plan) = s
            .json(
                Method::POST,
                "/api/v1/uploads/plan",
                Some(json!({"sizes": [n, 4]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{plan}");
        assert_eq!(plan["undeclared"], true);
        assert_eq!(plan["held_sizes"], json!([4]));
        assert_eq!(plan["resumable"], json!([]));

        // Open with the size alone; half the bytes arrive.
        let (status, st) = s
            .json(Method::POST, "/api/v1/uploads", Some(json!({"size": n})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{st}");
        assert!(st.get("digest").is_none(), "{st}");
        let id = st["id"].as_str().unwrap().to_owned();
        // Nothing received yet: nothing to resume.
        let (_, plan) = s
            .json(
                Method::POST,
                "/api/v1/uploads/plan",
                Some(json!({"sizes": [n]})),
            )
            .await;
        assert_eq!(plan["resumable"], json!([]));
        let half = data.len() / 2;
        assert_eq!(
            patch(&id, 0, &data[..half]).await.status(),
            StatusCode::ACCEPTED
        );
        // The session is its opener's: another token neither sees nor
        // writes, commits or cancels it (only a checksum vouches for it).
        let other = s.add_token("ci-other").await;
        let as_other = |m: Method, path: &str| {
            s.http
                .request(m, format!("{}{path}", s.base))
                .bearer_auth(&other)
        };
        let plan_other: Value = as_other(Method::POST, "/api/v1/uploads/plan")
            .json(&json!({"sizes": [n]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(plan_other["resumable"], json!([]), "{plan_other}");
        let path = format!("/api/v1/uploads/{id}");
        for resp in [
            as_other(Method::GET, &path).send().await.unwrap(),
            // One byte: refused before the body is read, a large body
            // could meet a closed connection instead of the answer.
            as_other(Method::PATCH, &path)
                .header("Upload-Offset", half.to_string())
                .body(data[half..=half].to_vec())
                .send()
                .await
                .unwrap(),
            as_other(Method::PUT, &path)
                .json(&json!({"checksum": crc64nvme(&data)}))
                .send()
                .await
                .unwrap(),
            as_other(Method::DELETE, &path).send().await.unwrap(),
        ] {
            assert_eq!(resp.status(), StatusCode::NOT_FOUND);
            assert_eq!(
                code(&resp.json::<Value>().await.unwrap()),
                "upload_not_found"
            );
        }
        // The plan offers it to resume, with what a client checks its file against.
        let (_, plan) = s
            .json(
                Method::POST,
                "/api/v1/uploads/plan",
                Some(json!({"sizes": [n]})),
            )
            .await;
        assert_eq!(plan["resumable"].as_array().unwrap().len(), 1, "{plan}");
        assert_eq!(plan["resumable"][0]["id"], id.as_str());
        assert_eq!(plan["resumable"][0]["offset"], half);
        assert_eq!(plan["resumable"][0]["received_digest"], sha(&data[..half]));
        // Not for another size.
        let (_, plan) = s
            .json(
                Method::POST,
                "/api/v1/uploads/plan",
                Some(json!({"sizes": [n + 1]})),
            )
            .await;
        assert_eq!(plan["resumable"], json!([]));
        // A commit before the last byte.
        let (status, v) = put(&id, json!({"checksum": crc64nvme(&data)})).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::CONFLICT, "upload_incomplete")
        );
        // Every byte in: it waits for its commit, still invisible.
        let resp = patch(&id, half, &data[half..]).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let st: Value = resp.json().await.unwrap();
        assert_eq!(
            (st["offset"].as_u64(), st["complete"].as_bool()),
            (Some(n), Some(false))
        );
        let head = s
            .req(Method::HEAD, &format!("/api/v1/blobs/{digest}"))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::NOT_FOUND);
        // A commit declaring nothing, or a malformed checksum, keeps the session.
        let (status, v) = put(&id, json!({})).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "declaration_required")
        );
        let (status, v) = put(&id, json!({"checksum": "crc32:1234"})).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_checksum")
        );
        // The checksum of other bytes: refused, closed, nothing stored.
        let (status, v) = put(&id, json!({"checksum": crc64nvme(b"other bytes")})).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "checksum_mismatch"),
            "{v}"
        );
        let (status, _) = s
            .json(Method::GET, &format!("/api/v1/uploads/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a failed session is closed");
        let head = s
            .req(Method::HEAD, &format!("/api/v1/blobs/{digest}"))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::NOT_FOUND);

        // Again, with the right checksum: committed under the bytes' digest.
        let (_, st) = s
            .json(Method::POST, "/api/v1/uploads", Some(json!({"size": n})))
            .await;
        let id = st["id"].as_str().unwrap().to_owned();
        assert_eq!(patch(&id, 0, &data).await.status(), StatusCode::ACCEPTED);
        let (status, st) = put(&id, json!({"checksum": crc64nvme(&data)})).await;
        assert_eq!(status, StatusCode::CREATED, "{st}");
        assert_eq!(
            (st["digest"].as_str(), st["complete"].as_bool()),
            (Some(digest.as_str()), Some(true))
        );
        let back = s
            .req(Method::GET, &format!("/api/v1/blobs/{digest}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(back.as_ref(), &data[..]);
        // Now the store holds a blob of that size: a push hashes such a file first.
        let (_, plan) = s
            .json(
                Method::POST,
                "/api/v1/uploads/plan",
                Some(json!({"sizes": [n, 4, 5]})),
            )
            .await;
        assert_eq!(plan["held_sizes"], json!([4, n]));
        // A session opened with its digest commits on its last byte, not by PUT.
        let (_, st) = s
            .json(
                Method::POST,
                "/api/v1/uploads",
                Some(json!({"digest": sha(b"declared"), "size": 8})),
            )
            .await;
        let declared = st["id"].as_str().unwrap().to_owned();
        let (status, v) = put(&declared, json!({"checksum": crc64nvme(b"declared")})).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::CONFLICT, "upload_declared")
        );
        // Plans ask about a bounded number of sizes.
        let (status, v) = s
            .json(
                Method::POST,
                "/api/v1/uploads/plan",
                Some(json!({"sizes": vec![1u64; 10_001]})),
            )
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "too_many_sizes")
        );
    }
);

both!(lifecycle_labels_aliases_search, async |s: &TestServer| {
    for i in 1..=3 {
        let (st, _) = s
            .publish(
                "aiops/anomaly",
                &[("m.bin", format!("w{i}").as_bytes())],
                json!({"task": "anomaly-detection", "description": "netflow anomalies"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
    }
    s.publish(
        "netops/edge/latency",
        &[("m.bin", b"lat")],
        json!({"task": "forecasting"}),
    )
    .await;
    let (status, v) = s
        .json(
            Method::POST,
            "/api/v1/models/aiops%2Fanomaly/versions/2/labels",
            Some(json!({"set": {"stage": "prod"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["labels"]["stage"], "prod");
    let (_, v) = s
        .json(
            Method::POST,
            "/api/v1/models/aiops%2Fanomaly/versions/2/labels",
            Some(json!({"set": {"bad key": "x"}})),
        )
        .await;
    assert_eq!(code(&v), "invalid_name");
    let (_, page) = s
        .json(Method::GET, "/api/v1/versions?label=stage%3Dprod", None)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = s
        .json(
            Method::GET,
            "/api/v1/models/aiops%2Fanomaly/versions?label=stage%3Dprod",
            None,
        )
        .await;
    assert_eq!(page["items"][0]["number"], 2);
    let (_, page) = s.json(Method::GET, "/api/v1/search?q=netflow", None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let (_, page) = s.json(Method::GET, "/api/v1/search?q=forecast", None).await;
    assert_eq!(page["items"][0]["model"], "netops/edge/latency");
    let (_, page) = s
        .json(
            Method::GET,
            "/api/v1/search?q=netflow&label=stage%3Dprod",
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = s.json(Method::GET, "/api/v1/versions?limit=2", None).await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page2) = s
        .json(
            Method::GET,
            &format!("/api/v1/versions?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert!(page2["next_cursor"].is_null());
    let (_, models) = s
        .json(Method::GET, "/api/v1/models?prefix=netops%2F", None)
        .await;
    assert_eq!(models["items"][0]["name"], "netops/edge/latency");

    // Aliases move with history; promotion of an archived version is refused.
    for n in [1, 3, 2] {
        let (status, _) = s
            .json(
                Method::PUT,
                "/api/v1/models/aiops%2Fanomaly/aliases/production",
                Some(json!({"version": n})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, h) = s
        .json(
            Method::GET,
            "/api/v1/models/aiops%2Fanomaly/aliases/production/history",
            None,
        )
        .await;
    let moves: Vec<(i64, Option<i64>)> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["number"].as_i64().unwrap(), e["previous_number"].as_i64()))
        .collect();
    assert_eq!(moves, [(1, None), (3, Some(1)), (2, Some(3))]);
    let (status, v) = s
        .json(
            Method::PUT,
            "/api/v1/models/aiops%2Fanomaly/aliases/7up",
            Some(json!({"version": 9})),
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::NOT_FOUND, "version_not_found")
    );

    // Deprecate needs a reason; archive after deprecate; no way back.
    let (status, v) = s
        .json(
            Method::POST,
            "/api/v1/models/aiops%2Fanomaly/versions/1/deprecate",
            Some(json!({"reason": "  "})),
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::BAD_REQUEST, "reason_required")
    );
    let (status, v) = s
        .json(
            Method::POST,
            "/api/v1/models/aiops%2Fanomaly/versions/1/deprecate",
            Some(json!({"reason": "concept drift"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (v["state"].as_str(), v["state_reason"].as_str()),
        (Some("deprecated"), Some("concept drift"))
    );
    let (status, v) = s
        .json(
            Method::POST,
            "/api/v1/models/aiops%2Fanomaly/versions/1/deprecate",
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!((status, code(&v)), (StatusCode::CONFLICT, "invalid_state"));
    let (status, _) = s
        .json(
            Method::POST,
            "/api/v1/models/aiops%2Fanomaly/versions/1/archive",
            Some(json!({"reason": "retired"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = s
        .json(
            Method::PUT,
            "/api/v1/models/aiops%2Fanomaly/aliases/staging",
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!((status, code(&v)), (StatusCode::CONFLICT, "invalid_state"));
    let (_, page) = s
        .json(Method::GET, "/api/v1/versions?state=archived", None)
        .await;
    assert_eq!(page["items"][0]["reference"], "aiops/anomaly:1");
    // The archived version's content is unchanged and still addressable.
    let (_, v) = s
        .json(
            Method::GET,
            "/api/v1/models/aiops%2Fanomaly/versions/1",
            None,
        )
        .await;
    assert_eq!(v["files"][0]["digest"], sha(b"w1"));
});

#[tokio::test]
async fn auth_token_file_openapi_and_schema() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    // Token stored 0600 in the data dir; only its hash in the database.
    let token_path = s.dir.path().join("data/admin.token");
    assert_eq!(
        std::fs::read_to_string(&token_path).unwrap().trim(),
        s.token
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&token_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let db = std::fs::read(s.dir.path().join("data/meta.db")).unwrap();
    assert!(
        !db.windows(s.token.len()).any(|w| w == s.token.as_bytes()),
        "plaintext token in the database"
    );

    for (header, what, expected) in [
        (None, "missing", "unauthorized"),
        (Some("Bearer pvt_wrong"), "unknown", "unknown_token"),
        (Some("Basic abc"), "Bearer", "unauthorized"),
    ] {
        let mut rb = s.http.get(format!("{}/api/v1/models", s.base));
        if let Some(h) = header {
            rb = rb.header("authorization", h);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(code(&v), expected);
        assert!(v["message"].as_str().unwrap().contains(what), "{v}");
    }
    let (status, v) = s.json(Method::GET, "/api/v1/whoami", None).await;
    assert_eq!(
        (status, v["name"].as_str()),
        (StatusCode::OK, Some("admin"))
    );

    let doc: Value = s
        .http
        .get(format!("{}/api/v1/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/uploads/{id}",
        "/api/v1/models/{model}/versions",
        "/api/v1/resolve",
        "/api/v1/search",
    ] {
        assert!(doc["paths"].get(p).is_some(), "OpenAPI lacks {p}");
    }
    // Undeclared uploads: the commit and the plan, with their bodies.
    assert!(doc["paths"]["/api/v1/uploads/{id}"].get("put").is_some());
    assert!(doc["paths"]["/api/v1/uploads/plan"].get("post").is_some());
    for schema in ["CommitUpload", "UploadPlan", "UploadPlanRequest"] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "OpenAPI lacks the {schema} schema"
        );
    }
    let schema: Value = s
        .http
        .get(format!("{}/api/v1/schemas/version-metadata.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(schema["additionalProperties"], false);
    let health = s
        .http
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let resp = s.http.get(format!("{}/nope", s.base)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // A restart keeps the token and does not mint another.
    let data_dir = s.dir.path().join("data");
    let TestServer { running, dir, .. } = s;
    running.unwrap().shutdown().await.unwrap();
    let again = provenant_server::start(
        provenant_server::ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir,
            database_url: None,
            blob_url: None,
            vulndb_watch: None,
            vulndb_watch_interval: std::time::Duration::from_secs(60),
            provenance_requirements: Default::default(),
            log: Default::default(),
            limits: Default::default(),
            tls: None,
            admin_token_file: None,
            oidc: None,
            gate: Default::default(),
        },
        false,
    )
    .await
    .unwrap();
    assert!(again.new_admin_token.is_none());
    again.shutdown().await.unwrap();
    drop(dir);
}

#[test]
fn model_names_encode() {
    assert_eq!(enc("a/b/c"), "a%2Fb%2Fc");
}
