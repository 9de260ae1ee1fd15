#!/usr/bin/env bash
# Training speed: nst-train against the PyTorch (Python) loop of pytorch/examples
# fast_neural_style, same network, VGG-19 weights and layers, image size, batch and
# thread count, run one after the other in this script. Prints images/s and the ratio.
#
# Usage: benches/train_vs_pytorch.sh [image_size] [batch] [iterations] [dataset] [style]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}
batch=${2:-4}
iters=${3:-12}
warmup=2
dataset=${4:-../shared/datasets/photos800}
style=${5:-../shared/styles/vg_starry_night.jpg}
threads=${THREADS:-$(nproc)}
[ -x target/release/nst-train ] && [ -x .venv/bin/python ] || { echo "run 'make build' first" >&2; exit 1; }
[ -d "$dataset" ] || { echo "no dataset at $dataset: pass a folder of photos as the 4th argument" >&2; exit 1; }
[ -f "$style" ] || { echo "no style image at $style: pass one as the 5th argument" >&2; exit 1; }
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT

echo "training speed: ${size} px, batch ${batch}, ${iters} iterations (first ${warmup} not timed), ${threads} threads"
target/release/nst-train --style "$style" --dataset "$dataset" --image-size "$size" --batch-size "$batch" \
  --iterations "$iters" --threads "$threads" --device cpu --sample-every 0 --checkpoint-every 0 \
  --checkpoint-dir "$run/run" -o "$run/m.onnx" >/dev/null 2>"$run/log" || { cat "$run/log" >&2; exit 1; }
# losses.csv has the running images/s: the time at iteration k is k*batch/ips_k.
ours=$(awk -F, -v w="$warmup" -v b="$batch" 'NR>1 { t[$1] = $1 * b / $6; n = $1 } END { printf "%.3f", (n - w) * b / (t[n] - t[w]) }' "$run/run/losses.csv")
theirs=$(.venv/bin/python benches/pytorch_train_loop.py --style "$style" --dataset "$dataset" --image-size "$size" \
  --batch-size "$batch" --iterations "$iters" --warmup "$warmup" --threads "$threads" | awk '{print $2}')
echo "nst-train:      ${ours} images/s"
echo "PyTorch loop:   ${theirs} images/s"
awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "ratio nst-train / PyTorch: %.2fx\n", a / b }'
