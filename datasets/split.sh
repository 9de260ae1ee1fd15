#!/usr/bin/env bash
# Splits a folder of photos into a training set and a held-out set that no model is
# trained on, by a fixed rule: the files sorted by name, every 8th (the 8th, 16th, ...)
# held out. For ../shared/datasets/photos800 that is 100 held-out photos, listed in
# datasets/photos800_holdout.txt. The two sets are folders of symbolic links:
#
#   datasets/split.sh [SOURCE] [DEST]      (defaults: ../shared/datasets/photos800, /work/data)
#   -> DEST/<name>_train (700 photos), DEST/<name>_holdout (100 photos)
#
# Train with --dataset DEST/photos800_train; measure with
# PHOTOS=DEST/photos800_holdout benches/eval_styles.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$(cd "${1:-$root/../shared/datasets/photos800}" && pwd)
dest=${2:-/work/data}
name=$(basename "$src")
train="$dest/${name}_train"
holdout="$dest/${name}_holdout"
rm -rf "$train" "$holdout"
mkdir -p "$train" "$holdout"
i=0
while IFS= read -r f; do
  i=$((i + 1))
  if [ $((i % 8)) -eq 0 ]; then ln -s "$src/$f" "$holdout/$f"; else ln -s "$src/$f" "$train/$f"; fi
done < <(find "$src" -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort)
echo "split $src: $(ls "$train" | wc -l) training photos in $train, $(ls "$holdout" | wc -l) held out in $holdout"
