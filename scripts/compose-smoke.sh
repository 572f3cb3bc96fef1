#!/usr/bin/env bash
# Smoke checks of a running stack (docker compose --profile demo up, or scripts/compose-local.ts):
#   scripts/compose-smoke.sh [API_URL] [SOURCE_SERVER_URL]    (defaults: the ports docker-compose.yml publishes)
# The API answers /health; the first run (the schedule job triggers it) finishes `succeeded` with every source of
# the sources file succeeded, and its records are served; the demo source server answers. Waits up to
# SMOKE_TIMEOUT seconds (default 300) for the run. Needs only python3.
set -euo pipefail
exec python3 - "${1:-http://127.0.0.1:3000}" "${2:-http://127.0.0.1:8787}" "${SMOKE_TIMEOUT:-300}" <<'PY'
import json, sys, time, urllib.request

api, source_server, timeout = sys.argv[1].rstrip('/'), sys.argv[2].rstrip('/'), float(sys.argv[3])

def get(url):
    with urllib.request.urlopen(url, timeout=10) as res:
        return res.status, json.loads(res.read() or b'null')

def fail(message):
    print(f'smoke: FAILED: {message}', file=sys.stderr)
    sys.exit(1)

deadline = time.monotonic() + timeout
run = None
while time.monotonic() < deadline:
    try:
        status, page = get(f'{api}/runs?limit=5')
        finished = [r for r in page['data'] if r['status'] != 'running']
        if finished:
            run = finished[-1]
            break
    except OSError as error:
        print(f'smoke: waiting for the API: {error}', file=sys.stderr)
    time.sleep(2)
if run is None:
    fail(f'no run finished within {timeout:.0f} s')

status, health = get(f'{api}/health')
if status != 200:
    fail(f'/health answered {status}')
sources = {s['source']: s['status'] for s in run['sources']}
if run['status'] != 'succeeded' or any(v != 'succeeded' for v in sources.values()):
    fail(f"run {run['id']} ended {run['status']}: {sources}")
status, data = get(f'{api}/data?limit=1')
if not data['data']:
    fail('GET /data has no records')
status, _ = get(f'{source_server}/_control/faults')
if status != 200:
    fail(f'the source server answered {status}')
print(f"smoke: ok: run {run['id']} succeeded with {', '.join(sorted(sources))}; "
      f"{data['total']} records; Web UI link {run['ui_url']}")
PY
