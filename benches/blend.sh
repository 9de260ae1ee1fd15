#!/usr/bin/env bash
# Blending styles in weight space against blending their outputs, side by side in one run.
# For each pair of styles A,B and each share t of B (0.25, 0.5, 0.75), the photos are
# stylized twice: with the weights mixed (`--model A:1-t,B:t`, one network) and with the
# outputs mixed (`--blend-by outputs`, both networks run); the two styles alone are the
# ends. Every result is scored with nst-eval against both paintings. A real mix moves
# from A's style to B's (style_ratio to A rising with t, to B falling); "mush" is far
# from both (style_ratio high against both paintings, above both ends'). Also times one
# frame of each at 640x480 (`nst live --raw-inference`).
#
#   benches/blend.sh [A,B ...]   (default: vg_starry_night,wave_crop udnie,the_scream)
#
# Environment: VARIANT (fast), PHOTOS (a folder; default the first N of the held-out split
# /work/data/photos800_holdout, else ../shared/photos), N (12), SIZE (evaluation and
# stylization size, 384), STYLES (../shared/styles), OUT (out/blend), THREADS (nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "blend: $*" >&2; exit 1; }
variant=${VARIANT:-fast}
n=${N:-12}
size=${SIZE:-384}
styles=${STYLES:-$root/../shared/styles}
out=${OUT:-$root/out/blend}
threads=${THREADS:-$(nproc)}
# shellcheck source=benches/quality_tools.sh
. "$root/benches/quality_tools.sh"
pairs_asked=("$@")
[ ${#pairs_asked[@]} -gt 0 ] || pairs_asked=(vg_starry_night,wave_crop udnie,the_scream)

src=${PHOTOS:-}
if [ -z "$src" ]; then
    src=${holdout:-$root/../shared/photos}
fi
[ -d "$src" ] || die "$src: no such folder of photos (set PHOTOS)"
rm -rf "$out"
mkdir -p "$out/photos"
find -L "$src" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort | head -n "$n" |
    while read -r p; do ln -s "$(readlink -f "$p")" "$out/photos/$(basename "$p")"; done
[ "$(ls "$out/photos" | wc -l)" -gt 0 ] || die "$src holds no photos"

painting_of() {
    local model
    model=$("$nst" styles --json | "$py" -c 'import json,sys; n,v=sys.argv[1:]; print(next(s["path"] for s in json.load(sys.stdin) if s["name"]==n and s["variant"]==v))' "$1" "$variant") \
        || die "no $variant model of $1"
    local image
    image=$("$py" -c 'import sys, onnxruntime as ort; print(ort.InferenceSession(sys.argv[1]).get_modelmeta().custom_metadata_map.get("nst.style_image", ""))' "$model")
    echo "$styles/${image:-$1.jpg}"
}

list="$out/pairs.tsv"
: > "$list"
timing="$out/timing.tsv"
: > "$timing"
for pair in "${pairs_asked[@]}"; do
    IFS=, read -r a b <<< "$pair"
    pa=$(painting_of "$a"); pb=$(painting_of "$b")
    [ -f "$pa" ] && [ -f "$pb" ] || die "$pair: the paintings $pa / $pb are missing (set STYLES)"
    mkdir -p "$out/$a+$b"
    printf '%s\n%s\n' "$pa" "$pb" > "$out/$a+$b/paintings"
    runs=("ends:0:--model $a" "ends:1:--model $b")
    for t in 0.25 0.5 0.75; do
        s=$("$py" -c "print(round(1-$t, 3))")
        runs+=("weights:$t:--model $a:$s,$b:$t" "outputs:$t:--model $a:$s,$b:$t --blend-by outputs")
    done
    for run in "${runs[@]}"; do
        IFS=: read -r how t args <<< "$run"
        dest="$out/$a+$b/$how-$t"
        mkdir -p "$dest"
        # shellcheck disable=SC2086
        "$nst" stylize "$out/photos" -o "$dest" $args --variant "$variant" --max-size "$size" --threads "$threads" -q 2>"$dest.log" \
            || die "$pair $how $t: stylizing failed (see $dest.log)"
        for photo in "$out"/photos/*; do
            base=$(basename "$photo")
            printf '%s\t%s\t%s\n' "$(readlink -f "$photo")" "$pa" "$dest/$base" >> "$list"
            printf '%s\t%s\t%s\n' "$(readlink -f "$photo")" "$pb" "$dest/$base" >> "$list"
        done
        if [ "$t" = 0.5 ] || [ "$how" = ends ]; then
            # shellcheck disable=SC2086
            ms=$("$nst" live --source test --resolution 640x480 --raw-inference --frames 20 --json $args --variant "$variant" --threads "$threads" 2>/dev/null |
                "$py" -c 'import json,sys; print(round(json.load(sys.stdin)["raw_inference"]["mean_ms"], 1))')
            printf '%s\t%s\t%s\t%s\n' "$a+$b" "$how" "$t" "$ms" >> "$timing"
        fi
    done
done
sort -t$'\t' -k1,1 -k2,2 "$list" -o "$list"
echo "scoring $(wc -l < "$list") images with nst-eval at $size px"
"$nst_eval" --pairs "$list" --size "$size" --threads "$threads" > "$out/scores.jsonl" || die "some images could not be scored: see $out/scores.jsonl"

"$py" - "$out" "$list" "$timing" <<'PY'
import json, os, sys, statistics
out, listing, timing = sys.argv[1:]
rows = [json.loads(l) for l in open(os.path.join(out, "scores.jsonl"))]
lines = [l.rstrip("\n").split("\t") for l in open(listing)]
scores = {}
for (photo, painting, image), r in zip(lines, rows):
    rel = os.path.relpath(image, out).split("/")  # pair/how-t/photo
    scores.setdefault((rel[0], rel[1], painting), []).append(r)
ms = {}
for l in open(timing):
    pair, how, t, v = l.split()
    ms[(pair, how, t)] = v
print("| styles | made by | share of B | style_ratio to A | style_ratio to B | content_ratio | 640x480 ms |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for pair in sorted({k[0] for k in scores}):
    a, b = pair.split("+")
    pa, pb = open(os.path.join(out, pair, "paintings")).read().split("\n")[:2]
    def order(k):
        how, t = k.rsplit("-", 1)
        return (float(t), {"ends": 0, "weights": 1, "outputs": 2}[how])
    for run in sorted({k[1] for k in scores if k[0] == pair}, key=order):
        how, t = run.rsplit("-", 1)
        ra, rb = scores[(pair, run, pa)], scores[(pair, run, pb)]
        sa = statistics.mean(r["style_ratio"] for r in ra)
        sb = statistics.mean(r["style_ratio"] for r in rb)
        c = statistics.mean(r["content_ratio"] for r in ra)
        label = {"ends": a if float(t) == 0 else b, "weights": "weights", "outputs": "outputs"}[how]
        print(f"| {a} + {b} | {label} | {t} | {sa:.3f} | {sb:.3f} | {c:.3f} | {ms.get((pair, how, t), '')} |")
PY
