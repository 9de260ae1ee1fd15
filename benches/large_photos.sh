#!/usr/bin/env bash
# Large photos: peak memory and time of `nst stylize` at 2, 8, 18 and 48 megapixels, tiled
# (the default) and untiled (--tile off, where it fits: up to UNTILED_MAX_MP), at full
# resolution (--stroke-scale 1); then the default stroke scale on the 18 MP photo against
# the same photo stylized at 512 px, scored by nst-eval at 512 px.
#
#   benches/large_photos.sh            (settings: STYLE=udnie VARIANT=full SIZES="2 8 18 48"
#                                       UNTILED_MAX_MP=8 PHOTO=../shared/photos/taj_mahal.jpg)
#
# The photos are the source photo enlarged (Lanczos) to each size, 3:2 (2 MP: 1732x1155,
# 8: 3464x2309, 18: 5196x3464, 48: 8485x5657); they live in a temporary folder.
# Needs GNU time (/usr/bin/time, installed by scripts/setup.sh) and ffmpeg.
set -euo pipefail
cd "$(dirname "$0")/.."
STYLE=${STYLE:-udnie}
VARIANT=${VARIANT:-full}
SIZES=${SIZES:-2 8 18 48}
UNTILED_MAX_MP=${UNTILED_MAX_MP:-8}
PHOTO=${PHOTO:-../shared/photos/taj_mahal.jpg}
[ -f "$PHOTO" ] || PHOTO=assets/photos/chelsea.jpg
PAINTING=${PAINTING:-../shared/styles/$STYLE.jpg}
NST=target/release/nst
EVAL=target/release/nst-eval
[ -x "$NST" ] && [ -x "$EVAL" ] || { echo "large_photos: build first (make build)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "large_photos: /usr/bin/time is missing (scripts/setup.sh installs it)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs `nst stylize` with the given options; prints "peak_MB seconds".
measure() {
  local input=$1 output=$2; shift 2
  /usr/bin/time -f "%M %e" -o "$tmp/time" "$NST" stylize "$input" -o "$output" --model "$STYLE" --variant "$VARIANT" -q "$@" || { echo "failed"; return; }
  awk '{printf "%.0f %.1f", $1 / 1024, $2}' "$tmp/time"
}

echo "large_photos: $STYLE ($VARIANT), from $PHOTO, on $(nproc) cores"
printf '%-6s %-12s %-22s %-22s %s\n' "MP" "size" "tiled: peak MB, s" "untiled: peak MB, s" "tiled/untiled time per pixel"
for mp in $SIZES; do
  w=$(awk -v mp="$mp" 'BEGIN { printf "%d", sqrt(mp * 1e6 * 1.5) }')
  h=$(( w * 2 / 3 ))
  input="$tmp/photo_${mp}mp.jpg"
  ffmpeg -loglevel error -y -i "$PHOTO" -vf "scale=${w}:${h}:flags=lanczos" -q:v 2 "$input"
  read -r tmb ts <<< "$(measure "$input" "$tmp/tiled_${mp}.png" --stroke-scale 1)"
  umb="-" us="-" ratio="-"
  if [ "$mp" -le "$UNTILED_MAX_MP" ]; then
    read -r umb us <<< "$(measure "$input" "$tmp/untiled_${mp}.png" --stroke-scale 1 --tile off)"
    ratio=$(awk -v a="$ts" -v b="$us" 'BEGIN { printf "%.2f", a / b }')
  fi
  printf '%-6s %-12s %-22s %-22s %s\n' "$mp" "${w}x${h}" "$tmb MB, $ts s" "$umb MB, $us s" "$ratio"
  if [ "$mp" = 18 ]; then
    read -r amb as <<< "$(measure "$input" "$tmp/auto_18.png")"
    ffmpeg -loglevel error -y -i "$input" -vf "scale=512:-1:flags=area" -q:v 2 "$tmp/photo_512.jpg"
    measure "$tmp/photo_512.jpg" "$tmp/at512.png" > /dev/null
    echo "18 MP with the default stroke scale (auto): $amb MB, $as s"
    if [ -f "$PAINTING" ]; then
      "$EVAL" --content "$input" --style "$PAINTING" "$tmp/at512.png" "$tmp/auto_18.png" "$tmp/tiled_18.png" | tail -4
      echo "(at512.png: the photo stylized at 512 px; auto_18.png: 18 MP, default stroke scale; tiled_18.png: 18 MP, --stroke-scale 1)"
    fi
    if [ -n "${KEEP:-}" ]; then cp "$tmp/auto_18.png" "$tmp/tiled_18.png" "$tmp/at512.png" "$KEEP/"; fi
  fi
done
