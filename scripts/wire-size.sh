#!/usr/bin/env bash
# Runs scripts/wire-size.mjs (what a merchant downloads; see its header) with the Playwright that
# end2end/ installs. The Rekomi server must already be running (BASE_URL, default http://127.0.0.1:3000).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
modules="$root/end2end/node_modules"
if [ ! -d "$modules/playwright-core" ] && [ ! -d "$modules/@playwright/test" ]; then
  echo "wire-size: Playwright is not installed in end2end/; run: (cd end2end && npm ci)" >&2
  exit 1
fi
export PLAYWRIGHT_FROM="$root/end2end"
exec node "$root/scripts/wire-size.mjs" "$@"
