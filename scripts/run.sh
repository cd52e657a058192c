#!/usr/bin/env bash
# Sets up what is missing, builds the release, and runs Rekomi on SQLite at http://127.0.0.1:3000.
# Configuration comes from the environment (see README); by default data lives in ./data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh

cargo leptos build --release
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
export LEPTOS_SITE_ADDR="${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
echo "Rekomi: open http://${REKOMI_ADDR:-$LEPTOS_SITE_ADDR}"
exec "$CARGO_TARGET_DIR/release/server"
