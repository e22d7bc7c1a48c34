use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::algorithm::{HashAlgorithm, StreamHasher};
use crate::error::{DigestError, Result};
use crate::manifest::{ModelDigest, Resource, ResourceName, Serialization, root_digest};
use crate::options::HashOptions;
use crate::walk::{ModelFile, walk};

/// One unit of hashing work: a whole file or one shard.
struct Task {
    file: usize,
    start: u64,
    end: u64,
    shard: bool,
}

/// Hashes a model directory or single file into its OMS resources and root digest.
///
/// # Errors
/// Unreadable files, refused or escaping symlinks, special files, unsafe
/// ignore paths, or a shard size of 0.
pub fn hash_model(model: &Path, opts: &HashOptions) -> Result<ModelDigest> {
    if let Serialization::Shards { shard_size } = opts.serialization
        && shard_size == 0
    {
        return Err(DigestError::InvalidShardSize);
    }
    let walked = walk(model, opts)?;
    let files = walked.files;

    let mut tasks = Vec::new();
    for (i, f) in files.iter().enumerate() {
        match opts.serialization {
            Serialization::Files => tasks.push(Task {
                file: i,
                start: 0,
                end: f.size,
                shard: false,
            }),
            Serialization::Shards { shard_size } => {
                let mut start = 0;
                while start < f.size {
                    let end = start.saturating_add(shard_size).min(f.size);
                    tasks.push(Task {
                        file: i,
                        start,
                        end,
                        shard: true,
                    });
                    start = end;
                }
            }
        }
    }
    // Largest first: greedy scheduling keeps all workers busy until the end.
    tasks.sort_by_key(|t| std::cmp::Reverse(t.end - t.start));

    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let algorithm = opts.algorithm;
    let digests = if algorithm == HashAlgorithm::Blake3 && tasks.len() < threads {
        // Fewer files than cores: BLAKE3 parallelises inside each file instead.
        let mut buf = vec![0u8; opts.read_size.max(8 << 20)];
        tasks
            .iter()
            .map(|t| hash_task(&files[t.file], t, algorithm, opts, &mut buf, true))
            .collect::<Result<Vec<_>>>()?
    } else {
        run_pool(&files, &tasks, threads, opts)?
    };

    let resource_algorithm = opts.serialization.resource_algorithm(algorithm);
    let mut resources: Vec<Resource> = tasks
        .iter()
        .zip(digests)
        .map(|(t, digest)| {
            let path = files[t.file].rel.clone();
            let name = if t.shard {
                ResourceName::Shard {
                    path,
                    start: t.start,
                    end: t.end,
                }
            } else {
                ResourceName::File(path)
            };
            Resource {
                name,
                algorithm: resource_algorithm.clone(),
                digest,
            }
        })
        .collect();
    resources.sort_by(|a, b| a.name.cmp(&b.name));
    let root_digest = root_digest(&resources);
    Ok(ModelDigest {
        model_name: walked.model_name,
        algorithm,
        serialization: opts.serialization,
        allow_symlinks: opts.allow_symlinks,
        ignore_paths: opts.effective_ignore_paths(),
        resources,
        root_digest,
    })
}

/// Hashes any file or directory (e.g. a dataset) with OMS semantics and no
/// ignore paths; the root digest identifies its content.
///
/// # Errors
/// As [`hash_model`].
pub fn digest_path(path: &Path, algorithm: HashAlgorithm) -> Result<ModelDigest> {
    hash_model(
        path,
        &HashOptions {
            algorithm,
            ignore_git_paths: false,
            ..HashOptions::default()
        },
    )
}

/// Runs `tasks` on `threads` workers pulling the next task from a shared
/// index; returns the digests in task order.
fn run_pool(
    files: &[ModelFile],
    tasks: &[Task],
    threads: usize,
    opts: &HashOptions,
) -> Result<Vec<Vec<u8>>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<DigestError>> = Mutex::new(None);
    let mut results: Vec<Option<Vec<u8>>> = vec![None; tasks.len()];
    let workers = threads.min(tasks.len());
    let chunks: Vec<Vec<(usize, Vec<u8>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; opts.read_size.max(4096)];
                    let mut done = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(t) = tasks.get(i) else { break };
                        match hash_task(&files[t.file], t, opts.algorithm, opts, &mut buf, false) {
                            Ok(d) => done.push((i, d)),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                let mut slot = first_error
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                slot.get_or_insert(e);
                            }
                        }
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    if let Some(e) = first_error
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(e);
    }
    for (i, d) in chunks.into_iter().flatten() {
        results[i] = Some(d);
    }
    results
        .into_iter()
        .zip(tasks)
        .map(|(r, t)| {
            r.ok_or_else(|| DigestError::FileChanged {
                path: files[t.file].rel.clone(),
                expected: t.end - t.start,
                actual: 0,
            })
        })
        .collect()
}

fn hash_task(
    file: &ModelFile,
    task: &Task,
    algorithm: HashAlgorithm,
    opts: &HashOptions,
    buf: &mut [u8],
    parallel: bool,
) -> Result<Vec<u8>> {
    let io = |source| DigestError::Io {
        path: file.abs.clone(),
        source,
    };
    let mut f = File::open(&file.abs).map_err(io)?;
    if task.start > 0 {
        f.seek(SeekFrom::Start(task.start)).map_err(io)?;
    }
    let mut hasher = StreamHasher::new(algorithm);
    let mut remaining = task.end - task.start;
    loop {
        // Whole files are read to EOF (as model_signing does); shards stop at `end`.
        let want = if task.shard {
            if remaining == 0 {
                break;
            }
            usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()))
        } else {
            buf.len()
        };
        let n = match f.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        if parallel {
            hasher.update_parallel(&buf[..n]);
        } else {
            hasher.update(&buf[..n]);
        }
        remaining = remaining.saturating_sub(n as u64);
        if let Some(p) = &opts.progress {
            p.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    if task.shard && remaining > 0 {
        return Err(DigestError::FileChanged {
            path: file.rel.clone(),
            expected: task.end - task.start,
            actual: task.end - task.start - remaining,
        });
    }
    Ok(hasher.finalize())
}
