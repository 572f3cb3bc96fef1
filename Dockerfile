# syntax=docker/dockerfile:1
# Two images. `runtime` (the default, last target): the worker, the API and the one-shot jobs (migrate,
# schedule); the command picks the role. It carries what production runs and nothing else: production
# dependencies, the code without the demo source server and the embedded-PostgreSQL helper, and a workflow
# bundle built here once. `source-server`: the demo source server alone, for compose's demo profile.
# Signals: run them with an init (compose `init: true`, `docker run --init`), which forwards SIGTERM to Node
# and reaps what it leaves.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# production dependencies only: no Node-from-npm, no test tools, no embedded PostgreSQL
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM deps AS build
COPY src ./src
# the workflow bundle, built once here instead of at every worker start (ETL_WORKFLOW_BUNDLE)
RUN mkdir -p dist && node src/temporal/bundle.ts > dist/workflows.js \
 && rm -rf src/sourceserver src/db/embedded-postgres.ts

# The demo source server needs two packages of the production set: installed alone, at the versions the lock
# file pins, so its image stays small.
FROM node:24-bookworm-slim AS source-server-deps
WORKDIR /app
COPY package-lock.json ./
RUN npm install --no-save --no-package-lock --no-audit --no-fund \
      "pino@$(node -p "require('./package-lock.json').packages['node_modules/pino'].version")" \
      "zod@$(node -p "require('./package-lock.json').packages['node_modules/zod'].version")" \
 && npm cache clean --force && rm package-lock.json

FROM node:24-bookworm-slim AS source-server
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    ETL_SOURCE_SERVER_PORT=8787 \
    HEALTHCHECK_URL=http://127.0.0.1:8787/_control/faults
WORKDIR /app
COPY --from=source-server-deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root src/sourceserver ./src/sourceserver
COPY --chown=root:root src/logger.ts src/settings.ts src/healthcheck.ts ./src/
COPY --chown=root:root data/demo ./data/demo
USER node
EXPOSE 8787
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=5 CMD ["node", "src/healthcheck.ts"]
CMD ["node", "src/sourceserver/main.ts"]

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    ETL_WORKFLOW_BUNDLE=/app/dist/workflows.js
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --from=build --chown=root:root /app/src ./src
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root scripts/migrate.ts ./scripts/migrate.ts
COPY --chown=root:root config ./config
COPY --chown=root:root data ./data
# the code is root-owned and read-only to the service user
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "src/healthcheck.ts"]
CMD ["node", "src/api/server.ts"]
