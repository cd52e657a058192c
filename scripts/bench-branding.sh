#!/usr/bin/env bash
# The landing page with and without branding, on the same release binary, interleaved so both see the
# same machine: one merchant, two campaigns ("plain" and "branded": colour, logo, hero picture).
# Run after a release build (scripts/bench.sh or scripts/run.sh made one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
T=${CARGO_TARGET_DIR:-$HOME/.cache/rekomi-target}; BASE=http://127.0.0.1:3901; data=$(mktemp -d)
DATABASE_URL="sqlite:$data/b.db" REKOMI_DATA_DIR="$data" REKOMI_ADDR=127.0.0.1:3901 RUST_LOG=warn REKOMI_AUTH_RATE_PER_MINUTE=0 REKOMI_APPLY_RATE_PER_MINUTE=0 LEPTOS_SITE_ROOT=target/site $T/release/server > $data/s.log 2>&1 &
pid=$!; trap "kill $pid" EXIT
for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
jar=$data/c
curl -fs -c $jar -H 'content-type: application/json' $BASE/api/sign_up -d '{"shop_name":"Bench Shop","email":"b@example.com","password":"correct horse battery"}' >/dev/null
for n in plain branded; do
curl -fs -b $jar -H 'content-type: application/json' $BASE/api/create_campaign -d '{"form":{"name":"'$n'","slug":"","pitch":"Earn 10 % on every order.","terms":"Be honest.","commission_kind":"percent","commission_rate":"10","commission_amount":"","currency":"USD","cookie_days":"30","destination_url":"","auto_approve":false,"accepting":true}}' >/dev/null
done
python3 -c "
import struct,zlib
def png(p,w,h,rgb):
    c=lambda t,d: struct.pack('>I',len(d))+t+d+struct.pack('>I',zlib.crc32(t+d))
    rows=b''.join(b'\x00'+bytes(rgb)*w for _ in range(h))
    open(p,'wb').write(b'\x89PNG\r\n\x1a\n'+c(b'IHDR',struct.pack('>IIBBBBB',w,h,8,2,0,0,0))+c(b'IDAT',zlib.compress(rows))+c(b'IEND',b''))
png('$data/l.png',160,64,(1,2,3)); png('$data/h.png',1200,400,(4,5,6))"
curl -fs -b $jar -H 'content-type: application/json' $BASE/api/save_brand_color -d '{"id":2,"color":"#0e7c66"}' >/dev/null
curl -fs -b $jar -X PUT --data-binary @$data/l.png $BASE/api/campaigns/2/images/logo >/dev/null
curl -fs -b $jar -X PUT --data-binary @$data/h.png $BASE/api/campaigns/2/images/hero >/dev/null
for r in 1 2; do for n in plain branded; do
echo "$n: $(wrk -t2 -c64 -d8s $BASE/join/bench-shop/$n | grep Requests/sec)"
done; done
