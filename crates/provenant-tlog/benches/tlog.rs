//! Log engine figures: batched integration throughput (in memory) and proof
//! latency from cached tiles for a large log.
//!
//! `cargo bench --bench tlog` (env: `TLOG_BENCH_ENTRIES`, default 1,000,000;
//! `TLOG_BENCH_PROOF_SIZE`, default 10,000,000; `TLOG_BENCH_PROOFS`, default 20,000).

#![allow(clippy::unwrap_used)] // bench harness: a panic is the failure report

use std::hint::black_box;
use std::time::{Duration, Instant};

use provenant_tlog::{
    Checkpoint, Ed25519Signer, MemoryLog, TileHashReader, Verifiers, consistency_proof,
    inclusion_proof, integrate, leaf_hash, tree_hash, verify_consistency, verify_inclusion,
};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A log entry of realistic size: ~220 bytes of canonical JSON.
fn entry(i: u64) -> Vec<u8> {
    format!(
        "{{\"actor\":\"ci-bot@aiops\",\"kind\":\"version.published\",\"manifest\":\"sha256:{i:064x}\",\
         \"metadata\":\"sha256:{:064x}\",\"schema\":1,\"target\":\"aiops/anomaly-detector:{i}\"}}",
        i.wrapping_mul(0x9e3779b97f4a7c15)
    )
    .into_bytes()
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<44} n={:<7} p50={:>7.1}µs p99={:>7.1}µs max={:>7.1}µs",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
        samples.last().unwrap().as_secs_f64() * 1e6,
    );
}

fn bench_integration(total: u64) {
    let entries: Vec<Vec<u8>> = (0..total).map(entry).collect();
    for batch in [256usize, 1024, 4096] {
        let mut log = MemoryLog::new();
        let mut pure = Duration::ZERO;
        let start = Instant::now();
        for chunk in entries.chunks(batch) {
            let partial = Vec::new();
            let t = Instant::now();
            // Same work as MemoryLog::append, timed without the store step.
            let bundle = if log.size().is_multiple_of(256) {
                partial
            } else {
                let id = provenant_tlog::entry_bundle_for(log.size() - 1, log.size()).unwrap();
                use provenant_tlog::TileReader;
                log.read_tiles(&[id]).unwrap()[0].to_vec()
            };
            let integ = integrate(log.size(), &log.hash_reader(), &bundle, chunk).unwrap();
            pure += t.elapsed();
            log.apply(&integ);
        }
        let all = start.elapsed();
        println!(
            "integrate {total} entries, batch {batch:>4}: {:>9.0} entries/s pure, {:>9.0} entries/s incl. in-memory store",
            total as f64 / pure.as_secs_f64(),
            total as f64 / all.as_secs_f64()
        );
    }
}

fn bench_proofs(size: u64, proofs: u64) {
    let t = Instant::now();
    let mut log = MemoryLog::new();
    let mut next = 0u64;
    let mut batch = Vec::with_capacity(4096);
    let mut sizes = Vec::new();
    while next < size {
        batch.clear();
        let end = (next + 4096).min(size);
        batch.extend((next..end).map(|i| i.to_le_bytes()));
        log.append(&batch).unwrap();
        next = end;
        sizes.push(next);
    }
    println!(
        "built a {size}-entry log (8-byte entries, batches of 4096) in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let root = log.root().unwrap();
    let tiles = TileHashReader::new(size, &log);
    let mut rng = Rng(0x2545f4914f6cdd1d);

    let mut samples = Vec::with_capacity(proofs as usize);
    for _ in 0..proofs {
        let i = rng.below(size);
        let t = Instant::now();
        let p = inclusion_proof(i, size, &tiles).unwrap();
        samples.push(t.elapsed());
        verify_inclusion(&leaf_hash(&i.to_le_bytes()), i, size, &p, &root).unwrap();
    }
    report(&format!("inclusion proof, size {size}"), samples);

    let mut samples = Vec::with_capacity(proofs as usize);
    let mut verify = Vec::with_capacity(proofs as usize);
    for _ in 0..proofs / 10 {
        let old = sizes[rng.below(sizes.len() as u64) as usize];
        let old_root = tree_hash(old, &tiles).unwrap();
        let t = Instant::now();
        let p = consistency_proof(old, size, &tiles).unwrap();
        samples.push(t.elapsed());
        let t = Instant::now();
        verify_consistency(old, size, &p, &old_root, &root).unwrap();
        verify.push(t.elapsed());
    }
    report(&format!("consistency proof, size {size}"), samples);
    report("consistency proof verification", verify);

    let signer = Ed25519Signer::generate("bench.example/log").unwrap();
    let verifiers: Verifiers = [signer.verifier()].into_iter().collect();
    let checkpoint = Checkpoint::new("bench.example/log", size, root);
    let mut sign = Vec::new();
    let mut open = Vec::new();
    for _ in 0..1000 {
        let t = Instant::now();
        let note = checkpoint.sign(&[&signer]).unwrap();
        sign.push(t.elapsed());
        let t = Instant::now();
        black_box(Checkpoint::open(note.as_bytes(), None, &verifiers).unwrap());
        open.push(t.elapsed());
    }
    report("checkpoint sign (Ed25519 signed note)", sign);
    report("checkpoint open + verify", open);
}

fn main() {
    // `cargo test --benches` runs this binary with --bench absent: keep it quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let entries = env("TLOG_BENCH_ENTRIES", if quick { 10_000 } else { 1_000_000 });
    let proof_size = env(
        "TLOG_BENCH_PROOF_SIZE",
        if quick { 100_000 } else { 10_000_000 },
    );
    let proofs = env("TLOG_BENCH_PROOFS", if quick { 1_000 } else { 20_000 });
    bench_integration(entries);
    bench_proofs(proof_size, proofs);
}
