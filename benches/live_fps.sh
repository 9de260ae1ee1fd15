#!/usr/bin/env bash
# `nst live` end to end against the network alone, for every bundled style:
#   end to end: nst live --source test --headless --frames N (capture, inference and
#               display threads, drop-stale channels; FPS of frames shown, latency from
#               capture to display, mean and p95),
#   raw:        nst live --source test --raw-inference --frames N (the same test-pattern
#               frames, the network alone on one thread, one frame after the other),
# and the pipeline's overhead: raw FPS / end-to-end FPS - 1 (the goal: at most 5%), where
# the raw FPS counts at most the source's rate (TEST_FPS: no pipeline shows more frames
# than the camera delivers), and the time per frame that adds (added_ms).
# `run` is the size the network runs at (`--scale auto`: frames above 1.5 times the
# style's reference side run at it, 512x288 for 1280x720; the raw figure is the network
# at that size, so there the overhead includes the resizing and the detail put back).
#
# Runs alternate raw / end to end REPEATS times and report the medians; the overhead is
# the median over the pairs of runs side by side (a raw run and the end-to-end run right
# after it), so that a machine whose speed drifts (a VM on shared cores: +-30 % from one
# minute to the next here) compares like with like. Settings: FRAMES (default 100),
# REPEATS (3), TEST_FPS (the test pattern's rate, 30: a camera's),
# RESOLUTIONS ("640x480 1280x720"), VARIANT (fast: every style's fast model; full),
# STYLES (default every bundled style of that variant), NST (target/release/nst), EXTRA
# (more `nst live` arguments, such as "--ep cpu --threads 2").
set -euo pipefail
cd "$(dirname "$0")/.."
NST=${NST:-target/release/nst}
FRAMES=${FRAMES:-100}
REPEATS=${REPEATS:-3}
TEST_FPS=${TEST_FPS:-30}
RESOLUTIONS=${RESOLUTIONS:-${RESOLUTION:-640x480 1280x720}}
VARIANT=${VARIANT:-fast}
EXTRA=${EXTRA:-}
[ -x "$NST" ] || { echo "live_fps: $NST is missing: run cargo build --release first" >&2; exit 1; }

styles=${STYLES:-$("$NST" styles --json | python3 -c 'import json,sys; print(" ".join(s["name"] for s in json.load(sys.stdin) if s.get("variant") == sys.argv[1] and s.get("trained")))' "$VARIANT")}
[ -n "$styles" ] || { echo "live_fps: no trained bundled $VARIANT styles (weights/*.onnx)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "nst live, $VARIANT variant, on the test pattern, $FRAMES frames, median of $REPEATS runs ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-10s %-9s %-26s %10s %10s %12s %12s %10s %10s %9s\n' size run style raw_fps e2e_fps lat_mean_ms lat_p95_ms infer_ms overhead added_ms
for RESOLUTION in $RESOLUTIONS; do
for style in $styles; do
  for r in $(seq 1 "$REPEATS"); do
    # shellcheck disable=SC2086
    "$NST" live --source test --resolution "$RESOLUTION" --model "$style" --variant "$VARIANT" --test-fps "$TEST_FPS" --raw-inference --frames "$FRAMES" --json $EXTRA \
      2>/dev/null >"$tmp/raw-$style-$r.json"
    # shellcheck disable=SC2086
    "$NST" live --source test --resolution "$RESOLUTION" --model "$style" --variant "$VARIANT" --test-fps "$TEST_FPS" --one-style --headless --frames "$FRAMES" --json $EXTRA \
      2>/dev/null >"$tmp/e2e-$style-$r.json"
  done
  python3 - "$tmp" "$style" "$REPEATS" "$RESOLUTION" "$TEST_FPS" <<'EOF'
import json, statistics, sys
tmp, style, repeats, size, source_fps = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
load = lambda kind, r: json.load(open(f"{tmp}/{kind}-{style}-{r}.json"))
raw = [load("raw", r)["raw_inference"] for r in range(1, repeats + 1)]
e2e = [load("e2e", r)["summary"] for r in range(1, repeats + 1)]
med = lambda xs: statistics.median(xs)
raw_fps, e2e_fps = med([x["fps"] for x in raw]), med([x["fps"] for x in e2e])
# Per pair of runs side by side: the share and the milliseconds per frame that the
# pipeline adds to the network alone (capped at the source's rate).
pairs = [(min(r["fps"], source_fps), e["fps"]) for r, e in zip(raw, e2e)]
overhead = med([(r / e - 1) * 100 for r, e in pairs])
added = med([1e3 / e - 1e3 / r for r, e in pairs])
run = "x".join(str(v) for v in raw[0].get("size", [])) or size
print(f"{size:<10} {run:<9} {style:<26} {raw_fps:10.2f} {e2e_fps:10.2f} {med([x['latency_mean_ms'] for x in e2e]):12.1f} "
      f"{med([x['latency_p95_ms'] for x in e2e]):12.1f} {med([x['inference_mean_ms'] for x in e2e]):10.1f} {overhead:9.1f}% {added:9.1f}")
EOF
done
done
