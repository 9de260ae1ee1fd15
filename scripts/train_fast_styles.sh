#!/usr/bin/env bash
# Trains the fast (real-time) variant of bundled styles, the recipe the shipped
# weights/<style>.fast.onnx were made with: a shared start (Starry Night, from random
# weights), then each style fine-tuned from it in stages with --init-from, each stage
# starting from the run folder of the one before:
#   1. 250 iterations, content weight 6, TV weight 10000 (the first fast models);
#   2. 400 iterations, content weight 2, TV weight 1000 (the big step: stage 1 held the
#      network too close to the photo and too smooth: style_ratio 0.39-1.12 on held-out
#      photos, 0.23-0.43 after this stage);
#   3. per style, to bring style_ratio and content_ratio under the bar (see STAGES).
# Runs go to RUNS (outside the repository); each style's last stage writes the model to
# OUT/<style>.fast.onnx.
#
#   scripts/train_fast_styles.sh [STYLE ...]    (default: the six bundled styles)
#
# Environment: RUNS (/work/runs), DATASET (the training split made by datasets/split.sh,
# /work/data/photos800_train), PAINTINGS (../shared/styles), BASE (the shared start's run
# folder, trained first when it has no checkpoint; or a trained fast .onnx model),
# BASE_ITERATIONS (1000), OUT (where the
# models go, weights/: point it elsewhere to compare before replacing the bundled ones),
# PLAN (the stages for every style named, in place of the table below), CROP (128, or 256
# for the fine-tuning at 256-px crops), LR, STYLE_LAYERS and CONTENT_LAYERS (nst-train's
# --lr, --style-layers and --content-layers for the fine-tuning, lettering stages aside),
# TEXT_DATASET (the lettering set of the stages marked ":text" or ":focus=W", default DATASET_text, made
# by datasets/text_overlay.py), TEACHERS (a folder of
# full networks, e.g. weights: each style distils TEACHERS/<style>.onnx, nst-train
# --teacher, in place of the table teacher_of below; "none": no teacher).
# Measure each model with benches/eval_styles.sh before it replaces a bundled one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
train="$root/target/release/nst-train"
runs=${RUNS:-/work/runs}
dataset=${DATASET:-/work/data/photos800_train}
paintings=${PAINTINGS:-$root/../shared/styles}
base=${BASE:-$runs/fast_ds2_instance}
out=${OUT:-$root/weights}
mkdir -p "$out"
[ -x "$train" ] || { echo "train_fast_styles: $train is missing: run make build" >&2; exit 1; }
[ -d "$dataset" ] || { echo "train_fast_styles: $dataset is missing: run datasets/split.sh" >&2; exit 1; }

# shellcheck source=scripts/training.sh
. "$root/scripts/training.sh"
common=(--variant fast --norm instance --downsamplings 2 --style-size 512 --threads 2 --sample-every 100)
check_crop train_fast_styles

# BASE may also be a trained fast model (e.g. weights/vg_starry_night.fast.onnx):
# --init-from takes its weights and settings from the file.
if needs_base "$base"; then
  "$train" "${common[@]}" "${crops128[@]}" --dataset "$dataset" --style "$paintings/vg_starry_night.jpg" --content-weight 10 --iterations "${BASE_ITERATIONS:-1000}" \
    --checkpoint-dir "$base" -o "$base.onnx" --painting "${painting[vg_starry_night]}"
fi
# The stages after the shared start, per style: "iterations:content weight:TV weight"
# (stage 3 and later found by measuring: a content_ratio over 0.55 gets a higher content
# weight, a style_ratio over 0.35 a lower one).
declare -A stages=(
  # Starry Night, the Café and Matisse end with a focus stage (":focus=W", scripts/training.sh):
  # lettering kept where the lettering set's masks are white.
  [vg_starry_night]="250:6:10000 400:2:1000 250:3:1000 250:3:1000:focus=150"
  [wave_crop]="250:6:10000 400:2:1000 250:4:1000 200:6:1000"
  [the_scream]="250:6:10000 400:2:1000 300:1.5:1000"
  [shipwreck]="250:6:10000 400:2:1000"
  [kandinsky_composition_vii]="250:6:10000 400:2:1000 250:3:1000"
  # Udnie: two focus stages, the second at lr 3e-4 (its int8 copy: quantize_fast.py
  # --calibration percentile).
  [udnie]="250:6:10000 400:2:1000 400:1:1000 300:0.7:1000 250:0.7:1000:focus=150 250:0.5:1000:focus=100:lr=0.0003"
  # The six new paintings start from a trained fast style (BASE=weights/vg_starry_night.fast.onnx).
  [vg_wheat_field]="500:2:1000"
  [vg_la_cafe]="500:2:1000 250:2:1000:focus=150"
  [monet_water_lilies]="500:2:1000"
  [woman-with-hat-matisse]="500:2:1000 250:2:1000:focus=150"
  [tahiti_guaguin]="500:2:1000"
  # Edtaonisl: from Udnie's fast model before its focus stages (BASE=its file in git before
  # 2026-12-06, or the run of Udnie's fourth stage; from Starry Night's
  # it kept a fine coloured checkerboard), distilled from its full network (teacher_of),
  # on 256-px crops at lr 3e-4 without relu1_1 (CROP=256 LR=0.0003 STYLE_LAYERS=...).
  # Then three focus stages, a second run from that model on 128-px crops without the
  # teacher (its output pulled harder than the focus term) and nst-train's own style layers:
  #   BASE=<the model above> TEACHERS=none PLAN="250:1.5:1000:focus=1500
  #   250:0.5:1000:focus=300:lr=0.0003 250:0.4:1000:focus=250:lr=0.0003" scripts/train_fast_styles.sh edtaonisl
  # (the first alone keeps 22 px words but little of the painting: style_ratio 0.46 for its
  # int8 copy; the two gentler ones bring the painting back and keep the words). Its int8
  # copy: quantize_fast.py --calibration percentile.
  [edtaonisl]="300:5:1000 200:1.5:1000"
)
styles=("$@")
[ ${#styles[@]} -gt 0 ] || styles=(vg_starry_night wave_crop the_scream shipwreck kandinsky_composition_vii udnie)
apply_plan "${styles[@]}"
check_stages "$(basename "$0" .sh)" "${styles[@]}"
# The fine-tuning's crops (CROP=256: 256-px crops, batch 2, half the speed), and, when
# set, its learning rate (LR) and style layers (STYLE_LAYERS, e.g. relu2_1,...,relu5_1).
if [ "${CROP:-128}" = 256 ]; then common+=("${crops256[@]}"); else common+=("${crops128[@]}"); fi
lr=${LR:-} # every stage's learning rate (train_stages), unless the stage gives its own
[ -z "${STYLE_LAYERS:-}" ] || common+=(--style-layers "$STYLE_LAYERS")
# The styles distilled from a full network (nst-train --teacher): a model file, relative
# to the project root unless absolute; TEACHERS=DIR (relative to the current folder)
# replaces it with DIR/<style>.onnx for every style named; TEACHERS=none trains every style
# named without one (Edtaonisl's focus stages). Every teacher is checked before anything is
# trained.
declare -A teacher_of=([edtaonisl]=weights/edtaonisl.onnx)
teacher() {
  [ "${TEACHERS:-}" != none ] || return 0
  local t=${teacher_of[$1]:-}
  case $t in ""|/*) ;; *) t="$root/$t" ;; esac
  [ -z "${TEACHERS:-}" ] || t="$TEACHERS/$1.onnx"
  if [ -n "$t" ] && [ ! -f "$t" ]; then
    echo "train_fast_styles: the teacher of $1, $t, is missing (its full network)" >&2
    return 1
  fi
  echo "$t"
}
declare -A teachers=()
for style in "${styles[@]}"; do teachers[$style]=$(teacher "$style") || exit 1; done
for style in "${styles[@]}"; do
  flags=("${common[@]}")
  [ -z "${teachers[$style]}" ] || flags+=(--teacher "${teachers[$style]}")
  train_stages fast ".fast" "250:6:10000 400:2:1000" flags "$style"
done
