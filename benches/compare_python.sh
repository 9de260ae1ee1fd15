#!/usr/bin/env bash
# Times `nst stylize` on a folder of photos against benches/python_ort_baseline.py, the
# same work done the plain way in Python (onnxruntime CPU, numpy, Pillow), with the same
# model, photos, --max-size and intra-op threads. Each side runs RUNS times,
# alternating which goes first; the best wall time (process start to exit, model load
# included) counts.
#
#   benches/compare_python.sh [PHOTOS_DIR] [MODEL]
#
# PHOTOS_DIR: default ../shared/photos if it exists, else assets/photos.
# MODEL:      default weights/vg_starry_night.onnx (the default style).
# Environment: MAX_SIZE (640), RUNS (3), THREADS (intra-op threads for both: nst --threads,
# Python intra_op_num_threads; unset = onnxruntime's default, one per physical core).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "compare_python: $*" >&2; exit 1; }

photos=${1:-}
if [ -z "$photos" ]; then
  photos="$root/assets/photos"
  [ -d "$root/../shared/photos" ] && photos="$root/../shared/photos"
fi
model=${2:-$root/weights/vg_starry_night.onnx}
max_size=${MAX_SIZE:-640}
runs=${RUNS:-3}
threads=${THREADS:-}

nst="$root/target/release/nst"
python="$root/.venv/bin/python"
[ -x "$nst" ] || die "$nst is missing: run make build first"
[ -x "$python" ] || die "$python is missing: run make build first (it runs make setup)"
"$python" -c 'import onnxruntime, numpy, PIL' 2>/dev/null || die ".venv lacks onnxruntime/numpy/Pillow: run make build first"
[ -f "$model" ] || die "model $model is missing: it ships in weights/ (git checkout weights/)"
[ -d "$photos" ] || die "$photos is not a folder of photos"
photos=$(cd "$photos" && pwd)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

common=(-o "$tmp/out" --model "$model" --max-size "$max_size" ${threads:+--threads "$threads"})
nst_cmd=("$nst" stylize "$photos" --ep cpu "${common[@]}")
py_cmd=("$python" "$root/benches/python_ort_baseline.py" "$photos" "${common[@]}")

# wall LOG CMD...: runs CMD into a fresh $tmp/out, its output into $tmp/LOG, and prints its
# wall time in seconds.
wall() {
  local log="$tmp/$1" start end
  shift
  rm -rf "$tmp/out"
  start=$(date +%s.%N)
  "$@" >"$log" 2>&1 || { cat "$log" >&2; die "failed: $*"; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

echo "photos: $photos, model: $model"
echo "max-size $max_size, intra-op threads: ${threads:-onnxruntime default (one per physical core)} on both sides, best of $runs runs"
nst_times=() py_times=()
for ((i = 1; i <= runs; i++)); do
  if ((i % 2)); then
    nst_times+=("$(wall nst.log "${nst_cmd[@]}")")
    py_times+=("$(wall py.log "${py_cmd[@]}")")
  else
    py_times+=("$(wall py.log "${py_cmd[@]}")")
    nst_times+=("$(wall nst.log "${nst_cmd[@]}")")
  fi
done

# The Python baseline ends with "stylized N images into ...".
count=$(awk '/^stylized/ { print $2 }' "$tmp/py.log")
[ "${count:-0}" -gt 0 ] || die "no images in $photos"

best() { printf '%s\n' "$@" | sort -g | head -n1; }
nst_best=$(best "${nst_times[@]}")
py_best=$(best "${py_times[@]}")
awk -v n="$nst_best" -v p="$py_best" -v c="$count" -v nr="${nst_times[*]}" -v pr="${py_times[*]}" 'BEGIN {
  printf "%d images\n", c
  printf "%-26s %8s %10s   %s\n", "", "best s", "images/s", "all runs (s)"
  printf "%-26s %8.3f %10.2f   %s\n", "nst stylize (Rust)", n, c / n, nr
  printf "%-26s %8.3f %10.2f   %s\n", "Python onnxruntime", p, c / p, pr
  printf "ratio python/nst: %.2f (above 1: nst is faster)\n", p / n
}'
