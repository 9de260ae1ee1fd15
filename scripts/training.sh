# Sourced by the training scripts (train_fast_styles.sh, train_full_styles.sh): each
# painting's artist, title and year for the models' metadata, and the stage runner.
# shellcheck disable=SC2034
declare -A painting=(
  [vg_starry_night]="Vincent van Gogh, The Starry Night (1889)"
  [wave_crop]="Katsushika Hokusai, The Great Wave off Kanagawa (c. 1831), crop"
  [the_scream]="Edvard Munch, The Scream (1893)"
  [shipwreck]="J. M. W. Turner, The Shipwreck (1805)"
  [kandinsky_composition_vii]="Wassily Kandinsky, Composition VII (1913)"
  [udnie]="Francis Picabia, Udnie (1913)"
  [vg_wheat_field]="Vincent van Gogh, Wheat Field with Cypresses (1889)"
  [vg_la_cafe]="Vincent van Gogh, Café Terrace at Night (1888)"
  [monet_water_lilies]="Claude Monet, Water Lilies, crop"
  [woman-with-hat-matisse]="Henri Matisse, Woman with a Hat (1905)"
  [tahiti_guaguin]="Paul Gauguin, Tahitian scene"
  [edtaonisl]="Francis Picabia, Edtaonisl (1913)"
)
# Every painting of ../shared/styles, in the order the listings use.
all_styles=(vg_starry_night wave_crop the_scream shipwreck kandinsky_composition_vii udnie
  vg_wheat_field vg_la_cafe monet_water_lilies woman-with-hat-matisse tahiti_guaguin edtaonisl)

# The fine-tuning crops: 128 px, batch 4; or 256 px, batch 2 (half the speed, closer to
# the 512 px the styles are measured at).
crops128=(--image-size 128 --crop-scale 0.35,0.6 --batch-size 4)
crops256=(--image-size 256 --crop-scale 0.5,0.8 --batch-size 2)

# check_crop SCRIPT: refuses a CROP other than empty, 128 or 256.
check_crop() {
  case ${CROP:-} in
    ""|128|256) ;;
    *) echo "$1: CROP must be 128 or 256" >&2; exit 1 ;;
  esac
}

# apply_plan STYLE...: PLAN, when set, replaces ${stages[STYLE]} for every style named.
apply_plan() {
  local style
  if [ -n "${PLAN:-}" ]; then
    for style in "$@"; do stages[$style]=$PLAN; done
  fi
}

# is_positive VALUE: a number above zero (0.0003, 150, 3e-4).
is_positive() {
  [[ $1 =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)([eE]-?[0-9]+)?$ ]] && [[ $1 =~ ^[^eE]*[1-9] ]]
}

# check_stages SCRIPT STYLE...: refuses a stage whose fourth field is not empty, "text" or
# "focus=WEIGHT" (a positive number), or whose fifth is not empty or "lr=RATE" (a positive
# number: that stage's learning rate, in place of LR), and a lettering stage (":text") when the lettering
# set is missing, or a focus stage when its masks are, before anything is trained.
check_stages() {
  local script=$1 style stage kind rate
  shift
  for style in "$@"; do
    for stage in ${stages[$style]:-}; do
      IFS=: read -r _ _ _ kind rate <<< "$stage"
      case $rate in
        "") ;;
        lr=*)
          is_positive "${rate#lr=}" ||
            { echo "$script: stage '$stage' of $style: the learning rate must be a positive number (lr=0.0003)" >&2; exit 1; } ;;
        *) echo "$script: stage '$stage' of $style: the fifth field may only be 'lr=RATE'" >&2; exit 1 ;;
      esac
      case $kind in
        "") ;;
        text)
          [ -d "$(text_dataset)" ] || { echo "$script: $style has a lettering stage and $(text_dataset) is missing: run datasets/text_overlay.py $dataset $(text_dataset)" >&2; exit 1; } ;;
        focus=*)
          is_positive "${kind#focus=}" ||
            { echo "$script: stage '$stage' of $style: the focus weight must be a positive number (focus=150)" >&2; exit 1; }
          [ -d "$(text_dataset)/.masks" ] || { echo "$script: $style has a focus stage and $(text_dataset)/.masks is missing: run datasets/text_overlay.py $dataset $(text_dataset) (it writes the masks)" >&2; exit 1; } ;;
        *) echo "$script: stage '$stage' of $style: the fourth field may only be 'text' or 'focus=WEIGHT'" >&2; exit 1 ;;
      esac
    done
  done
}

# The lettering set: the training photos plus copies with made-up signs drawn on them
# (datasets/text_overlay.py); TEXT_DATASET, default the dataset's folder with "_text".
text_dataset() {
  echo "${TEXT_DATASET:-${dataset%/}_text}"
}

# train_stages PREFIX SUFFIX DEFAULT_PLAN FLAGS STYLE...: each style fine-tuned from $base
# in the stages of ${stages[STYLE]} (or DEFAULT_PLAN), "iterations:content weight:TV
# weight" each, every stage starting from the run folder of the one before
# ($runs/PREFIX_STYLE_stageN); the last writes $out/STYLE$SUFFIX.onnx. FLAGS names the
# array of nst-train options every stage takes. A stage ending in ":text" is a lettering
# stage: it trains on the lettering set (text_dataset) with relu2_2 beside relu4_2 as
# content layers (the letters' strokes kept, not only the shapes); the others train on
# $dataset with CONTENT_LAYERS (nst-train's default when empty). A stage ending in
# ":focus=W" is a focus stage: it trains on the lettering set with CONTENT_LAYERS, and its
# masks (text_dataset/.masks) ask for the photo's relu2_2 features only on the letters,
# at focus weight W (the rest of the picture stays free to take the painting's texture).
# A fifth field "lr=RATE" trains that stage at learning rate RATE (e.g.
# "250:0.5:1000:focus=100:lr=0.0003"); the others train at the caller's lr (LR or the
# script's default; nst-train's own when empty). Uses the caller's train, runs, out, base,
# dataset, paintings, stages and lr.
train_stages() {
  local prefix=$1 suffix=$2 default=$3
  # A name no caller uses for its array: "local -n flags=flags" would be a circular reference.
  local -n stage_flags=$4
  shift 4
  local style plan from i iterations content tv kind rate run model data layers focus stage_lr
  for style in "$@"; do
    read -r -a plan <<< "${stages[$style]:-$default}"
    from=$base
    for i in "${!plan[@]}"; do
      IFS=: read -r iterations content tv kind rate <<< "${plan[$i]}"
      stage_lr=${rate#lr=}
      stage_lr=${stage_lr:-${lr:-}}
      data=$dataset layers=${CONTENT_LAYERS:-}
      focus=()
      case $kind in
        text) data=$(text_dataset) layers=relu2_2,relu4_2 ;;
        focus=*) data=$(text_dataset) focus=(--focus-masks "$data/.masks" --focus-weight "${kind#focus=}") ;;
      esac
      run="$runs/${prefix}_${style}_stage$((i + 1))"
      model="$run.onnx"
      [ "$i" -eq $((${#plan[@]} - 1)) ] && model="$out/$style$suffix.onnx"
      echo "== $style, stage $((i + 1)): $iterations iterations, content weight $content, TV weight $tv${kind:+, lettering}${focus[*]:+ (focus weight ${kind#focus=})}${rate:+, ${rate/=/ }} ($(date +%H:%M))"
      "$train" "${stage_flags[@]}" ${stage_lr:+--lr "$stage_lr"} --dataset "$data" ${layers:+--content-layers "$layers"} "${focus[@]}" --style "$paintings/$style.jpg" --init-from "$from" \
        --content-weight "$content" --tv-weight "$tv" --iterations "$iterations" --checkpoint-dir "$run" --overwrite -o "$model" --painting "${painting[$style]:-$style}"
      from=$run
    done
  done
}

# needs_base BASE: whether the shared start must be trained first: BASE is a run folder
# without a checkpoint. BASE may also be a trained model file (--init-from takes its
# weights and settings); one that is missing is an error, not a start to train.
needs_base() {
  case "$1" in
    *.onnx) [ -f "$1" ] || { echo "training: BASE $1 is missing" >&2; exit 1; }; return 1 ;;
    *) [ ! -f "$1/checkpoint.safetensors" ] && [ ! -f "$1" ] ;;
  esac
}
