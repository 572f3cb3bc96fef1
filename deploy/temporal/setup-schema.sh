#!/bin/sh
# Temporal's own databases on the compose PostgreSQL, the way Temporal's samples-server compose files set them
# up: create the database, stamp it (setup-schema -v 0.0 leaves an already stamped one alone) and apply every
# versioned migration newer than its stamp. Safe to run at every `docker compose up`.
# Runs in temporalio/admin-tools (temporal-sql-tool reads the password from SQL_PASSWORD).
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
schema=/etc/temporal/schema/postgresql/v12
sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" "$@"; }
for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}
  dir=${pair#*:}
  # fails when it exists already, which is the normal case from the second start on; setup-schema below fails loudly otherwise
  sql --db "$db" create || echo "database $db not created (it exists already?)"
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$schema/$dir/versioned"
done
echo 'Temporal schema is up to date'
