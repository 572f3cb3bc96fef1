#!/bin/sh
# Creates the namespace the ETL runs in, with the history retention the Web UI links of the API reach back
# (TEMPORAL_RETENTION, e.g. 30d), and sets that retention again when the namespace exists: changing
# TEMPORAL_RETENTION in .env and running this job again (docker compose up temporal-namespace) changes it.
# Runs in temporalio/admin-tools; scripts/compose-local.ts runs the same file against a local dev server.
set -eu
namespace=${TEMPORAL_NAMESPACE:-default}
retention=${TEMPORAL_RETENTION:-30d}
address=${TEMPORAL_ADDRESS:-temporal:7233}
tries=0
until temporal operator cluster health --address "$address" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "Temporal at $address is not serving" >&2
    exit 1
  fi
  sleep 1
done
if temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
  temporal operator namespace update --address "$address" --namespace "$namespace" --retention "$retention"
else
  temporal operator namespace create --address "$address" --namespace "$namespace" --retention "$retention"
fi
echo "namespace $namespace: history retention $retention"
