#!/usr/bin/env bash
# Runs a command with an X display: the current one if set, else a private Xvfb (tests of `nst live`).
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null; then
  exec xvfb-run -a -s "-screen 0 1280x800x24" "$@"
fi
exec "$@"
