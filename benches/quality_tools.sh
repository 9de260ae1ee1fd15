# Sourced by the quality benches (eval_styles.sh, blend.sh) after they set `root` and
# `die`: the binaries and Python they run, checked, and the held-out photos when the
# split exists (datasets/split.sh).
# shellcheck disable=SC2034
nst="$root/target/release/nst"
nst_eval="$root/target/release/nst-eval"
py="$root/.venv/bin/python"
[ -x "$nst" ] && [ -x "$nst_eval" ] || die "nst and nst-eval are missing: run make build first"
[ -x "$py" ] || die ".venv is missing: run make setup"
holdout=/work/data/photos800_holdout
[ -d "$holdout" ] || holdout=
