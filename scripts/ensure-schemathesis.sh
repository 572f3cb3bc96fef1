#!/usr/bin/env bash
# Provisions Schemathesis (the API fuzzer the API tests run against /openapi.json) and prints the path of a
# command that runs it: $SCHEMATHESIS, else .tools/bin/schemathesis, installed on first use from PyPI with the
# pinned versions of test/schemathesis/requirements.txt into .tools/schemathesis (needs python3 >= 3.11 with pip).
# Idempotent: a second call finds the command and installs nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
target="$tools/bin/schemathesis"
requirements="$root/test/schemathesis/requirements.txt"

works() { [ -n "${1:-}" ] && [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

if [ -n "${SCHEMATHESIS:-}" ]; then
  if works "$SCHEMATHESIS"; then echo "$SCHEMATHESIS"; exit 0; fi
  echo "SCHEMATHESIS=$SCHEMATHESIS is not a working schemathesis command" >&2
  exit 1
fi
# reinstall when the pins changed since the last install
stamp="$tools/schemathesis/.requirements"
if works "$target" && cmp -s "$requirements" "$stamp"; then echo "$target"; exit 0; fi

python="$(command -v python3 || true)"
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Cannot install schemathesis: it needs python3 >= 3.11 with pip (found: ${python:-none})." >&2
  exit 1
fi
python="$("$python" -c 'import sys; print(sys.executable)')" # the interpreter itself, not a shim
echo "installing schemathesis (test/schemathesis/requirements.txt) into $tools/schemathesis ..." >&2
rm -rf "$tools/schemathesis"
# --no-deps with the full pinned list: exactly these versions, nothing resolved anew
if ! PIP_CACHE_DIR="$root/.cache/pip" "$python" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --no-deps --target "$tools/schemathesis" --requirement "$requirements" >&2; then
  echo "Cannot install schemathesis: 'pip install -r test/schemathesis/requirements.txt' failed (output above)." >&2
  exit 1
fi
cp "$requirements" "$stamp"
mkdir -p "$tools/bin"
# a wrapper rather than pip's console script: the packages live in a --target folder, not on sys.path
cat >"$target" <<WRAPPER
#!/bin/sh
PYTHONPATH="$tools/schemathesis\${PYTHONPATH:+:\$PYTHONPATH}" exec "$python" -m schemathesis.cli "\$@"
WRAPPER
chmod +x "$target"
echo "$target"
