#!/usr/bin/env bash
# Provisions dlt (the peer `make bench` measures the product against) and prints the path of a Python that
# has it: .tools/dlt/bin/python, a virtual environment installed on first use from PyPI with the pinned
# versions of bench/dlt/requirements.txt (dlt with its PostgreSQL driver; needs python3 >= 3.9 with venv).
# Idempotent: a second call finds it and installs nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.tools/dlt"
requirements="$root/bench/dlt/requirements.txt"
stamp="$venv/.requirements"

works() { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import dlt, psycopg2' 2>/dev/null; }
if works && cmp -s "$requirements" "$stamp"; then echo "$venv/bin/python"; exit 0; fi

python="$(command -v python3 || true)"
if [ -z "$python" ]; then
  echo "Cannot install dlt: it needs python3 with venv and pip." >&2
  exit 1
fi
echo "installing dlt (bench/dlt/requirements.txt) into $venv ..." >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2
# --no-deps with the full pinned list: exactly these versions, nothing resolved anew
if ! PIP_CACHE_DIR="$root/.cache/pip" "$venv/bin/pip" install --quiet --disable-pip-version-check \
    --no-deps --requirement "$requirements" >&2; then
  echo "Cannot install dlt: 'pip install -r bench/dlt/requirements.txt' failed (output above)." >&2
  exit 1
fi
cp "$requirements" "$stamp"
echo "$venv/bin/python"
