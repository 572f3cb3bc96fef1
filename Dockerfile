# syntax=docker/dockerfile:1
# One image for the worker, the API and the one-shot jobs (migrate, schedule); the command picks the role.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# production dependencies only: no Node-from-npm, no test tools, no embedded PostgreSQL
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root src ./src
COPY --chown=root:root scripts/migrate.ts ./scripts/migrate.ts
COPY --chown=root:root config ./config
COPY --chown=root:root data ./data
# the code is root-owned and read-only to the service user
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "src/healthcheck.ts"]
CMD ["node", "src/api/server.ts"]
