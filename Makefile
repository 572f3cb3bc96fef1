# Two commands on a fresh machine: `make dev` runs the pipeline, `make test` runs every test.
# Each target installs what it needs (npm packages, the Temporal CLI) and skips what is already there.
SHELL := /bin/bash
NODE := node_modules/.bin/node
# keep tool caches inside the project
export SWC_NATIVE_BINDING_CACHE := $(CURDIR)/.cache/swc
export npm_config_cache := $(CURDIR)/.cache/npm

.PHONY: help install dev test test-unit lint format bench typecheck migrate up down clean

help:
	@echo "make dev      run Temporal dev server + UI, PostgreSQL, worker and API; trigger a first run"
	@echo "make test     type-check, unit, integration and e2e tests (real Temporal, real PostgreSQL)"
	@echo "make test-unit  the fast tier: unit tests only (no PostgreSQL; a local Temporal for the workflow test)"
	@echo "make lint     formatting and lint in check mode (biome ci; part of make test)"
	@echo "make format   format the tree and apply safe lint fixes (biome)"
	@echo "make bench    1M-row ingest, time series and GET /data load, against psql \\copy, dlt and a bare handler (~45 min)"
	@echo "make migrate  apply database migrations (DATABASE_URL, or the embedded dev database)"
	@echo "make up/down  the same services in Docker (docker compose)"
	@echo "make clean    remove local state (.data) and installed tools (.tools, node_modules)"

install: node_modules/.install-stamp
node_modules/.install-stamp: package.json package-lock.json
	npm install --no-audit --no-fund
	@# npm links the bins of dependencies, never the project's own: node_modules/.bin/etl (and npx etl) need this
	ln -sfn ../../bin/etl node_modules/.bin/etl
	@touch $@

dev: install
	TEMPORAL_CLI="$$(scripts/ensure-temporal-cli.sh)" $(NODE) scripts/dev.ts

# the tests run a real Temporal dev server (temporal CLI), validate docker-compose.yml (compose CLI) and lint
# the Dockerfile (hadolint), fuzz the API from its OpenAPI document (Schemathesis), open the Web UI in headless
# Chromium and drive the etl command's live display in a real terminal (tmux)
test: install
	TEMPORAL_CLI="$$(scripts/ensure-temporal-cli.sh)" DOCKER_COMPOSE="$$(scripts/ensure-compose-cli.sh)" \
	HADOLINT="$$(scripts/ensure-hadolint.sh)" SCHEMATHESIS="$$(scripts/ensure-schemathesis.sh)" \
	CHROMIUM="$$(scripts/ensure-chromium.sh)" TMUX_BIN="$$(scripts/ensure-tmux.sh)" npm test

# seconds, not minutes: the rules as units, and the workflow with mocked activities on a local Temporal
test-unit: install
	TEMPORAL_CLI="$$(scripts/ensure-temporal-cli.sh)" $(NODE) node_modules/.bin/mocha --no-config --extension ts --timeout 60000 --slow 2000 'test/unit/**/*.test.ts'

# not part of make test: it takes minutes and its figures are printed, not asserted
bench: install
	TEMPORAL_CLI="$$(scripts/ensure-temporal-cli.sh)" PSQL="$$(scripts/ensure-psql.sh)" DLT_PYTHON="$$(scripts/ensure-dlt.sh)" \
	$(NODE) bench/run.ts

lint: install
	node_modules/.bin/biome ci --error-on-warnings .

format: install
	node_modules/.bin/biome format --write . && node_modules/.bin/biome lint --write .

typecheck: install
	npm run typecheck

migrate: install
	$(NODE) scripts/migrate.ts

# the profile .env names (demo by default); infrastructure only (no profile) has nothing that waits for the
# one-shot jobs, so `--wait` would fail there: run `docker compose up -d` for that, as the README says
up:
	docker compose up -d --build --wait

down:
	docker compose down

clean:
	rm -rf .data .tools .cache node_modules
