#!/usr/bin/env bash
# Provisions tmux for the CLI test that watches `etl run --wait` in a real terminal, and prints its path:
# $TMUX_BIN, else tmux on PATH, else Debian's `tmux` package (needs root and apt).
set -euo pipefail
if [ -n "${TMUX_BIN:-}" ]; then echo "$TMUX_BIN"; exit 0; fi
if path="$(command -v tmux 2>/dev/null)"; then echo "$path"; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's tmux package ..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tmux >&2
  command -v tmux
  exit 0
fi
cat >&2 <<MSG
Cannot provision tmux for the CLI's terminal test: no tmux on PATH and no root apt-get to install it.
Install it (Debian/Ubuntu: sudo apt-get install tmux) or set TMUX_BIN=/path/to/tmux.
MSG
exit 1
