//! Phase 2 of `push`: hash and upload as a pipeline. Each file is offered
//! for upload as soon as its digest is known (one upload per distinct blob);
//! files read once (see [`crate::upload::Plan`]) start uploading at once.

use std::collections::HashSet;
use std::io::IsTerminal as _;

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use indicatif::{ProgressBar, ProgressStyle};

use crate::client::Client;
use crate::hashing::{self, LocalFile};
use crate::upload::{self, Outcome, Plan};

/// The files as sent, with their digests (by path), and what each upload did.
pub struct Sent {
    pub files: Vec<LocalFile>,
    pub outcomes: Vec<Outcome>,
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
    let (once, mut to_hash): (Vec<LocalFile>, Vec<LocalFile>) =
        files.into_iter().partition(|f| plan.read_once(f));

    let multi = indicatif::MultiProgress::new();
    let hash_bar = multi.add(bar(to_hash.iter().map(|f| f.size).sum(), "hashing"));
    let upload_bar = multi.add(bar(total, "uploading"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<LocalFile>();
    let hb = hash_bar.clone();
    let hashing_task = tokio::task::spawn_blocking(move || {
        let result = hashing::hash_all_with(&mut to_hash, &|n| hb.inc(n), &|f| {
            let _ = tx.send(f.clone());
        });
        result.map(|()| to_hash)
    });
    let mut seen = HashSet::new();
    let hashed_ready =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) })
            .filter(move |f| std::future::ready(seen.insert(f.digest.clone())))
            .map(|f| (f, false));
    let once_ready = futures::stream::iter(once.into_iter().map(|f| (f, true)));
    let plan = &plan;
    let uploads = futures::stream::select(once_ready, hashed_ready)
        .map(|(f, read_once)| {
            let client = client.clone();
            let pb = upload_bar.clone();
            async move {
                let done = if read_once {
                    upload::upload_once(&client, &f, plan, &pb).await
                } else {
                    upload::upload_blob(&client, &f, &pb)
                        .await
                        .map(|o| (o, None))
                };
                done.with_context(|| format!("uploading {}", f.rel))
                    .map(|(o, digest)| (o, digest.map(|d| (f, d))))
            }
        })
        .buffer_unordered(usize::from(jobs))
        .try_collect::<Vec<(Outcome, Option<(LocalFile, String)>)>>();
    let (results, hashed) = tokio::join!(uploads, hashing_task);
    let mut files = hashed??;
    let results = results?;
    let mut outcomes = Vec::with_capacity(results.len());
    for (o, sent) in results {
        if let Some((f, digest)) = sent {
            files.push(LocalFile { digest, ..f });
        }
        outcomes.push(o);
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    hash_bar.finish_and_clear();
    upload_bar.finish_and_clear();
    Ok(Sent { files, outcomes })
}
