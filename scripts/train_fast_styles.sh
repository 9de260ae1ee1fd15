#!/usr/bin/env bash
# Trains the fast (real-time) variant of bundled styles, the recipe the shipped
# weights/<style>.fast.onnx were made with: a shared start (Starry Night, from random
# weights), then each style fine-tuned from it with --init-from. Runs go to RUNS
# (outside the repository); each finished model is written to weights/<style>.fast.onnx.
#
#   scripts/train_fast_styles.sh [STYLE ...]    (default: the six bundled styles)
#
# Environment: RUNS (/work/runs), DATASET (the training split made by datasets/split.sh,
# /work/data/photos800_train), PAINTINGS (../shared/styles), BASE (the shared start's run
# folder; trained first when it has no checkpoint), ITERATIONS (fine-tuning steps, 250),
# BASE_ITERATIONS (1000), CONTENT_WEIGHT (fine-tuning, 6), TV_WEIGHT (fine-tuning, 10000:
# without it the fast network paints a fine 2-3 px hatching over everything), OUT (where the
# models go, weights/: point it elsewhere to compare before replacing the bundled ones).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
train="$root/target/release/nst-train"
runs=${RUNS:-/work/runs}
dataset=${DATASET:-/work/data/photos800_train}
paintings=${PAINTINGS:-$root/../shared/styles}
base=${BASE:-$runs/fast_ds2_instance}
iterations=${ITERATIONS:-250}
out=${OUT:-$root/weights}
mkdir -p "$out"
[ -x "$train" ] || { echo "train_fast_styles: $train is missing: run make build" >&2; exit 1; }
[ -d "$dataset" ] || { echo "train_fast_styles: $dataset is missing: run datasets/split.sh" >&2; exit 1; }

# The painting of each bundled style, for its metadata (artist, title, year).
declare -A painting=(
  [vg_starry_night]="Vincent van Gogh, The Starry Night (1889)"
  [wave_crop]="Katsushika Hokusai, The Great Wave off Kanagawa (c. 1831), crop"
  [the_scream]="Edvard Munch, The Scream (1893)"
  [shipwreck]="J. M. W. Turner, The Shipwreck (1805)"
  [kandinsky_composition_vii]="Wassily Kandinsky, Composition VII (1913)"
  [udnie]="Francis Picabia, Udnie (1913)"
)
common=(--variant fast --norm instance --downsamplings 2 --dataset "$dataset" --image-size 128 --crop-scale 0.35,0.6 --style-size 512 --batch-size 4 --threads 2 --sample-every 100)

if [ ! -f "$base/checkpoint.safetensors" ]; then
  "$train" "${common[@]}" --style "$paintings/vg_starry_night.jpg" --content-weight 10 --iterations "${BASE_ITERATIONS:-1000}" \
    --checkpoint-dir "$base" -o "$base.onnx" --painting "${painting[vg_starry_night]}"
fi
styles=("$@")
[ ${#styles[@]} -gt 0 ] || styles=(vg_starry_night wave_crop the_scream shipwreck kandinsky_composition_vii udnie)
for style in "${styles[@]}"; do
  echo "== $style ($(date +%H:%M))"
  "$train" "${common[@]}" --style "$paintings/$style.jpg" --init-from "$base" --content-weight "${CONTENT_WEIGHT:-6}" --tv-weight "${TV_WEIGHT:-10000}" \
    --iterations "$iterations" --checkpoint-dir "$runs/fast_$style" --overwrite -o "$out/$style.fast.onnx" \
    --painting "${painting[$style]:-$style}"
done
