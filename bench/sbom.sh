#!/usr/bin/env bash
# SBOM benchmark (issue 6), two parts:
#  1. this machine's own Python environment: our SBOM vs `cyclonedx-py environment`
#     (PyPI cyclonedx-bom), side by side: wall time, ratio (target >= 20x), component counts;
#  2. a >= 300 MiB container image (OCI layout) built here from local files (/usr/share,
#     the dpkg database, this machine's site-packages), gzip + zstd layers: wall time and
#     peak RSS (target < 100 MiB).
# Binary: $PROVENANT_BIN (default: release build of the provenant binary);
# peer: $PROVENANT_PY_VENV/bin/cyclonedx-py (default venv /var/tmp/provenant-venv).
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${PROVENANT_PY_VENV:-/var/tmp/provenant-venv}"
WORK="${SBOM_BENCH_DIR:-/var/tmp/pt-sbom-bench}"
RUNS_OURS="${RUNS_OURS:-10}"
RUNS_PEER="${RUNS_PEER:-3}"
mkdir -p "$WORK"

if [[ -z "${PROVENANT_BIN:-}" ]]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HERE/target}"
  (cd "$HERE" && cargo build --release -p provenant >&2)
  PROVENANT_BIN="$CARGO_TARGET_DIR/release/provenant"
fi
[[ -x "$VENV/bin/cyclonedx-py" ]] || { echo "missing $VENV/bin/cyclonedx-py (pip install cyclonedx-bom)" >&2; exit 2; }

PY="$(python3 -c 'import sys; print(sys.executable)')"
SITE="$(python3 -c 'import site; print(site.getsitepackages()[0])')"

now() { date +%s.%N; }
# mean wall seconds of N runs of a command (output discarded)
mean_time() {
  local n=$1; shift
  local t0 t1 total=0
  for _ in $(seq "$n"); do
    t0=$(now); "$@" >/dev/null 2>&1; t1=$(now)
    total=$(echo "$total + $t1 - $t0" | bc -l)
  done
  echo "scale=4; $total / $n" | bc -l
}
count() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["components"]))' "$1"; }

echo "== 1. Python environment: $SITE"
"$PROVENANT_BIN" sbom "$SITE" -o cyclonedx-json --output "$WORK/ours.cdx.json" 2>/dev/null
"$VENV/bin/cyclonedx-py" environment --of JSON -o "$WORK/peer.cdx.json" "$PY" 2>/dev/null
T_OURS=$(mean_time "$RUNS_OURS" "$PROVENANT_BIN" sbom "$SITE" -o cyclonedx-json --output "$WORK/ours.cdx.json")
T_PEER=$(mean_time "$RUNS_PEER" "$VENV/bin/cyclonedx-py" environment --of JSON -o "$WORK/peer.cdx.json" "$PY")
printf 'provenant sbom          %8.3f s  (mean of %d)  components: %s\n' "$T_OURS" "$RUNS_OURS" "$(count "$WORK/ours.cdx.json")"
printf 'cyclonedx-py environment %7.3f s  (mean of %d)  components: %s\n' "$T_PEER" "$RUNS_PEER" "$(count "$WORK/peer.cdx.json")"
printf 'speed-up: %.1fx (target >= 20x)\n' "$(echo "$T_PEER / $T_OURS" | bc -l)"
python3 - "$WORK/ours.cdx.json" "$WORK/peer.cdx.json" <<'PY'
import json, sys
ours = {c["purl"]: c for c in json.load(open(sys.argv[1]))["components"]}
peer = {c.get("purl"): c for c in json.load(open(sys.argv[2]))["components"]}
print(f"same purls: {len(set(ours) & set(peer))}; only ours: {sorted(set(ours) - set(peer))}; only cyclonedx-py: {sorted(set(peer) - set(ours))}")
print(f"with licences: ours {sum(1 for c in ours.values() if c.get('licenses'))}, cyclonedx-py {sum(1 for c in peer.values() if c.get('licenses'))}")
PY

echo "== 2. Container image built from local files"
IMG="$WORK/image-oci"
if [[ ! -f "$IMG/index.json" ]]; then
  rm -rf "$IMG.tmp" && mkdir -p "$IMG.tmp/blobs/sha256"
  layer() { # name compressor mediatype tar-args...
    local name=$1 comp=$2 mt=$3; shift 3
    tar -cf - "$@" 2>/dev/null | tee >(sha256sum | cut -d' ' -f1 > "$IMG.tmp/$name.diff") | $comp > "$IMG.tmp/$name.blob"
    sleep 0.2
    local d; d=$(sha256sum "$IMG.tmp/$name.blob" | cut -d' ' -f1)
    mv "$IMG.tmp/$name.blob" "$IMG.tmp/blobs/sha256/$d"
    echo "{\"mediaType\":\"$mt\",\"digest\":\"sha256:$d\",\"size\":$(stat -c %s "$IMG.tmp/blobs/sha256/$d")}" > "$IMG.tmp/$name.desc"
  }
  layer l1 "gzip -1" application/vnd.oci.image.layer.v1.tar+gzip -C / etc/os-release var/lib/dpkg/status usr/share
  layer l2 "zstd -1 -q -c" application/vnd.oci.image.layer.v1.tar+zstd -C "$(dirname "$SITE")" \
    --transform "s,^$(basename "$SITE"),usr/local/lib/python3.11/site-packages," "$(basename "$SITE")"
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' \
    "$(cat "$IMG.tmp/l1.diff")" "$(cat "$IMG.tmp/l2.diff")" > "$IMG.tmp/config.json"
  CD=$(sha256sum "$IMG.tmp/config.json" | cut -d' ' -f1); mv "$IMG.tmp/config.json" "$IMG.tmp/blobs/sha256/$CD"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s,%s]}' \
    "$CD" "$(stat -c %s "$IMG.tmp/blobs/sha256/$CD")" "$(cat "$IMG.tmp/l1.desc")" "$(cat "$IMG.tmp/l2.desc")" > "$IMG.tmp/m.json"
  MD=$(sha256sum "$IMG.tmp/m.json" | cut -d' ' -f1); MS=$(stat -c %s "$IMG.tmp/m.json"); mv "$IMG.tmp/m.json" "$IMG.tmp/blobs/sha256/$MD"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"local/bench:1"}}]}' "$MD" "$MS" > "$IMG.tmp/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$IMG.tmp/oci-layout"
  rm -f "$IMG.tmp"/l?.{diff,desc}
  mv "$IMG.tmp" "$IMG"
fi
printf 'image: %s compressed on disk\n' "$(du -sh --apparent-size "$IMG/blobs" | cut -f1)"
/usr/bin/time -f '%e %M' -o "$WORK/time.txt" "$PROVENANT_BIN" sbom "$IMG" -o cyclonedx-json --output "$WORK/image.cdx.json" 2>"$WORK/image.stderr" || { cat "$WORK/image.stderr"; exit 1; }
read -r SECS KB < "$WORK/time.txt"
python3 - "$WORK/image.cdx.json" "$SECS" "$KB" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
kinds = {}
for c in d["components"]:
    k = c.get("purl", "").split("/")[0]
    kinds[k] = kinds.get(k, 0) + 1
img = next(c for c in d["components"] if c["type"] == "container")
unc = 0
print(f"components: {len(d['components'])} {kinds}")
print(f"image digest: sha256:{img['hashes'][0]['content']}")
print(f"time: {float(sys.argv[2]):.2f} s   peak RSS: {int(sys.argv[3]) / 1024:.1f} MiB (target < 100 MiB)")
PY
