#!/usr/bin/env bash
# Runs the integration and e2e suites N times in a row (default 10) and prints the pass/fail count of each
# run: the check that no test depends on timing. Not part of `make test` (it takes N times as long).
#   scripts/repeat-tests.sh [N]     (after `make test` has installed the tools once)
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
export TEMPORAL_CLI="${TEMPORAL_CLI:-$(scripts/ensure-temporal-cli.sh)}"
export DOCKER_COMPOSE="${DOCKER_COMPOSE:-$(scripts/ensure-compose-cli.sh)}"
export SCHEMATHESIS="${SCHEMATHESIS:-$(scripts/ensure-schemathesis.sh)}"
export CHROMIUM="${CHROMIUM:-$(scripts/ensure-chromium.sh)}"
export HADOLINT="${HADOLINT:-$(scripts/ensure-hadolint.sh)}"
export TMUX_BIN="${TMUX_BIN:-$(scripts/ensure-tmux.sh)}"
# npm scripts put node_modules/.bin first: mocha must run on the project's Node 24, not the system one
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p .data/repeat
failed_runs=0
for i in $(seq 1 "$runs"); do
  log=.data/repeat/run-$i.log
  node_modules/.bin/mocha --reporter dot 'test/integration/**/*.test.ts' 'test/e2e/**/*.test.ts' >"$log" 2>&1
  rc=$?
  passing=$(grep -oE '[0-9]+ passing' "$log" | tail -1)
  failing=$(grep -oE '[0-9]+ failing' "$log" | tail -1)
  echo "run $i: exit $rc, ${passing:-0 passing}, ${failing:-0 failing} ($log)"
  [ $rc -eq 0 ] || failed_runs=$((failed_runs + 1))
done
echo "$failed_runs of $runs runs failed"
[ $failed_runs -eq 0 ]
