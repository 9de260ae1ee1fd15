#!/usr/bin/env bash
# The quality bar of the bundled styles: stylizes photos that were not used for training
# at 512 px (longer side) with each model and scores the results with nst-eval at 512 px
# against the model's painting. Prints, per model, the mean style_ratio (lower = closer
# to the painting; 1 = no style) and the mean content_ratio (lower = more of the photo's
# structure kept), and a Markdown table for the README.
#
#   benches/eval_styles.sh [MODEL.onnx ...]
#
# MODEL:  default every trained model in weights/.
# Environment: PHOTOS (folder, default ../shared/photos), STYLES (the paintings, default
#              ../shared/styles; a model's painting is found by its style_image
#              metadata), SIZE (512), OUT (out/eval), THREADS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "eval_styles: $*" >&2; exit 1; }

photos=${PHOTOS:-$root/../shared/photos}
styles=${STYLES:-$root/../shared/styles}
size=${SIZE:-512}
out=${OUT:-$root/out/eval}
threads=${THREADS:-$(nproc)}
nst="$root/target/release/nst"
nst_eval="$root/target/release/nst-eval"
py="$root/.venv/bin/python"
[ -x "$nst" ] && [ -x "$nst_eval" ] || die "nst and nst-eval are missing: run make build first"
[ -d "$photos" ] || die "$photos: no such folder of photos (set PHOTOS)"
[ -x "$py" ] || die ".venv is missing: run make setup"

if [ $# -eq 0 ]; then
    mapfile -t models < <("$nst" styles --json | "$py" -c 'import json,sys; [print(s["path"]) for s in json.load(sys.stdin) if s.get("trained")]')
else
    models=("$@")
fi
[ ${#models[@]} -gt 0 ] || die "no trained models found in weights/"
mapfile -t pics < <(find "$photos" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort)
[ ${#pics[@]} -gt 0 ] || die "$photos has no photos"

mkdir -p "$out"
summary="$out/summary.tsv"
: > "$summary"
for model in "${models[@]}"; do
    name=$(basename "$model" .onnx)
    image=$("$py" -c 'import sys, onnxruntime as ort; print(ort.InferenceSession(sys.argv[1]).get_modelmeta().custom_metadata_map.get("nst.style_image", ""))' "$model")
    [ -n "$image" ] || image="$name.jpg"
    painting="$styles/$image"
    [ -f "$painting" ] || die "$name: its painting $painting is missing (set STYLES)"
    mkdir -p "$out/$name"
    for photo in "${pics[@]}"; do
        stem=$(basename "${photo%.*}")
        "$nst" stylize "$photo" -o "$out/$name/$stem.png" -m "$model" --max-size "$size" --threads "$threads" 2>/dev/null
        "$nst_eval" --content "$photo" --style "$painting" --size "$size" --threads "$threads" --json "$out/$name/$stem.png" > "$out/$name/$stem.json"
    done
    "$py" - "$name" "$out/$name" >> "$summary" <<'PY'
import json, sys, glob, os
name, folder = sys.argv[1], sys.argv[2]
rows = []
for f in sorted(glob.glob(os.path.join(folder, "*.json"))):
    r = json.load(open(f))["images"][0]
    rows.append((os.path.basename(f)[:-5], r["style_ratio"], r["content_ratio"]))
s = sum(r[1] for r in rows) / len(rows)
c = sum(r[2] for r in rows) / len(rows)
detail = " ".join(f"{n}={a:.2f}/{b:.2f}" for n, a, b in rows)
print(f"{name}\t{s:.3f}\t{c:.3f}\t{detail}")
PY
    tail -n 1 "$summary" | awk -F'\t' '{printf "%-28s style_ratio %s  content_ratio %s   (%s)\n", $1, $2, $3, $4}'
done

echo
echo "| model | style_ratio (mean) | content_ratio (mean) | meets the bar (<= 0.30 / <= 0.55) |"
echo "| --- | --- | --- | --- |"
awk -F'\t' '{ok = ($2 <= 0.30 && $3 <= 0.55) ? "yes" : "no"; printf "| %s | %s | %s | %s |\n", $1, $2, $3, ok}' "$summary"
