//! Where a training run happens: OS, CPU, GPUs and Python packages.

use std::path::Path;
use std::process::Command;

use provenant_provenance::Environment;

use crate::error::{CaptureError, Result};

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// ML frameworks singled out from the package list.
const FRAMEWORKS: [&str; 14] = [
    "torch",
    "tensorflow",
    "jax",
    "jaxlib",
    "keras",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "transformers",
    "onnx",
    "onnxruntime",
    "numpy",
    "pandas",
    "statsmodels",
];

/// OS, CPU, GPUs (through `nvidia-smi` when present) and, given a Python
/// environment (venv, prefix or site-packages), its installed packages read
/// from their metadata files.
///
/// # Errors
/// An unreadable Python environment.
pub fn environment_info(python_env: Option<&Path>) -> Result<Environment> {
    let mut env = Environment {
        os: read_trim("/etc/os-release")
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| std::env::consts::OS.to_owned()),
        arch: std::env::consts::ARCH.to_owned(),
        kernel: read_trim("/proc/sys/kernel/osrelease").unwrap_or_default(),
        cpu: read_trim("/proc/cpuinfo")
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_default(),
        cpus: std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(0),
        ..Environment::default()
    };
    if let Ok(out) = Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,driver_version,memory.total",
            "--format=csv,noheader",
        ])
        .output()
        && out.status.success()
    {
        env.gpus = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
    }
    if let Some(dir) = python_env {
        let sbom = provenant_sbom::catalog_python_env(dir).map_err(|e| CaptureError::Tool {
            tool: "python environment".into(),
            reason: format!("{}: {e}", dir.display()),
        })?;
        for c in sbom.components {
            let Some(version) = c.version else { continue };
            let name = c.name.to_ascii_lowercase().replace('_', "-");
            if FRAMEWORKS.contains(&name.as_str()) {
                env.frameworks.insert(name.clone(), version.clone());
            }
            env.python_packages.insert(name, version);
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn environment_reads_a_site_packages_dir() {
        let d = tempfile::tempdir().unwrap();
        let di = d.path().join("torch-2.5.1.dist-info");
        std::fs::create_dir(&di).unwrap();
        std::fs::write(
            di.join("METADATA"),
            "Metadata-Version: 2.1\nName: torch\nVersion: 2.5.1\n",
        )
        .unwrap();
        let e = environment_info(Some(d.path())).unwrap();
        assert_eq!(e.frameworks.get("torch").map(String::as_str), Some("2.5.1"));
        assert!(!e.arch.is_empty());
    }
}
