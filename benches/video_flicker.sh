#!/usr/bin/env bash
# Measures flicker: runs `nst video --report-instability` on a clip with several --smooth
# values and prints the temporal instability of each output (the mean absolute difference
# between consecutive output frames over the same for the input frames; 1 = the output
# changes exactly as much as the input, more = flicker).
#
#   benches/video_flicker.sh [CLIP] [MODEL]
#
# CLIP:  default ../shared/videos/vtest.avi (768x576, 795 frames of street footage).
# MODEL: default weights/vg_starry_night.onnx (the default style).
# Environment: SMOOTHS ("0 0.5 0.8"), MAX_SIZE (384; empty for the full size),
#              DURATION (seconds of the clip; empty for all of it), THREADS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "video_flicker: $*" >&2; exit 1; }

clip=${1:-$root/../shared/videos/vtest.avi}
model=${2:-$root/weights/vg_starry_night.onnx}
smooths=${SMOOTHS:-0 0.5 0.8}
max_size=${MAX_SIZE-384}
duration=${DURATION:-}
threads=${THREADS:-$(nproc)}
nst="$root/target/release/nst"

[ -x "$nst" ] || die "$nst is missing: run make build first"
[ -f "$model" ] || die "model $model is missing: it ships in weights/ (git checkout weights/)"
[ -f "$clip" ] || die "$clip is missing"
command -v ffmpeg >/dev/null || die "ffmpeg not found: install it (apt-get install ffmpeg)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

args=(--model "$model" --ep cpu --threads "$threads" --report-instability)
[ -n "$max_size" ] && args+=(--max-size "$max_size")
[ -n "$duration" ] && args+=(--duration "$duration")

echo "clip: $clip${duration:+ (first $duration s)}, max-size ${max_size:-none}, model: $model, $threads threads"
printf '%-10s %12s %10s\n' "--smooth" "instability" "frames/s"
for smooth in $smooths; do
  out="$tmp/smooth-$smooth.mp4"
  "$nst" video "$clip" -o "$out" --smooth "$smooth" "${args[@]}" >"$tmp/stdout" 2>"$tmp/stderr" \
    || { cat "$tmp/stderr" >&2; die "nst video failed with --smooth $smooth"; }
  value=$(sed -n 's/.*temporal instability \([0-9.]*\).*/\1/p' "$tmp/stdout")
  fps=$(sed -n 's/.* \([0-9.]*\) frames\/s$/\1/p' "$tmp/stderr")
  printf '%-10s %12s %10s\n' "$smooth" "$value" "$fps"
done
