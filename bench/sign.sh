#!/usr/bin/env bash
# OMS signing benchmark (issue 3): provenant vs PyPI model-signing vs the
# hardware bound (two parallel `openssl dgst -sha256`), sha256sum, BLAKE3.
#
#   bench/sign.sh            # builds, generates data under $BENCH_DATA, runs, prints a table
#
# Env: PROVENANT_BIN   the provenant binary (default: built here, release)
#      PROVENANT_PY_VENV  venv with model-signing 1.1.x + pyopenssl (default /var/tmp/provenant-venv)
#      BENCH_DATA      data directory (default /var/tmp/provenant-bench; ~8.5 GiB)
#      BENCH_REPEAT    runs per measurement, best time kept (default 3)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${BENCH_DATA:-/var/tmp/provenant-bench}
VENV=${PROVENANT_PY_VENV:-/var/tmp/provenant-venv}
REPEAT=${BENCH_REPEAT:-3}
MS=$VENV/bin/model_signing
PY=$VENV/bin/python

if [ -z "${PROVENANT_BIN:-}" ]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
    (cd "$ROOT" && cargo build --release --quiet -p provenant)
    PROVENANT_BIN=$CARGO_TARGET_DIR/release/provenant
fi
[ -x "$MS" ] || { echo "model_signing not found in $VENV" >&2; exit 2; }

# ---------- data ----------
mkdir -p "$DATA"
BIG=$DATA/model8        # 8 x 512 MiB
ONE=$DATA/single.bin    # one 4 GiB file
SMALL=$DATA/small1000   # 1,000 small files
if [ ! -f "$DATA/.model8.complete" ]; then
    rm -rf "$BIG"; mkdir -p "$BIG"
    for i in 0 1 2 3 4 5 6 7; do
        head -c 536870912 /dev/urandom > "$BIG/model-0000$i-of-00008.safetensors"
    done
    touch "$DATA/.model8.complete"
fi
if [ ! -f "$ONE" ] || [ "$(stat -c %s "$ONE")" != 4294967296 ]; then
    cat "$BIG"/*.safetensors > "$ONE"
fi
if [ ! -f "$DATA/.small.complete" ]; then
    rm -rf "$SMALL"; mkdir -p "$SMALL"
    "$PY" - "$SMALL" <<'PY'
import os, random, sys
root = sys.argv[1]; rnd = random.Random(42)
for i in range(1000):
    d = os.path.join(root, f"part{i % 20:02d}", f"sub{i % 7}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i:04d}.json"), "wb") as f:
        f.write(os.urandom(rnd.randint(100, 64 * 1024)))
PY
    touch "$DATA/.small.complete"
fi
KEY=$DATA/key.pem
[ -f "$KEY" ] || openssl ecparam -name prime256v1 -genkey -noout -out "$KEY"
openssl ec -in "$KEY" -pubout -out "$DATA/key.pub" 2>/dev/null

# Warm the page cache.
cat "$BIG"/*.safetensors "$ONE" > /dev/null
find "$SMALL" -type f -exec cat {} + > /dev/null

# ---------- measurement ----------
# best <name> <cmd...>: best wall time (s) of $REPEAT runs into T[name], peak RSS (KiB) into R[name].
declare -A T R
best() {
    local name=$1; shift
    local b="" rss=0
    for _ in $(seq "$REPEAT"); do
        /usr/bin/time -f "%e %M" -o "$DATA/.time" "$@" > /dev/null 2> "$DATA/.err" \
            || { echo "FAILED: $name: $*" >&2; cat "$DATA/.err" >&2; exit 1; }
        read -r t m < "$DATA/.time"
        if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
        [ "$m" -gt "$rss" ] && rss=$m
    done
    T[$name]=$b; R[$name]=$rss
    printf '  %-34s %7.2f s   peak RSS %6.1f MiB\n' "$name" "$b" "$(awk "BEGIN{print $rss/1024}")"
}
ratio() { awk "BEGIN{printf \"%.2fx\", ${T[$1]} / ${T[$2]}}"; }
gbps() { awk "BEGIN{printf \"%.2f GB/s\", $2 / ${T[$1]} / 1e9}"; }

FILES=("$BIG"/*.safetensors)
# The hardware bound: two openssl processes (one per core), four files each.
echo "openssl dgst -sha256 ${FILES[*]:0:4} > /dev/null & openssl dgst -sha256 ${FILES[*]:4:4} > /dev/null & wait" > "$DATA/openssl2.sh"

SIG=$DATA/sig
mkdir -p "$SIG"
echo "provenant: $PROVENANT_BIN"
echo "model_signing: $("$PY" -c 'import model_signing; print(model_signing.__version__)')  ($(nproc) cores)"
echo
echo "== 4 GiB model: 8 files x 512 MiB (sha256, file mode) =="
best "openssl dgst -sha256 x2 (bound)" bash "$DATA/openssl2.sh"
best "sha256sum" sha256sum "${FILES[@]}"
best "provenant sign" "$PROVENANT_BIN" sign "$BIG" --key "$KEY" --signature "$SIG/p8.sig"
best "provenant verify" "$PROVENANT_BIN" verify "$BIG" --key "$DATA/key.pub" --signature "$SIG/p8.sig"
best "model_signing sign key" "$MS" sign key "$BIG" --private_key "$KEY" --signature "$SIG/m8.sig"
best "model_signing verify key" "$MS" verify key "$BIG" --public_key "$DATA/key.pub" --signature "$SIG/m8.sig"
best "provenant sign --hash blake3" "$PROVENANT_BIN" sign "$BIG" --key "$KEY" --hash blake3 --signature "$SIG/p8b3.sig"
best "provenant digest --hash blake3" "$PROVENANT_BIN" digest "$BIG" --hash blake3
echo
echo "== 4 GiB single file, shard mode (1,000,000,000-byte shards) =="
best "provenant sign --shard-size 1e9" "$PROVENANT_BIN" sign "$ONE" --key "$KEY" --shard-size 1000000000 --signature "$SIG/p1.sig"
best "provenant verify (shards)" "$PROVENANT_BIN" verify "$ONE" --key "$DATA/key.pub" --signature "$SIG/p1.sig"
best "provenant digest --hash blake3 (1 file)" "$PROVENANT_BIN" digest "$ONE" --hash blake3
echo
echo "== 1,000 small files =="
best "provenant sign (1000 files)" "$PROVENANT_BIN" sign "$SMALL" --key "$KEY" --signature "$SIG/ps.sig"
best "provenant verify (1000 files)" "$PROVENANT_BIN" verify "$SMALL" --key "$DATA/key.pub" --signature "$SIG/ps.sig"
best "model_signing sign (1000 files)" "$MS" sign key "$SMALL" --private_key "$KEY" --signature "$SIG/ms.sig"
best "model_signing verify (1000 files)" "$MS" verify key "$SMALL" --public_key "$DATA/key.pub" --signature "$SIG/ms.sig"

SIZE=4294967296
echo
echo "== ratios (lower is better for provenant) =="
echo "  provenant sign   / openssl x2 bound      : $(ratio 'provenant sign' 'openssl dgst -sha256 x2 (bound)')   (target <= 1.10x)"
echo "  provenant sign   / model_signing sign    : $(ratio 'provenant sign' 'model_signing sign key')"
echo "  provenant sign   / sha256sum             : $(ratio 'provenant sign' 'sha256sum')"
echo "  provenant verify / openssl x2 bound      : $(ratio 'provenant verify' 'openssl dgst -sha256 x2 (bound)')"
echo "  provenant verify / model_signing verify  : $(ratio 'provenant verify' 'model_signing verify key')"
echo "  single-file shards / 8-file sign         : $(ratio 'provenant sign --shard-size 1e9' 'provenant sign')"
echo "  model_signing / provenant, 1000 files sign  : $(ratio 'model_signing sign (1000 files)' 'provenant sign (1000 files)')   (target >= 10x)"
echo "  model_signing / provenant, 1000 files verify: $(ratio 'model_signing verify (1000 files)' 'provenant verify (1000 files)')"
echo "  throughput: sha256 sign $(gbps 'provenant sign' $SIZE), blake3 digest $(gbps 'provenant digest --hash blake3' $SIZE), blake3 single file $(gbps 'provenant digest --hash blake3 (1 file)' $SIZE), openssl x2 $(gbps 'openssl dgst -sha256 x2 (bound)' $SIZE)"
maxrss=0
for k in "${!R[@]}"; do case $k in provenant*) [ "${R[$k]}" -gt "$maxrss" ] && maxrss=${R[$k]};; esac; done
echo "  peak RSS of any provenant run: $(awk "BEGIN{printf \"%.1f MiB\", $maxrss/1024}")   (target < 64 MiB)"
