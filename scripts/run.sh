#!/usr/bin/env bash
# Sets up what is missing, builds the release, and runs Rekomi on SQLite at http://127.0.0.1:3000.
# Configuration comes from the environment (see README); by default data lives in ./data.
# Without KLAVIYO_API_BASE it runs in demo mode: a fake Klaviyo with a demo account starts beside it,
# so the whole flow can be tried without a Klaviyo account. Set KLAVIYO_API_BASE=https://a.klaviyo.com
# to use the real one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh

cargo leptos build --release --precompress --split
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
export LEPTOS_SITE_ADDR="${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
server="$CARGO_TARGET_DIR/release/server"

if [ -z "${KLAVIYO_API_BASE:-}" ]; then
  build_fake_klaviyo
  fake_addr="${FAKE_KLAVIYO_ADDR:-127.0.0.1:3100}"
  "$CARGO_TARGET_DIR/release/fake-klaviyo" --demo --addr "$fake_addr" &
  fake_pid=$!
  trap 'kill "$fake_pid" 2>/dev/null || true' EXIT INT TERM
  for _ in $(seq 1 50); do curl -fs "http://$fake_addr/_fake/faults" >/dev/null 2>&1 && break; sleep 0.1; done
  export KLAVIYO_API_BASE="http://$fake_addr"
  echo "Demo mode: Klaviyo calls go to a fake Klaviyo at $KLAVIYO_API_BASE."
  echo "  In Rekomi, open Klaviyo and paste pk_demo_rekomi_full_access_0001 (or pk_demo_rekomi_no_subscriptions_1"
  echo "  to see a missing permission named)."
fi
echo "Rekomi: open http://${REKOMI_ADDR:-$LEPTOS_SITE_ADDR}"
"$server"
