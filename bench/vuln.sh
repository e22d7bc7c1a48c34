#!/usr/bin/env bash
# Vulnerability database benchmark (issue 7), through the provenant binary:
#  1. import of the full PyPA advisory database ($PROVENANT_PYPA_DIR, the folder holding
#     vulns/; required: the repository keeps only a subset) into a fresh
#     local database (embedded SQLite): wall time (target < 5 s), and a re-import;
#  2. scan of a 1,000-component CycloneDX SBOM (PyPI packages named in the database, at
#     versions that hit advisories and that do not) including opening the database and
#     loading the index: median and worst of N runs (target < 200 ms).
# Binary: $PROVENANT_BIN (default: release build).
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${PROVENANT_PYPA_DIR:-}"
if [[ -z "$DATA" || ! -d "$DATA/vulns" ]]; then
  echo "vuln bench: set PROVENANT_PYPA_DIR to the PyPA advisory database (the folder holding vulns/)" >&2
  exit 2
fi
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/pt-vuln-bench.XXXXXX")"
RUNS="${RUNS:-15}"
trap 'rm -rf "$WORK"' EXIT

if [[ -z "${PROVENANT_BIN:-}" ]]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HERE/target}"
  (cd "$HERE" && cargo build --release -p provenant >&2)
  PROVENANT_BIN="$CARGO_TARGET_DIR/release/provenant"
fi

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

t0=$(now); "$PROVENANT_BIN" vulndb import "$DATA" --db "$WORK/db" --json > "$WORK/import.json"; t1=$(now)
first=$(elapsed "$t0" "$t1")
t0=$(now); "$PROVENANT_BIN" vulndb import "$DATA" --db "$WORK/db" --json > /dev/null; t1=$(now)
again=$(elapsed "$t0" "$t1")

python3 - "$DATA" "$WORK/bom.json" <<'PY'
import json, os, sys
data, out = sys.argv[1:3]
names = sorted(os.listdir(os.path.join(data, "vulns")))
comps = []
i = 0
while len(comps) < 1000:
    name = names[i % len(names)]
    version = ["0.1", "1.0.0", "2.0", "99.0"][i // len(names) % 4]
    purl = f"pkg:pypi/{name}@{version}"
    comps.append({"type": "library", "bom-ref": purl, "name": name, "version": version, "purl": purl})
    i += 1
json.dump({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": comps}, open(out, "w"))
PY

times=()
for _ in $(seq "$RUNS"); do
  t0=$(now); "$PROVENANT_BIN" scan "$WORK/bom.json" --db "$WORK/db" --json > "$WORK/scan.json"; t1=$(now)
  times+=("$(elapsed "$t0" "$t1")")
done
python3 - "$WORK/import.json" "$WORK/scan.json" "$first" "$again" "${times[@]}" <<'PY'
import json, statistics, sys
imp, scan = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
first, again = float(sys.argv[3]), float(sys.argv[4])
t = sorted(float(x) * 1000 for x in sys.argv[5:])
print(f"import of the PyPA database: {imp['records']} records in {first:.2f} s (target < 5 s: {5/first:.1f}x under); re-import {again:.2f} s")
print(f"scan of {scan['components']} components, {len(scan['findings'])} findings, incl. loading {scan['database_records']} records:"
      f" median {statistics.median(t):.0f} ms, worst {t[-1]:.0f} ms over {len(t)} runs (target < 200 ms: {200/statistics.median(t):.1f}x under)")
PY
