#!/usr/bin/env bash
# The full chaos run of the Klaviyo sync (the CI run is the short form of the same test):
# 2,000 approvals while the fake Klaviyo injects ~20 % 429/503/dropped connections and loses 10 %
# of accepted jobs, and the servers are SIGKILLed three times at random moments and restarted.
# SQLite with one server, then PostgreSQL with two servers sharing the queue.
#   scripts/chaos.sh                 # both engines
#   CHAOS_APPROVALS=500 CHAOS_KILLS=2 scripts/chaos.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
source scripts/postgres.sh
export CHAOS_APPROVALS="${CHAOS_APPROVALS:-2000}" CHAOS_KILLS="${CHAOS_KILLS:-3}"
echo "== chaos on SQLite (one server) =="
env -u TEST_DATABASE_URL cargo test -p server --test chaos -- --nocapture
echo "== chaos on PostgreSQL (two servers) =="
postgres_ready
TEST_DATABASE_URL="$PG_ADMIN_URL" cargo test -p server --test chaos -- --nocapture
