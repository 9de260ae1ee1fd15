#!/usr/bin/env bash
# Chooses the fast network by measuring: exports randomly initialised networks of the
# nst-train family (`nst-train init`) for a set of settings and times them side by side
# with onnxruntime (benches/ort_time.py: same frames, interleaved runs, 2 threads), then
# profiles them per operator. Speed does not depend on the weights, so random weights
# measure what a trained model will cost.
#
#   benches/fast_variants.sh [SIZE]     (SIZE default 640x480; THREADS=2, RUNS=30)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-640x480}
train=target/release/nst-train
[ -x "$train" ] || { echo "fast_variants: $train is missing: run make build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
variants=(
  "full|--variant full"
  "fast|--variant fast"
  "fast_deep|--variant fast --norm deep"
  "fast_none|--variant fast --norm none"
  "fast_c12|--variant fast --base-channels 12"
  "fast_r5|--variant fast --residual-blocks 5"
  "fast_1of8|--variant fast --downsamplings 3"
  "fast_1of8_deep|--variant fast --downsamplings 3 --norm deep"
)
models=()
for v in "${variants[@]}"; do
  name=${v%%|*}; args=${v#*|}
  # shellcheck disable=SC2086
  "$train" init $args -o "$tmp/$name.onnx" >/dev/null 2>&1
  models+=("$tmp/$name.onnx")
done
.venv/bin/python benches/ort_time.py --size "$size" --threads "${THREADS:-2}" --runs "${RUNS:-30}" ${PROFILE:+--profile "$tmp/profile"} "${models[@]}"
