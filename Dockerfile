# syntax=docker/dockerfile:1
# One image for the worker, the API and the one-shot jobs (migrate, schedule); the command picks the role.
# It carries what production runs and nothing else: production dependencies, the code without the demo
# source server and the embedded-PostgreSQL helper, and a workflow bundle built here once.
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
