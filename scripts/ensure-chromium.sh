#!/usr/bin/env bash
# Provisions a Chromium for the Web UI screenshot test and prints its path: $CHROMIUM, else chromium on
# PATH, else Debian's `chromium` package (needs root and apt). Browsers downloaded by npm packages do not
# install here (no internet beyond the registries), so the distribution's build is used.
set -euo pipefail
if [ -n "${CHROMIUM:-}" ]; then echo "$CHROMIUM"; exit 0; fi
for name in chromium chromium-browser; do
  if path="$(command -v "$name" 2>/dev/null)"; then echo "$path"; exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium package ..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
  command -v chromium
  exit 0
fi
cat >&2 <<MSG
Cannot provision Chromium for the Web UI screenshot test: no chromium on PATH and no root apt-get to install it.
Install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium.
MSG
exit 1
