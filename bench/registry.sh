#!/usr/bin/env bash
# 100,000 versions over 1,000 models (labels on each) in Provenant, through its
# HTTP API, and in MLflow's model registry (PyPI mlflow-skinny, SQLite backend,
# MlflowClient), side by side on this machine. Prints both and the ratios
# (Provenant over MLflow: higher is better for rates, lower-latency ratios are
# MLflow's latency divided by ours).
#
# Provenant publishes with CONCURRENCY (default 16) requests in flight from one
# client thread; MLflow's client creates versions one after another in process
# (its SQLite store takes one writer at a time). Latencies are over QUERIES
# queries (MLflow's tag-only search over QUERIES/5: it takes ~0.25 s each).
#
#   bench/registry.sh                       # full size; MLflow takes ~12 minutes
#   VERSIONS=20000 bench/registry.sh        # smaller, same shape
#   SKIP_MLFLOW=1 bench/registry.sh         # Provenant only
set -euo pipefail
cd "$(dirname "$0")/.."
export VERSIONS="${VERSIONS:-100000}" MODELS="${MODELS:-1000}" QUERIES="${QUERIES:-1000}"
VENV="${PROVENANT_PY_VENV:-/var/tmp/provenant-venv}"
OUT="${BENCH_DIR:-/var/tmp}/provenant-registry-bench"
mkdir -p "$OUT"

cargo bench -q -p provenant --bench registry 2>/dev/null | tail -1 > "$OUT/provenant.json"
cat "$OUT/provenant.json"
if [ -z "${SKIP_MLFLOW:-}" ]; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/python" -c 'import mlflow' 2>/dev/null || "$VENV/bin/pip" install -q mlflow-skinny sqlalchemy alembic
    "$VENV/bin/python" bench/registry_mlflow.py | tail -1 > "$OUT/mlflow.json"
    cat "$OUT/mlflow.json"
    python3 - "$OUT/provenant.json" "$OUT/mlflow.json" <<'PY'
import json, sys
p, m = (json.load(open(f)) for f in sys.argv[1:3])
print(f"\n{'':36}{'provenant':>12}{'mlflow':>12}{'ratio':>9}")
print(f"{'versions created per second':36}{p['create_per_s']:12.0f}{m['create_per_s']:12.0f}{p['create_per_s']/m['create_per_s']:8.1f}x")
for key, label in [("model_and_label_p95_ms", "model + label search p95 (ms)"),
                   ("label_only_first100_p50_ms", "label-only, first 100, p50 (ms)"),
                   ("name_prefix_p95_ms", "model name prefix p95 (ms)")]:
    print(f"{label:36}{p[key]:12.2f}{m[key]:12.2f}{m[key]/p[key]:8.1f}x")
PY
fi
