use bytes::Bytes;
use provenant_store::{BlobStore, Declaration, Digest, StoreError};

fn store() -> (tempfile::TempDir, BlobStore) {
    let d = tempfile::tempdir().unwrap();
    let s = BlobStore::local(&d.path().join("blobs")).unwrap();
    (d, s)
}

#[tokio::test]
async fn streamed_upload_commits_only_on_matching_digest() {
    let (_d, s) = store();
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::sha256(&data);
    let mut up = s.begin_upload(digest, data.len() as u64).await.unwrap();
    for (i, chunk) in data.chunks(1 << 20).enumerate() {
        up.write((i << 20) as u64, Bytes::copy_from_slice(chunk))
            .await
            .unwrap();
        assert_eq!(
            s.size(&digest).await.unwrap(),
            None,
            "visible before commit"
        );
    }
    assert_eq!(up.finish().await.unwrap(), digest);
    assert_eq!(s.size(&digest).await.unwrap(), Some(data.len() as u64));
    let (size, stream) = s.get(&digest).await.unwrap();
    assert_eq!(size, data.len() as u64);
    use futures::TryStreamExt;
    let back: Vec<Bytes> = stream.try_collect().await.unwrap();
    assert_eq!(back.concat(), data);
}

#[tokio::test]
async fn wrong_digest_leaves_nothing() {
    let (d, s) = store();
    let declared = Digest::sha256(b"expected");
    let mut up = s.begin_upload(declared, 8).await.unwrap();
    up.write(0, Bytes::from_static(b"tampered")).await.unwrap();
    match up.finish().await {
        Err(StoreError::DigestMismatch {
            declared: dd,
            actual,
        }) => {
            assert_eq!(*dd, declared);
            assert_eq!(*actual, Digest::sha256(b"tampered"));
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert_eq!(s.size(&declared).await.unwrap(), None);
    assert_no_files(d.path());
}

#[tokio::test]
async fn truncated_and_oversized_uploads_fail_cleanly() {
    let (d, s) = store();
    let data = b"0123456789";
    let digest = Digest::sha256(data);
    let mut up = s.begin_upload(digest, 10).await.unwrap();
    up.write(0, Bytes::from_static(b"01234")).await.unwrap();
    assert!(matches!(
        up.finish().await,
        Err(StoreError::SizeMismatch { received: 5, .. })
    ));
    assert_eq!(s.size(&digest).await.unwrap(), None);

    let mut up = s.begin_upload(digest, 10).await.unwrap();
    assert!(matches!(
        up.write(3, Bytes::from_static(b"x")).await,
        Err(StoreError::OffsetMismatch {
            expected: 0,
            given: 3
        })
    ));
    assert!(matches!(
        up.write(0, Bytes::from_static(b"0123456789AB")).await,
        Err(StoreError::SizeMismatch { received: 12, .. })
    ));
    up.abort().await;

    // An upload dropped half way (a crash, a dropped connection) leaves nothing visible either.
    let mut up = s.begin_upload(digest, 10).await.unwrap();
    up.write(0, Bytes::from_static(b"012")).await.unwrap();
    drop(up);
    assert_eq!(s.size(&digest).await.unwrap(), None);
    assert_no_files(d.path());
}

/// Every file under `dir` (recursively).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    let mut found = Vec::new();
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                found.push(e.path());
            }
        }
    }
    found
}

/// Nothing committed and nothing staged: failed, aborted and dropped
/// uploads remove their staging files at once.
fn assert_no_files(dir: &std::path::Path) {
    let found = files_under(dir);
    assert!(found.is_empty(), "files left behind: {found:?}");
}

#[tokio::test]
async fn a_committed_upload_leaves_no_staging_file_and_same_blob_twice_is_fine() {
    let (d, s) = store();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    let digest = Digest::sha256(&data);
    // Two sessions for the same blob, interleaved: both commit, one file.
    let mut a = s.begin_upload(digest, data.len() as u64).await.unwrap();
    let mut b = s.begin_upload(digest, data.len() as u64).await.unwrap();
    for (i, chunk) in data.chunks(700_000).enumerate() {
        let at = (i * 700_000) as u64;
        a.write(at, Bytes::copy_from_slice(chunk)).await.unwrap();
        b.write(at, Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    assert_eq!(a.finish().await.unwrap(), digest);
    assert_eq!(b.finish().await.unwrap(), digest);
    let found = files_under(d.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with(digest.hex()), "{found:?}");
    assert_eq!(std::fs::read(&found[0]).unwrap(), data);
}

#[tokio::test]
async fn an_upload_larger_than_the_disk_fails_at_once_and_leaves_nothing() {
    let (d, s) = store();
    let digest = Digest::sha256(b"never sent");
    match s.begin_upload(digest, 1 << 50).await {
        Err(StoreError::InsufficientStorage { size, .. }) => assert_eq!(size, 1 << 50),
        other => panic!("expected insufficient storage, got {other:?}"),
    }
    assert_no_files(d.path());
    // A blob that fits still goes through.
    let mut up = s.begin_upload(Digest::sha256(b"fits"), 4).await.unwrap();
    up.write(0, Bytes::from_static(b"fits")).await.unwrap();
    up.finish().await.unwrap();
}

#[tokio::test]
async fn an_upload_paused_between_requests_goes_on_where_it_stopped() {
    let (d, s) = store();
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 239) as u8).collect();
    let digest = Digest::sha256(&data);
    let mut up = s.begin_upload(digest, data.len() as u64).await.unwrap();
    // Three "requests", each ending in a pause (the writer thread stops).
    for part in data.chunks(900_000) {
        for chunk in part.chunks(64 << 10) {
            up.write(up.offset(), Bytes::copy_from_slice(chunk))
                .await
                .unwrap();
        }
        up.pause().await.unwrap();
        up.pause().await.unwrap(); // pausing an idle upload is fine
    }
    assert_eq!(up.finish().await.unwrap(), digest);
    let found = files_under(d.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(std::fs::read(&found[0]).unwrap(), data);
}

#[tokio::test]
async fn opening_a_store_removes_stale_staging_files_only() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("blobs");
    BlobStore::local(&root).unwrap();
    let staging = root.join("uploads");
    let old = staging.join("left-by-a-crash");
    let fresh = staging.join("in-flight-elsewhere");
    std::fs::write(&old, b"partial").unwrap();
    std::fs::write(&fresh, b"partial").unwrap();
    let three_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(three_hours_ago)
        .unwrap();
    BlobStore::local(&root).unwrap();
    assert!(!old.exists(), "a stale staging file survived");
    assert!(fresh.exists(), "a recent staging file was removed");
    // The fan-out directories exist before any blob is committed.
    for dir in ["00", "7f", "ff"] {
        assert!(
            root.join("blobs/sha256").join(dir).is_dir(),
            "{dir} missing"
        );
    }
}

#[test]
fn blob_urls() {
    let d = tempfile::tempdir().unwrap();
    let url = format!("file://{}", d.path().join("b").display());
    BlobStore::open(&url).unwrap();
    let err = BlobStore::open("ftp://x/y").unwrap_err().to_string();
    assert!(err.contains("unknown scheme"), "{err}");
    // Cloud URLs are accepted by configuration (no request is made here).
    BlobStore::open("s3://bucket/prefix").unwrap();
}

fn crc64nvme(data: &[u8]) -> u64 {
    let mut c = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme);
    c.update(data);
    c.finalize()
}

#[test]
fn the_upload_checksum_is_crc64_nvme() {
    // The check value of CRC-64/NVME (the CRC catalogue's, and S3's).
    assert_eq!(crc64nvme(b"123456789"), 0xae8b_1486_0a79_9888);
}

#[tokio::test]
async fn an_undeclared_upload_commits_under_the_digest_of_its_bytes() {
    let (d, s) = store();
    assert!(s.accepts_undeclared());
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    let digest = Digest::sha256(&data);
    let mut up = s.begin_undeclared_upload(data.len() as u64).await.unwrap();
    assert_eq!(up.declared(), None);
    let half = data.len() / 2;
    up.write(0, Bytes::copy_from_slice(&data[..half]))
        .await
        .unwrap();
    up.pause().await.unwrap();
    // What a client resuming it compares its file's first bytes with.
    assert_eq!(up.received_digest(), Digest::sha256(&data[..half]));
    up.write(half as u64, Bytes::copy_from_slice(&data[half..]))
        .await
        .unwrap();
    let committed = up
        .finish_with(Declaration {
            digest: None,
            crc64nvme: Some(crc64nvme(&data)),
        })
        .await
        .unwrap();
    assert_eq!(committed, digest);
    assert_eq!(s.size(&digest).await.unwrap(), Some(data.len() as u64));
    assert_eq!(s.get_bytes(&digest).await.unwrap().as_ref(), &data[..]);
    // Nothing but the blob is left.
    let files = files_under(&d.path().join("blobs"));
    assert_eq!(files.len(), 1, "{files:?}");

    // Declaring the digest at commit instead of a checksum works too.
    let mut up = s.begin_undeclared_upload(5).await.unwrap();
    up.write(0, Bytes::from_static(b"hello")).await.unwrap();
    let hello = Digest::sha256(b"hello");
    let declared = Declaration {
        digest: Some(hello),
        crc64nvme: None,
    };
    assert_eq!(up.finish_with(declared).await.unwrap(), hello);
}

#[tokio::test]
async fn an_undeclared_upload_that_fails_its_declaration_leaves_nothing() {
    let (d, s) = store();
    let data = b"the bytes that arrived";
    let n = data.len() as u64;
    // A checksum of other bytes.
    let mut up = s.begin_undeclared_upload(n).await.unwrap();
    up.write(0, Bytes::from_static(data)).await.unwrap();
    let wrong = crc64nvme(b"the bytes that were read");
    match up
        .finish_with(Declaration {
            digest: None,
            crc64nvme: Some(wrong),
        })
        .await
    {
        Err(StoreError::ChecksumMismatch { declared, actual }) => {
            assert_eq!((declared, actual), (wrong, crc64nvme(data)));
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    // A digest of other bytes.
    let mut up = s.begin_undeclared_upload(n).await.unwrap();
    up.write(0, Bytes::from_static(data)).await.unwrap();
    let err = up
        .finish_with(Declaration {
            digest: Some(Digest::sha256(b"other")),
            crc64nvme: Some(crc64nvme(data)),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
    // No declaration at all.
    let mut up = s.begin_undeclared_upload(n).await.unwrap();
    up.write(0, Bytes::from_static(data)).await.unwrap();
    let err = up.finish().await.unwrap_err();
    assert!(matches!(err, StoreError::DeclarationMissing), "{err}");
    // Bytes missing.
    let mut up = s.begin_undeclared_upload(n + 1).await.unwrap();
    up.write(0, Bytes::from_static(data)).await.unwrap();
    let err = up
        .finish_with(Declaration {
            digest: None,
            crc64nvme: Some(crc64nvme(data)),
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("an undeclared upload"),
        "names what it was: {err}"
    );
    assert_eq!(s.size(&Digest::sha256(data)).await.unwrap(), None);
    assert_no_files(d.path());
}

#[tokio::test]
async fn a_cloud_store_needs_the_digest_up_front() {
    let s = BlobStore::open("s3://bucket/prefix").unwrap();
    assert!(!s.accepts_undeclared());
    let err = s.begin_undeclared_upload(10).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::DigestRequired { location } if location == "s3://bucket/prefix"),
        "{err}"
    );
}
