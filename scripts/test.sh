#!/usr/bin/env bash
# Sets up what is missing and runs every test: Rust unit and integration tests on SQLite and on
# PostgreSQL, then the Playwright suite in Debian's Chromium against the release build (the build
# that runs wasm-opt, which is where hydration can silently break), once per database engine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
source scripts/postgres.sh

apt_install chromium
[ -d end2end/node_modules/@playwright/test ] && [ -d end2end/node_modules/@axe-core/playwright ] ||
  (cd end2end && npm ci --no-audit --no-fund)

summary=()
run_cargo_tests() {
  local label=$1; shift
  local log; log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  local passed; passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
  summary+=("$label: $passed passed")
  rm -f "$log"
}

echo "== Rust tests on SQLite"
run_cargo_tests "rust/sqlite" cargo test -p shared -p backend -p app -p server -p fakes

echo "== Rust integration tests on PostgreSQL"
postgres_ready
# Same package set as above, so nothing is rebuilt; the unit tests simply run again.
TEST_DATABASE_URL="$PG_ADMIN_URL" run_cargo_tests "rust/postgres" cargo test -p shared -p backend -p app -p server -p fakes

echo "== Fuzzing the Rewardful CSV reader (cargo fuzz, 30 s)"
# cargo fuzz passes nightly flags, which the stable toolchain accepts with RUSTC_BOOTSTRAP=1.
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --version 0.13.1 --locked
# Its own target dir: the fuzz build uses other compiler flags, which would invalidate the main one.
(cd fuzz && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/rekomi-fuzz-target}" \
  cargo fuzz run rewardful_csv --sanitizer none -- -max_total_time=30 -max_len=4096 2>&1 | tail -5)
summary+=("fuzz/rewardful_csv: 30 s, no crash")

echo "== Release build"
cargo leptos build --release --precompress --split
build_fake_klaviyo

e2e() {
  local label=$1 database_url=$2
  local data; data=$(mktemp -d)
  # A fresh fake Klaviyo in demo mode per run (35 lists, keys with and without Subscriptions).
  "$CARGO_TARGET_DIR/release/fake-klaviyo" --demo --addr 127.0.0.1:3100 >"$data/fake.log" 2>&1 &
  local fake_pid=$!
  for _ in $(seq 1 50); do curl -fs http://127.0.0.1:3100/_fake/faults >/dev/null 2>&1 && break; sleep 0.1; done
  # And a fresh fake Shopify with its demo store.
  "$CARGO_TARGET_DIR/release/fake-shopify" --demo --addr 127.0.0.1:3200 >"$data/fake-shopify.log" 2>&1 &
  local shop_pid=$!
  for _ in $(seq 1 100); do curl -fs http://127.0.0.1:3200/_fake/shopify/faults >/dev/null 2>&1 && break; sleep 0.1; done
  # Debug logging, so the check that the Klaviyo key never reaches a log line covers every line.
  RUST_LOG="debug,sqlx=info" KLAVIYO_API_BASE=http://127.0.0.1:3100 SHOPIFY_API_BASE=http://127.0.0.1:3200 \
    DATABASE_URL="$database_url" REKOMI_DATA_DIR="$data" REKOMI_ADDR=127.0.0.1:3000 \
    REKOMI_AUTH_RATE_PER_MINUTE=0 REKOMI_APPLY_RATE_PER_MINUTE=0 REKOMI_API_RATE_PER_MINUTE=0 \
    REKOMI_TEST_HOOKS=1 REKOMI_WEBHOOKS_ALLOW_PRIVATE=1 LEPTOS_SITE_ROOT=target/site \
    "$CARGO_TARGET_DIR/release/server" >"$data/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -fs http://127.0.0.1:3000/healthz >/dev/null 2>&1 && break; sleep 0.1; done
  local log; log=$(mktemp)
  local status=0
  (cd end2end && REKOMI_SERVER_LOG="$data/server.log" npx playwright test) 2>&1 | tee "$log" || status=$?
  [ "$status" -eq 0 ] && summary+=("e2e/$label: $(grep -Eo '[0-9]+ passed' "$log" | tail -1)")
  # The REST API against its own OpenAPI document: generated requests, no 5xx allowed.
  if [ "$status" -eq 0 ]; then
    scripts/schemathesis.sh http://127.0.0.1:3000 >"$data/schemathesis.log" 2>&1 || status=$?
    tail -25 "$data/schemathesis.log"
    [ "$status" -eq 0 ] && summary+=("schemathesis/$label: $(grep -Eo '[0-9]+ generated' "$data/schemathesis.log" | tail -1) cases, no 5xx")
  fi
  kill "$pid" "$fake_pid" "$shop_pid" 2>/dev/null; wait "$pid" "$fake_pid" "$shop_pid" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then echo "server log:"; tail -50 "$data/server.log"; return "$status"; fi
  rm -rf "$data" "$log"
}

echo "== Playwright on SQLite (JavaScript on and off)"
e2e sqlite "sqlite:$(mktemp -d)/e2e.db"
echo "== Playwright on PostgreSQL"
e2e postgres "$(postgres_fresh_db rekomi_e2e)"

echo
printf '%s\n' "${summary[@]}"
total=$(printf '%s\n' "${summary[@]}" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
echo "all: $total passed, 0 failed"
