#!/bin/bash
# `eleven verify --config`: a data directory served with a TOML file's capacities verifies
# with that file, is refused with a clear error under the default capacities, and the file
# and the capacity flags cannot be given together. Usage: verify_config_test.sh ELEVEN
set -u
eleven=$1
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/serve.log" ] && cat "$dir/serve.log"; exit 1; }

cat > "$dir/config.toml" <<TOML
[server]
listen = "127.0.0.1:0"
http = "127.0.0.1:0"
[engine]
merchants_max = 1000
skus_max = 10000
order_slots = 65536
holdings_max = 4096
[journal]
segment_bytes = 1048576
[snapshot]
journal_bytes = 1
TOML
"$eleven" format --data "$dir/data" > /dev/null || fail "format"
"$eleven" serve --data "$dir/data" --config "$dir/config.toml" > "$dir/serve.log" 2>&1 &
pid=$!
port=
for _ in $(seq 1 300); do  # up to 30 s
  port=$(sed -n 's/.*HTTP on .*(port \([0-9]*\)).*/\1/p' "$dir/serve.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "the server did not start"

# One merchant over plain HTTP (bash's /dev/tcp: no client needed), then wait for the
# snapshot it causes (a snapshot after every byte of journal).
body='{"merchant_id":7,"country":"CN"}'
exec 3<> "/dev/tcp/127.0.0.1/$port" || fail "connect to port $port"
printf 'POST /merchants HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
  "${#body}" "$body" >&3
status=$(head -n 1 <&3)
exec 3<&-
case "$status" in *" 200 "*) ;; *) fail "create merchant: $status" ;; esac
for _ in $(seq 1 300); do
  ls "$dir/data"/snapshot-*.snap > /dev/null 2>&1 && break
  sleep 0.1
done
ls "$dir/data"/snapshot-*.snap > /dev/null 2>&1 || fail "no snapshot was written"
kill "$pid"
wait "$pid"
pid=

if "$eleven" verify --data "$dir/data" > "$dir/default.out" 2>&1; then
  fail "verify with the default capacities passed"
fi
grep -q "different engine configuration" "$dir/default.out" || { cat "$dir/default.out"; fail "no clear error"; }
"$eleven" verify --data "$dir/data" --config "$dir/config.toml" > "$dir/config.out" 2>&1 ||
  { cat "$dir/config.out"; fail "verify --config failed"; }
grep -q ": ok$" "$dir/config.out" || { cat "$dir/config.out"; fail "verify --config did not say ok"; }
if "$eleven" verify --data "$dir/data" --config "$dir/config.toml" --skus-max 5 > /dev/null 2>&1; then
  fail "--config and a capacity flag were accepted together"
fi
echo "verify --config: ok"
