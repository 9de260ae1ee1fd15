#!/usr/bin/env bash
# The quality bar of the bundled styles, on photos the models never saw: stylizes every
# photo of each photo folder at 512 px (longer side) with each model and scores the
# results with nst-eval at 512 px against the model's painting (one nst-eval process for
# everything: `nst-eval --pairs`). Prints, per model and photo folder, the mean
# style_ratio (lower = closer to the painting; 1 = no style), the mean content_ratio
# (lower = more of the photo's structure kept) and the share of blown-out pixels (made
# near-white where the photo was not) and of flat patches (16-px tiles painted one even
# colour where the photo had detail: discs; with the photos where they pass 0.5 %, to look
# at), then a Markdown table for the README with the bar of the model's variant, read from
# its metadata, not its file name (full: <= 0.30 / <= 0.55, fast: <= 0.35 / <= 0.55,
# blown-out <= 0.25%), judged on all the photos together.
#
#   benches/eval_styles.sh [MODEL.onnx ...]
#
# MODEL:  default every trained model in weights/ (both variants).
# Environment: PHOTOS (photo folders, space-separated; default the held-out split
#              /work/data/photos800_holdout made by datasets/split.sh, when it exists, and
#              ../shared/photos), STYLES (the paintings, default ../shared/styles; a
#              model's painting is found by its style_image metadata), SIZE (512),
#              OUT (out/eval), THREADS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "eval_styles: $*" >&2; exit 1; }

# shellcheck source=benches/quality_tools.sh
. "$root/benches/quality_tools.sh"
default_photos="${holdout:+$holdout }$root/../shared/photos"
photos=${PHOTOS:-$default_photos}
styles=${STYLES:-$root/../shared/styles}
size=${SIZE:-512}
out=${OUT:-$root/out/eval}
threads=${THREADS:-$(nproc)}

if [ $# -eq 0 ]; then
    mapfile -t models < <("$nst" styles --json | "$py" -c 'import json,sys; [print(s["path"]) for s in json.load(sys.stdin) if s.get("trained")]')
else
    models=("$@")
fi
[ ${#models[@]} -gt 0 ] || die "no trained models found in weights/"
for d in $photos; do [ -d "$d" ] || die "$d: no such folder of photos (set PHOTOS)"; done

mkdir -p "$out"
pairs="$out/pairs.tsv"
: > "$pairs"
: > "$out/variants.tsv"
for model in "${models[@]}"; do
    name=$(basename "$model" .onnx)
    # The painting (nst.style_image) and the variant, from the model's metadata:
    # nst.architecture "nst_fast" (runtime/src/contract.rs) is the fast network, anything
    # else the full one; nst.quantization marks an int8 copy. The file's name does not count.
    read -r image variant < <("$py" -c 'import sys, onnxruntime as ort
m = ort.InferenceSession(sys.argv[1]).get_modelmeta().custom_metadata_map
v = "fast" if m.get("nst.architecture") == "nst_fast" else "full"
print(m.get("nst.style_image", "") or "-", v + (",int8" if "nst.quantization" in m else ""))' "$model") \
        || die "$name: cannot read $model (not an ONNX model?)"
    [ "$image" != - ] || image=
    printf '%s\t%s\n' "$name" "$variant" >> "$out/variants.tsv"
    [ -n "$image" ] || { image="${name%.int8}"; image="${image%.fast}.jpg"; }
    painting="$styles/$image"
    [ -f "$painting" ] || die "$name: its painting $painting is missing (set STYLES)"
    for d in $photos; do
        set_name=$(basename "$d")
        dest="$out/$name/$set_name"
        mkdir -p "$dest"
        # One nst process per folder; outputs keep the photos' names.
        "$nst" stylize "$d" -o "$dest" -m "$model" --max-size "$size" --threads "$threads" 2>"$out/$name.$set_name.log" \
            || die "$name: stylizing $d failed (see $out/$name.$set_name.log)"
        find -L "$d" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort | while read -r photo; do
            base=$(basename "$photo")
            printf '%s\t%s\t%s\n' "$(readlink -f "$photo")" "$painting" "$dest/$base" >> "$pairs"
        done
    done
done
# Pairs sorted by photo and painting: each is prepared once for the full and fast model.
sort -t$'\t' -k1,1 -k2,2 "$pairs" -o "$pairs"
echo "scoring $(wc -l < "$pairs") images with nst-eval at $size px"
"$nst_eval" --pairs "$pairs" --size "$size" --threads "$threads" > "$out/scores.jsonl" || die "some images could not be scored: see $out/scores.jsonl"

"$py" - "$out" "$photos" "${models[@]}" <<'PY'
import json, os, sys, statistics
out, photo_dirs, models = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
rows = [json.loads(l) for l in open(os.path.join(out, "scores.jsonl"))]
# Each model's variant, read from its metadata above ("full", "fast" or "fast,int8").
variants = dict(l.rstrip("\n").split("\t") for l in open(os.path.join(out, "variants.tsv")))
bar = {"full": (0.30, 0.55), "fast": (0.35, 0.55)}
table = []
for m in models:
    name = os.path.basename(m)[:-5]
    mine = [r for r in rows if r["path"].startswith(os.path.join(out, name) + "/")]
    by_set = {}
    for r in mine:
        by_set.setdefault(r["path"].split("/")[-2], []).append(r)
    def means(rs):
        return (statistics.mean(r["style_ratio"] for r in rs), statistics.mean(r["content_ratio"] for r in rs),
                100 * statistics.mean(r["blown_out"] for r in rs), len(rs))
    parts = "  ".join(f"{k}: {s:.3f}/{c:.3f}/{b:.2f}% (n={n})" for k, (s, c, b, n) in ((k, means(v)) for k, v in sorted(by_set.items())))
    s, c, b, n = means(mine)
    # Flat patches (discs, even patches over the photo's detail): the mean share, and the
    # photos where they cover more than 0.5 % (worth a look; not part of the bar).
    f = 100 * statistics.mean(r["flat_patches"] for r in mine)
    flagged = sorted(os.path.basename(r["path"]) for r in mine if r["flat_patches"] > 0.005)
    v, _, q = variants[name].partition(",")
    ok = s <= bar[v][0] and c <= bar[v][1] and b <= 0.25
    table.append((name, v + (", int8" if q else ""), s, c, b, f, len(flagged), n, ok))
    print(f"{name:<34} all {s:.3f}/{c:.3f}/{b:.2f}% (n={n})   {parts}")
    if flagged:
        print(f"{'':<34} flat patches over 0.5 % of {len(flagged)} photo(s): {' '.join(flagged[:10])}{' ...' if len(flagged) > 10 else ''}")
print()
print("| model | variant | style_ratio | content_ratio | blown-out | flat patches (photos over 0.5 %) | photos | meets the bar |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for name, v, s, c, b, f, nf, n, ok in table:
    print(f"| {name} | {v} | {s:.3f} | {c:.3f} | {b:.2f}% | {f:.2f}% ({nf}) | {n} | {'yes' if ok else 'no'} |")
PY
