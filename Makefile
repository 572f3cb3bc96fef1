# Two commands on a fresh machine: `make dev` runs the pipeline, `make test` runs every test.
# Each target installs what it needs (npm packages, the Temporal CLI) and skips what is already there.
SHELL := /bin/bash
NODE := node_modules/.bin/node
# keep tool caches inside the project
export SWC_NATIVE_BINDING_CACHE := $(CURDIR)/.cache/swc
export npm_config_cache := $(CURDIR)/.cache/npm

.PHONY: help install dev test bench typecheck migrate up down clean

help:
	@echo "make dev      run Temporal dev server + UI, PostgreSQL, worker and API; trigger a first run"
	@echo "make test     type-check, unit, integration and e2e tests (real Temporal, real PostgreSQL)"
	@echo "make bench    1M-row ingest and GET /data load benchmark, with psql \\copy as the baseline (~5 min)"
	@echo "make migrate  apply database migrations (DATABASE_URL, or the embedded dev database)"
	@echo "make up/down  the same services in Docker (docker compose)"
	@echo "make clean    remove local state (.data) and installed tools (.tools, node_modules)"

install: node_modules/.install-stamp
node_modules/.install-stamp: package.json package-lock.json
	npm install --no-audit --no-fund
	@touch $@

dev: install
	TEMPORAL_CLI="$$(scripts/ensure-temporal-cli.sh)" $(NODE) scripts/dev.ts

# the tests run a real Temporal dev server (temporal CLI), validate docker-compose.yml (compose CLI),
# fuzz the API from its OpenAPI document (Schemathesis) and open the Web UI in headless Chromium
test: install
	TEMPORAL_CLI="$$(scripts/ensure-temporal-cli.sh)" DOCKER_COMPOSE="$$(scripts/ensure-compose-cli.sh)" \
	SCHEMATHESIS="$$(scripts/ensure-schemathesis.sh)" CHROMIUM="$$(scripts/ensure-chromium.sh)" npm test

# not part of make test: it takes minutes and its figures are printed, not asserted
bench: install
	TEMPORAL_CLI="$$(scripts/ensure-temporal-cli.sh)" PSQL="$$(scripts/ensure-psql.sh)" $(NODE) bench/run.ts

typecheck: install
	npm run typecheck

migrate: install
	$(NODE) scripts/migrate.ts

up:
	docker compose up -d --build

down:
	docker compose down

clean:
	rm -rf .data .tools .cache node_modules
