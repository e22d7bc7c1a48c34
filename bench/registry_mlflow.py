"""MLflow model-registry side of bench/registry.sh.

Creates VERSIONS model versions over MODELS registered models (SQLite backend,
MlflowClient), each version tagged stage=prod|dev and team=t<k>, then times the
three queries the Provenant benchmark runs. Prints one JSON object.
"""
import json
import os
import sys
import tempfile
import time

from mlflow.tracking import MlflowClient


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    versions = int(os.environ.get("VERSIONS", "100000"))
    models = int(os.environ.get("MODELS", "1000"))
    queries = int(os.environ.get("QUERIES", "50"))
    work = tempfile.mkdtemp(prefix="mlflow-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    uri = f"sqlite:///{work}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    names = [f"model-{i:04d}" for i in range(models)]
    for n in names:
        client.create_registered_model(n)
    per_model = versions // models
    t0 = time.perf_counter()
    for j in range(per_model):
        for i, n in enumerate(names):
            stage = "prod" if (i + j) % 3 == 0 else "dev"
            client.create_model_version(n, f"file:///models/{n}/{j}", tags={"stage": stage, "team": f"t{i % 10}"})
    create_s = time.perf_counter() - t0
    created = per_model * models

    def timed(fn, count):
        out = []
        for k in range(count):
            t = time.perf_counter()
            fn(k)
            out.append((time.perf_counter() - t) * 1000)
        return out

    by_model = timed(lambda k: client.search_model_versions(f"name='{names[k * 7 % models]}' and tag.stage='prod'"), queries)
    tag_only = timed(lambda k: client.search_model_versions("tag.stage='prod'", max_results=100), max(5, queries // 5))
    prefix = timed(lambda k: client.search_registered_models(f"name LIKE 'model-0{k % 10}%'"), queries)
    print(json.dumps({
        "peer": "mlflow",
        "versions": created,
        "create_per_s": created / create_s,
        "model_and_label_p95_ms": pct(by_model, 95),
        "label_only_first100_p50_ms": pct(tag_only, 50),
        "name_prefix_p95_ms": pct(prefix, 95),
    }))


if __name__ == "__main__":
    sys.exit(main())
