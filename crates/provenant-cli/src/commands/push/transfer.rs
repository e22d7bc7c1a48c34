//! Phase 2 of `push`: hash and upload as a pipeline. Each file is offered
//! for upload as soon as its digest is known (one upload per distinct blob);
//! files read once (see [`crate::upload::Plan`]) start uploading at once.

use std::collections::HashSet;
use std::io::IsTerminal as _;

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use indicatif::{ProgressBar, ProgressStyle};

use crate::client::Client;
use crate::hashing::{self, HashedFile, LocalFile};
use crate::upload::{self, Outcome, Plan};

/// The files as sent, with their digests (by path), and what each upload did.
pub struct Sent {
    pub files: Vec<HashedFile>,
    pub outcomes: Vec<Outcome>,
}

/// A file to upload: hashed (uploaded declared, by its digest), or read
/// once (the server names its digest).
enum Upload {
    Hashed(HashedFile),
    ReadOnce(LocalFile),
}

fn bar(total: u64, msg: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>9} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(msg);
    pb
}

/// Hashes and uploads `files`, `jobs` uploads at a time. With `hash_first`,
/// every file is hashed before it is sent; otherwise large files the server
/// cannot hold are read once.
pub async fn transfer(
    client: &Client,
    files: Vec<LocalFile>,
    hash_first: bool,
    jobs: u16,
) -> anyhow::Result<Sent> {
    let total: u64 = files.iter().map(|f| f.size).sum();
    let plan = if hash_first {
        Plan::none()
    } else {
        Plan::fetch(client, &files).await?
    };
    let (once, to_hash): (Vec<LocalFile>, Vec<LocalFile>) =
        files.into_iter().partition(|f| plan.read_once(f));

    let multi = indicatif::MultiProgress::new();
    let hash_bar = multi.add(bar(to_hash.iter().map(|f| f.size).sum(), "hashing"));
    let upload_bar = multi.add(bar(total, "uploading"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<HashedFile>();
    let hb = hash_bar.clone();
    let hashing_task = tokio::task::spawn_blocking(move || {
        hashing::hash_all_with(to_hash, &|n| hb.inc(n), &|f| {
            let _ = tx.send(f.clone());
        })
    });
    let mut seen = HashSet::new();
    let hashed_ready =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) })
            .filter(move |f| std::future::ready(seen.insert(f.digest)))
            .map(Upload::Hashed);
    let once_ready = futures::stream::iter(once.into_iter().map(Upload::ReadOnce));
    let plan = &plan;
    let uploads = futures::stream::select(once_ready, hashed_ready)
        .map(|up| {
            let client = client.clone();
            let pb = upload_bar.clone();
            async move {
                match up {
                    Upload::ReadOnce(file) => upload::upload_once(&client, &file, plan, &pb)
                        .await
                        .with_context(|| format!("uploading {}", file.rel))
                        .map(|(o, digest)| (o, Some(HashedFile { file, digest }))),
                    Upload::Hashed(f) => upload::upload_blob(&client, &f, &pb)
                        .await
                        .with_context(|| format!("uploading {}", f.file.rel))
                        .map(|o| (o, None)),
                }
            }
        })
        .buffer_unordered(usize::from(jobs))
        .try_collect::<Vec<(Outcome, Option<HashedFile>)>>();
    let (results, hashed) = tokio::join!(uploads, hashing_task);
    let mut files = hashed??;
    let results = results?;
    let mut outcomes = Vec::with_capacity(results.len());
    for (o, read_once) in results {
        files.extend(read_once);
        outcomes.push(o);
    }
    files.sort_by(|a, b| a.file.rel.cmp(&b.file.rel));
    hash_bar.finish_and_clear();
    upload_bar.finish_and_clear();
    Ok(Sent { files, outcomes })
}
