#!/usr/bin/env bash
# `nst serve` under load, against `nst stylize` on the same photos in the same run:
#   1. the photos (../shared/photos, else assets/photos) cropped to 640x480 JPEGs;
#   2. batch:  `nst stylize` over COPIES copies of them with the fast STYLE (images/s);
#   3. server: `nst serve` (its defaults) and `nst-load`: CLIENTS concurrent clients
#      posting the photos for DURATION s; requests/s, latency p50/p95/p99, the count of
#      each status, and the server's memory (start, peak, and every tenth of the run);
#   4. the server's throughput as a share of the batch's (goal: at least 90%).
# Settings: CLIENTS (32), DURATION (60 seconds; not SECONDS, which bash keeps for itself), STYLE (udnie), VARIANT (fast), COPIES (20),
# PORT (18089), SERVE_ARGS (more `nst serve` options).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-32}
DURATION=${DURATION:-60}
STYLE=${STYLE:-udnie}
VARIANT=${VARIANT:-fast}
COPIES=${COPIES:-20}
PORT=${PORT:-18089}
SERVE_ARGS=${SERVE_ARGS:-}
cargo build --release --bins -q -p nst-runtime -p nst-benches
NST=target/release/nst
LOAD=target/release/nst-load
src=../shared/photos
[ -d "$src" ] || src=assets/photos
tmp=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT

"$LOAD" prepare "$src" "$tmp/photos" 640x480
n=$(ls "$tmp/photos" | wc -l)
echo "nst serve load test: $n photos at 640x480 from $src, style $STYLE ($VARIANT), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p "$tmp/batch_in" "$tmp/batch_out"
for i in $(seq 1 "$COPIES"); do
    for f in "$tmp"/photos/*.jpg; do cp "$f" "$tmp/batch_in/${i}_$(basename "$f")"; done
done
total=$((n * COPIES))
start=$(date +%s.%N)
"$NST" -q stylize "$tmp/batch_in" -o "$tmp/batch_out" --model "$STYLE" --variant "$VARIANT"
end=$(date +%s.%N)
batch=$(python3 -c "print(f'{$total / ($end - $start):.2f}')")
echo "batch: nst stylize, $total images in $(python3 -c "print(f'{$end - $start:.1f}')") s: $batch images/s"

"$NST" -q serve --bind "127.0.0.1:$PORT" $SERVE_ARGS > "$tmp/serve.out" 2> "$tmp/serve.err" &
server=$!
for _ in $(seq 1 200); do
    curl -fs "http://127.0.0.1:$PORT/readyz" > /dev/null 2>&1 && break
    sleep 0.1
done
echo "server: $(head -1 "$tmp/serve.out")"
"$LOAD" run "http://127.0.0.1:$PORT/api/v1/stylize?style=$STYLE&variant=$VARIANT" "$tmp/photos" --clients "$CLIENTS" --seconds "$DURATION" --pid "$server" | tee "$tmp/load.txt"
kill -TERM "$server"
wait "$server" || true
server=""
served=$(sed -n 's/^throughput: \([0-9.]*\).*/\1/p' "$tmp/load.txt")
python3 -c "print(f'server / batch: {$served / $batch:.2f} (goal: at least 0.90)')"
