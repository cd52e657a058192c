#!/usr/bin/env bash
# Load test on loopback: the public landing page (GET) and the application form (POST) on SQLite,
# plus the server's resident memory idle and after the load. Prints the figures the README quotes.
#   DURATION=15s CONNECTIONS=64 scripts/bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
apt_install wrk

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-3900}
BASE="http://127.0.0.1:$PORT"
[ -x "$CARGO_TARGET_DIR/release/server" ] && [ -f "$CARGO_TARGET_DIR/release/hash.txt" ] || cargo leptos build --release --precompress --split

data=$(mktemp -d)
DATABASE_URL="sqlite:$data/bench.db" REKOMI_DATA_DIR="$data" REKOMI_ADDR="127.0.0.1:$PORT" RUST_LOG=warn \
  REKOMI_AUTH_RATE_PER_MINUTE=0 REKOMI_APPLY_RATE_PER_MINUTE=0 LEPTOS_SITE_ROOT=target/site \
  "$CARGO_TARGET_DIR/release/server" >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

rss() { awk '/VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status"; }
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "server RSS idle after start: $(rss)"

jar="$data/cookies"
curl -fs -c "$jar" -H 'content-type: application/json' "$BASE/api/sign_up" \
  -d '{"shop_name":"Bench Shop","email":"bench@example.com","password":"correct horse battery"}' >/dev/null
curl -fs -b "$jar" -H 'content-type: application/json' "$BASE/api/create_campaign" -d '{"form":{"name":"Spring Partners",
  "slug":"","pitch":"Earn 10 % on every order.","terms":"Be honest.\n\nNo brand bidding.","commission_kind":"percent",
  "commission_rate":"10","commission_amount":"","currency":"USD","cookie_days":"30","destination_url":"",
  "auto_approve":false,"accepting":true}}' >/dev/null
# Two optional questions of the campaign's own, so the page measured renders them (and every POST,
# answering none, is still taken).
curl -fs -b "$jar" -H 'content-type: application/json' "$BASE/api/save_campaign_questions" -d '{"id":1,"questions":[
  {"kind":"choice","label":"Where do you post most?","choices":"Instagram\nTikTok\nYouTube"},
  {"kind":"long_text","label":"Tell us about your audience"}]}' >/dev/null
landing="$BASE/join/bench-shop/spring-partners"
curl -fs "$landing" | grep -q "Where do you post most?"
# The campaign's own look (colour, logo, hero picture), so the page measured is a branded one.
python3 - "$data" <<'PY'
import struct, sys, zlib
def png(path, w, h, rgb):
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    rows = b''.join(b'\x00' + bytes(rgb) * w for _ in range(h))
    header = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))
png(sys.argv[1] + '/logo.png', 160, 64, (14, 124, 102))
png(sys.argv[1] + '/hero.png', 1200, 400, (240, 200, 120))
PY
curl -fs -b "$jar" -H 'content-type: application/json' "$BASE/api/save_brand_color" -d '{"id":1,"color":"#0e7c66"}' >/dev/null
for slot in logo hero; do
  curl -fs -b "$jar" -X PUT -H 'content-type: image/png' --data-binary @"$data/$slot.png" \
    "$BASE/api/campaigns/1/images/$slot" >/dev/null
done
hero=$(curl -fs "$landing" | grep -Eo '/media/[0-9a-f]{64}\.png" width="1200"' | cut -d'"' -f1)
[ -n "$hero" ] || { echo "the landing page shows no hero image"; exit 1; }

echo
echo "== GET landing page: wrk -t2 -c$CONNECTIONS -d$DURATION --latency"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$landing" | grep -E "Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx"
echo
echo "== GET the hero image ($(stat -c %s "$data/hero.png") bytes): wrk -t2 -c$CONNECTIONS -d$DURATION --latency"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$BASE$hero" | grep -E "Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx"
echo
echo "== POST application (new email each time): wrk -t2 -c16 -d$DURATION --latency -s bench/apply.lua"
wrk -t2 -c16 -d"$DURATION" --latency -s bench/apply.lua "$landing" | grep -E "Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx"
stored=$(curl -fs -b "$jar" -H 'content-type: application/json' "$BASE/api/approval_queue" -d '{"filter":{}}' | grep -Eo '"total":[0-9]+')
echo "applications stored: ${stored#*:}"
sleep 2
echo
echo "server RSS after the load: $(rss)"
