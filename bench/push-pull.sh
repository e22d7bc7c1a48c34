#!/usr/bin/env bash
# Push and pull of a 2 GiB model directory (8 files of 256 MiB) through the
# server on loopback, side by side with `cp -r` of the same directory on the
# same disk. Prints wall times, ratios and peak RSS of server and CLI; push
# also with --hash-first (every file hashed before it is sent) for reference.
#
#   bench/push-pull.sh            # uses target/release/provenant (builds it)
#   BENCH_DIR=/var/tmp/x FILES=8 FILE_MIB=256 REPEAT=3 bench/push-pull.sh
#   BENCH_DIR=/var/tmp/small FILES=500 FILE_KIB=4 bench/push-pull.sh   # many small files
#
# Prints the best and the median of REPEAT rounds (after one warm-up round);
# each round runs cp, push and pull back to back.
#
# On a VM that hands freed memory back to its host (virtio-balloon free page
# reporting, as on the project's dev machines), the first touch of such
# memory costs seconds per GiB and lands on whichever contender touches it
# first: `cp` right after removing its last copy reuses pages not yet handed
# back, slower writers get fresh ones. When the script may (root, and the
# kernel exposes page_reporting_order), it pauses reporting for the run and
# restores the setting on exit, so that all contenders write into memory the
# guest already holds, as on real hardware. VM_MEMORY=asis leaves it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
BIN="${PROVENANT_BIN:-$CARGO_TARGET_DIR/release/provenant}"
BENCH_DIR="${BENCH_DIR:-/var/tmp/provenant-bench-pushpull}"
FILES="${FILES:-8}"
FILE_MIB="${FILE_MIB:-256}"
FILE_BYTES=$(( ${FILE_KIB:-0} > 0 ? FILE_KIB * 1024 : FILE_MIB * 1024 * 1024 ))
SIZE_LABEL=$([ "${FILE_KIB:-0}" -gt 0 ] && echo "$FILE_KIB KiB" || echo "$FILE_MIB MiB")
REPEAT="${REPEAT:-3}"
PORT="${PORT:-7991}"

[ -x "$BIN" ] || cargo build --release -p provenant

ORDER=/sys/module/page_reporting/parameters/page_reporting_order
REPORTING=none
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    [ "$REPORTING" != none ] && [ "$(cat "$ORDER")" != "$REPORTING" ] && echo "$REPORTING" > "$ORDER"
    true
}
trap cleanup EXIT
if [ -r "$ORDER" ]; then
    REPORTING=$(cat "$ORDER")
    if [ "${VM_MEMORY:-hold}" = hold ] && [ "$REPORTING" -le 10 ] && [ -w "$ORDER" ]; then
        # An order above the largest page order: nothing is reported.
        echo 11 > "$ORDER"
        echo "free page reporting paused for the run (page_reporting_order $REPORTING -> 11; restored on exit)"
    fi
fi
mkdir -p "$BENCH_DIR"
MODEL="$BENCH_DIR/model"
if [ "$(find "$MODEL" -type f 2>/dev/null | wc -l)" != "$FILES" ] || [ "$(stat -c %s "$MODEL/shard-1.safetensors")" != "$FILE_BYTES" ]; then
    rm -rf "$MODEL"; mkdir -p "$MODEL"
    echo "generating $FILES x $SIZE_LABEL of random data in $MODEL"
    for i in $(seq 1 "$FILES"); do
        head -c "$FILE_BYTES" /dev/urandom > "$MODEL/shard-$i.safetensors"
    done
fi
cat "$MODEL"/* > /dev/null   # warm the page cache for every contender alike

now() { date +%s.%N; }
best() { sort -n | head -1; }
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# Each contender removes its own output of the previous round just before it
# runs, so each writes into memory freed a moment earlier: the same footing
# for all three, also on a VM that hands memory back to its host. Round 0
# warms up and is not counted.
cp_times=(); push_times=(); pull_times=(); hashed_times=(); cli_rss=()
for r in $(seq 0 "$REPEAT"); do
    rm -rf "$BENCH_DIR/cp-copy"
    t0=$(now); cp -r "$MODEL" "$BENCH_DIR/cp-copy"; sync -f "$BENCH_DIR/cp-copy" 2>/dev/null || true; t1=$(now)
    cp_time=$(echo "$t1 - $t0" | bc)

    rm -rf "$BENCH_DIR/data"
    "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$BENCH_DIR/data" >/dev/null 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do [ -f "$BENCH_DIR/data/admin.token" ] && curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
    kill -0 "$SERVER" 2>/dev/null || { echo "server failed to start (port $PORT taken?)" >&2; exit 2; }
    export PROVENANT_URL="http://127.0.0.1:$PORT" PROVENANT_TOKEN="$(cat "$BENCH_DIR/data/admin.token")" PROVENANT_CONFIG="$BENCH_DIR/no-config.toml"

    t0=$(now); /usr/bin/time -f "%M" -o "$BENCH_DIR/push.rss" "$BIN" push "$MODEL" --model bench/model >/dev/null; t1=$(now)
    push_time=$(echo "$t1 - $t0" | bc)
    rm -rf "$BENCH_DIR/pulled"
    t0=$(now); /usr/bin/time -f "%M" -o "$BENCH_DIR/pull.rss" "$BIN" pull bench/model:1 "$BENCH_DIR/pulled" >/dev/null; t1=$(now)
    pull_time=$(echo "$t1 - $t0" | bc)
    server_rss=$(rss_kib "$SERVER")
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
    SERVER=""
    # The same push hashing every file first (what push did before it read
    # new large files once), into a fresh server of its own.
    rm -rf "$BENCH_DIR/data"
    "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$BENCH_DIR/data" >/dev/null 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do [ -f "$BENCH_DIR/data/admin.token" ] && curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
    export PROVENANT_TOKEN="$(cat "$BENCH_DIR/data/admin.token")"
    t0=$(now); "$BIN" push "$MODEL" --model bench/model --hash-first >/dev/null; t1=$(now)
    hashed_time=$(echo "$t1 - $t0" | bc)
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
    SERVER=""
    cmp -s "$MODEL/shard-1.safetensors" "$BENCH_DIR/pulled/shard-1.safetensors" || { echo "pulled file differs!"; exit 1; }
    printf 'round %s: cp %.2f s, push %.2f s, pull %.2f s, push --hash-first %.2f s%s\n' "$r" "$cp_time" "$push_time" "$pull_time" "$hashed_time" "$([ "$r" = 0 ] && echo ' (warm-up, not counted)')"
    if [ "$r" -gt 0 ]; then
        cp_times+=("$cp_time"); push_times+=("$push_time"); pull_times+=("$pull_time"); hashed_times+=("$hashed_time")
        cli_rss+=("$(cat "$BENCH_DIR/push.rss")" "$(cat "$BENCH_DIR/pull.rss")")
    fi
done

CP=$(printf '%s\n' "${cp_times[@]}" | best)
PUSH=$(printf '%s\n' "${push_times[@]}" | best)
PULL=$(printf '%s\n' "${pull_times[@]}" | best)
CP_MED=$(printf '%s\n' "${cp_times[@]}" | median)
PUSH_MED=$(printf '%s\n' "${push_times[@]}" | median)
PULL_MED=$(printf '%s\n' "${pull_times[@]}" | median)
HASHED=$(printf '%s\n' "${hashed_times[@]}" | best)
HASHED_MED=$(printf '%s\n' "${hashed_times[@]}" | median)
CLI_RSS=$(printf '%s\n' "${cli_rss[@]}" | sort -n | tail -1)
printf '\n%s files x %s, %s rounds, page cache warm            best (ratio)      median (ratio)\n' "$FILES" "$SIZE_LABEL" "$REPEAT"
printf '  cp -r, then sync                                       %6.2f s           %6.2f s\n' "$CP" "$CP_MED"
printf '  provenant push (new files read once, server fsyncs)   %6.2f s (%.2fx)   %6.2f s (%.2fx)\n' \
    "$PUSH" "$(echo "$PUSH / $CP" | bc -l)" "$PUSH_MED" "$(echo "$PUSH_MED / $CP_MED" | bc -l)"
printf '  provenant push --hash-first (hash pass, then upload)  %6.2f s (%.2fx)   %6.2f s (%.2fx)\n' \
    "$HASHED" "$(echo "$HASHED / $CP" | bc -l)" "$HASHED_MED" "$(echo "$HASHED_MED / $CP_MED" | bc -l)"
printf '  provenant pull (download, verify, fsync, rename)      %6.2f s (%.2fx)   %6.2f s (%.2fx)\n' \
    "$PULL" "$(echo "$PULL / $CP" | bc -l)" "$PULL_MED" "$(echo "$PULL_MED / $CP_MED" | bc -l)"
printf '  peak RSS: server %s MiB (last run), CLI %s MiB (max of push/pull)\n' "$((server_rss / 1024))" "$((CLI_RSS / 1024))"
if [ "$REPORTING" != none ] && [ "$(cat "$ORDER")" -le 10 ]; then
    printf '  note: this VM handed freed memory back to its host during the run (page_reporting_order %s):\n' "$(cat "$ORDER")"
    printf '        first touches of such memory are slow, and fall unevenly on the contenders\n'
fi
rm -rf "$BENCH_DIR/cp-copy" "$BENCH_DIR/pulled" "$BENCH_DIR/data"
