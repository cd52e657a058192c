#!/usr/bin/env bash
# Runs schemathesis (from PyPI) against a live Rekomi at $1 (default http://127.0.0.1:3000): it
# reads /api/v1/openapi.json, generates valid and invalid requests for every operation, and fails
# on any 5xx. A fresh merchant with a campaign, an affiliate and an API token is made first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BASE=${1:-http://127.0.0.1:3000}
VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/rekomi-schemathesis}"
[ -x "$VENV/bin/schemathesis" ] || {
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
}

jar=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$jar" "$work"' EXIT
post() { curl -fsS -b "$jar" -c "$jar" -H 'content-type: application/json' -d "$2" "$BASE/api/$1"; }
suffix=$RANDOM$RANDOM
post sign_up "{\"shop_name\":\"Schema Shop $suffix\",\"email\":\"schema-$suffix@example.com\",\"password\":\"correct horse battery\"}" >/dev/null
campaign=$(post create_campaign '{"form":{"name":"Schema Partners","slug":"","pitch":"Earn with us.","terms":"Be nice.","commission_kind":"percent","commission_rate":"10","commission_amount":"","currency":"USD","cookie_days":"30","destination_url":"","auto_approve":true,"accepting":true}}')
landing=$(printf '%s' "$campaign" | python3 -c 'import json,sys; print(json.load(sys.stdin)["landing_path"])')
curl -fsS -o /dev/null -d "name=Ana Lima&email=ana-$suffix@example.com&accept_terms=on" "$BASE$landing"
token=$(post create_api_token '{"name":"schemathesis"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

cd "$work"
SCHEMATHESIS_HOOKS="$OLDPWD/scripts/schemathesis_hooks.py" "$VENV/bin/schemathesis" run "$BASE/api/v1/openapi.json" \
  --url "$BASE" -H "Authorization: Bearer $token" \
  --checks not_a_server_error --phases examples,coverage,fuzzing \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-200}" --request-timeout 10 --generation-database none --no-color
