#!/usr/bin/env bash
# Sets up what is missing, builds the release, and runs Rekomi on SQLite at http://127.0.0.1:3000.
# Configuration comes from the environment (see README); by default data lives in ./data.
# Without KLAVIYO_API_BASE it runs in demo mode: a fake Klaviyo with a demo account starts beside it,
# so the whole flow can be tried without a Klaviyo account. Set KLAVIYO_API_BASE=https://a.klaviyo.com
# to use the real one. Likewise without SHOPIFY_API_BASE (unless REKOMI_REAL_SHOPIFY=1) a fake Shopify
# with a demo store starts on 127.0.0.1:3200.
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
if [ -z "${SHOPIFY_API_BASE:-}" ] && [ "${REKOMI_REAL_SHOPIFY:-0}" != "1" ]; then
  build_fake_klaviyo
  shop_addr="${FAKE_SHOPIFY_ADDR:-127.0.0.1:3200}"
  "$CARGO_TARGET_DIR/release/fake-shopify" --demo --addr "$shop_addr" &
  shop_pid=$!
  trap 'kill "${fake_pid:-}" "$shop_pid" 2>/dev/null || true' EXIT INT TERM
  for _ in $(seq 1 50); do curl -fs "http://$shop_addr/_fake/shopify/faults" >/dev/null 2>&1 && break; sleep 0.1; done
  export SHOPIFY_API_BASE="http://$shop_addr"
  echo "Demo mode: Shopify calls go to a fake Shopify at $SHOPIFY_API_BASE. On the Shopify page connect"
  echo "  demo-outdoor.myshopify.com with client ID demo0rekomi0full0access0client01 and secret"
  echo "  shpss_demo_rekomi_full_access_secret_0001 (or demo0rekomi0no0discounts0client1 /"
  echo "  shpss_demo_rekomi_no_discounts_secret_01 to see a missing scope named)."
fi
echo "Rekomi: open http://${REKOMI_ADDR:-$LEPTOS_SITE_ADDR}"
"$server"
