//! Decision latency of the shipped policy library (criterion-free; prints
//! µs per decision, p50 and p99).
//!
//! `cargo bench -p provenant-policy --bench eval [-- ITERATIONS]`
//!
//! Uses `<workspace>/policies` with `data.example.json` and every corpus
//! input; also times the alternatives (one query of `data.provenant` on a
//! clone of the prepared engine; an engine clone alone) for comparison.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use provenant_policy::{PolicyConfig, PolicySet, read_data_file, read_modules};
use serde_json::Value;

fn corpus_inputs(dir: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let file = if p.is_dir() {
            p.join("input.json")
        } else {
            p.clone()
        };
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "expected" || file.extension().is_none_or(|e| e != "json") || !file.is_file() {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        out.push((name, v));
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e6 / times.len() as f64;
    println!(
        "{what:<44} n={:<7} mean {mean:8.1} µs  p50 {:8.1} µs  p99 {:8.1} µs",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
}

fn main() {
    let iterations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut config = PolicyConfig::new(&root);
    let data = root.join("data.example.json");
    if data.is_file() {
        config.data_files.push(data.clone());
    }
    let started = Instant::now();
    let set = PolicySet::load(&config).expect("the shipped policies compile");
    println!(
        "loaded {} policies ({} modules) in {:.1} ms, set {}",
        set.policies().len(),
        set.modules().len(),
        started.elapsed().as_secs_f64() * 1e3,
        set.digest()
    );
    let inputs = corpus_inputs(&root.join("corpus"));
    assert!(
        !inputs.is_empty(),
        "no corpus inputs under {}",
        root.display()
    );
    let now = time::OffsetDateTime::now_utc();

    // Warm up.
    for (_, input) in &inputs {
        let _ = set.evaluate(input, now);
    }

    let mut times = Vec::new();
    for _ in 0..iterations {
        for (_, input) in &inputs {
            let t = Instant::now();
            let d = set.evaluate(input, now);
            times.push(t.elapsed());
            std::hint::black_box(d);
        }
    }
    report("evaluate (schema + per-rule eval + decide)", times);

    let mut times = Vec::new();
    for _ in 0..iterations {
        for (_, input) in &inputs {
            let t = Instant::now();
            let raw = set.raw(input).unwrap();
            times.push(t.elapsed());
            std::hint::black_box(raw);
        }
    }
    report("raw (per-rule eval_rule)", times);

    let mut times = Vec::new();
    for _ in 0..iterations {
        for (_, input) in &inputs {
            let t = Instant::now();
            provenant_policy::validate_input(input).ok();
            times.push(t.elapsed());
        }
    }
    report("validate_input", times);

    // The alternative: one query of data.provenant on a prepared engine clone.
    let mut engine = regorus::Engine::new();
    engine.set_strict_builtin_errors(false);
    for m in read_modules(&root)
        .unwrap()
        .into_iter()
        .filter(|m| !m.is_test())
    {
        engine.add_policy(m.path, m.text).unwrap();
    }
    if data.is_file() {
        engine
            .add_data(regorus::Value::from(read_data_file(&data).unwrap().value))
            .unwrap();
    }
    engine.eval_query("true".into(), false).unwrap();
    let regorus_inputs: Vec<regorus::Value> = inputs
        .iter()
        .map(|(_, v)| regorus::Value::from(v.clone()))
        .collect();
    let mut times = Vec::new();
    for _ in 0..iterations {
        for input in &regorus_inputs {
            let t = Instant::now();
            let mut e = engine.clone();
            e.set_input(input.clone());
            let r = e.eval_query("data.provenant".into(), false).unwrap();
            times.push(t.elapsed());
            std::hint::black_box(r);
        }
    }
    report("alternative: eval_query(data.provenant)", times);

    let mut times = Vec::new();
    for _ in 0..iterations {
        let t = Instant::now();
        let e = engine.clone();
        times.push(t.elapsed());
        std::hint::black_box(e);
    }
    report("engine clone alone", times);
}
