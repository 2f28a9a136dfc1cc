#!/bin/bash
# API keys from the command line (docs/access.md): `eleven format` records the first
# operator key and prints its secret once (or writes it to --key-file, mode 0600); a server
# on the directory answers 200 with that key and 401 without; `eleven keys create|show|revoke`
# manage keys over HTTP with it, with clear exit codes and messages on 401, 403 and 404;
# `eleven inspect --commands` shows every command's issuer; `format --adopt` of a directory
# from before manifests adds an operator key the same way; anonymous access is refused off
# loopback; `eleven bench` and examples/place_orders authenticate with the operator key.
# Usage: keys_cli_test.sh ELEVEN PLACE_ORDERS
set -u
eleven=$1
place_orders=$2
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/serve.log" ] && cat "$dir/serve.log"; exit 1; }

cat > "$dir/config.toml" <<TOML
[server]
listen = "127.0.0.1:0"
http = "127.0.0.1:0"
[engine]
merchants_max = 100
skus_max = 1000
order_slots = 4096
holdings_max = 1024
[journal]
segment_bytes = 1048576
TOML

# format prints the secret once; --key-file writes it (0600) and prints only the path.
"$eleven" format --data "$dir/printed" --config "$dir/config.toml" > "$dir/printed.out" || fail "format"
printed=$(grep -o 'ek_[A-Za-z0-9_-]\{43\}' "$dir/printed.out")
[ "$(grep -c 'ek_' "$dir/printed.out")" = 1 ] && [ ${#printed} = 46 ] || { cat "$dir/printed.out"; fail "format did not print one secret"; }
grep -q "^operator key 1 " "$dir/printed.out" || fail "format did not name key 1"
"$eleven" format --data "$dir/data" --config "$dir/config.toml" --key-file "$dir/operator.key" > "$dir/format.out" ||
  fail "format --key-file"
grep -q 'ek_' "$dir/format.out" && fail "format --key-file printed the secret"
grep -qF "operator key 1: its secret is in $dir/operator.key (mode 0600)" "$dir/format.out" || { cat "$dir/format.out"; fail "no key file line"; }
[ "$(stat -c %a "$dir/operator.key")" = 600 ] || fail "the key file's mode is $(stat -c %a "$dir/operator.key")"
operator=$(cat "$dir/operator.key")
[ ${#operator} = 46 ] && [ "$operator" != "$printed" ] || fail "the key file does not hold a new secret"
# An existing key file is never overwritten, and the refusal formats nothing.
if "$eleven" format --data "$dir/other" --config "$dir/config.toml" --key-file "$dir/operator.key" > "$dir/refused.out" 2>&1; then
  fail "format overwrote a key file"
fi
grep -q "a key file is never overwritten" "$dir/refused.out" || { cat "$dir/refused.out"; fail "no clear error for an existing key file"; }
[ ! -e "$dir/other" ] && [ "$(cat "$dir/operator.key")" = "$operator" ] || fail "a refused format changed something"

start() {
  "$eleven" serve --data "$dir/data" "$@" > "$dir/serve.log" 2>&1 &
  pid=$!
  port=
  for _ in $(seq 1 300); do  # up to 30 s
    port=$(sed -n 's/.*HTTP on .*(port \([0-9]*\)).*/\1/p' "$dir/serve.log")
    binary_port=$(sed -n 's/.*binary protocol on .*(port \([0-9]*\)), HTTP.*/\1/p' "$dir/serve.log")
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "the server did not start"
}
stop() { kill "$pid"; wait "$pid"; pid=; }
http() {  # KEY METHOD PATH [BODY]: prints the status line, then the body
  exec 3<> "/dev/tcp/127.0.0.1/$port" || fail "connect to port $port"
  local body=${4:-} auth=
  [ -n "$1" ] && auth="Authorization: Bearer $1"$'\r\n'
  printf '%s %s HTTP/1.1\r\nHost: test\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$2" "$3" "$auth" "${#body}" "$body" >&3
  cat <&3
  exec 3<&-
}
status_of() { http "$@" | head -n 1 | cut -d' ' -f2; }

start --config "$dir/config.toml"
url="http://127.0.0.1:$port"
[ "$(status_of "$operator" GET /engine/digest)" = 200 ] || fail "the format's key was not accepted"
[ "$(status_of "" GET /engine/digest)" = 401 ] || fail "a request without a key was not 401"
[ "$(status_of "$printed" GET /engine/digest)" = 401 ] || fail "another directory's key was accepted"
[ "$(status_of "$operator" POST /merchants '{"merchant_id":42,"country":"CN"}')" = 200 ] || fail "create merchant"

# eleven keys create / show / revoke.
"$eleven" keys create --url "$url" --key-file "$dir/operator.key" --role merchant --merchant 42 > "$dir/create.out" ||
  { cat "$dir/create.out"; fail "keys create"; }
merchant=$(grep -o 'ek_[A-Za-z0-9_-]\{43\}' "$dir/create.out")
grep -q "^key 2 (merchant 42) created" "$dir/create.out" && [ ${#merchant} = 46 ] || { cat "$dir/create.out"; fail "keys create output"; }
[ "$(status_of "$merchant" POST /skus '{"sku_id":4201,"merchant_id":42,"price_fen":990,"stock":5}')" = 200 ] ||
  fail "the merchant key cannot create its own SKU"
"$eleven" keys show 2 --url "$url" --key "$operator" > "$dir/show.out" || fail "keys show"
grep -q '"key_id":2,"role":"merchant","merchant_id":42,"state":"active"' "$dir/show.out" || { cat "$dir/show.out"; fail "keys show output"; }
grep -q 'ek_\|sha' "$dir/show.out" && fail "keys show revealed a secret or hash"
# 401, 403, 404 and bad input: exit 1 (refused) or 2 (usage), each with its reason.
"$eleven" keys show 2 --url "$url" --key "$printed" > /dev/null 2> "$dir/401.err"; code=$?
[ $code = 1 ] && grep -q "HTTP 401 unauthenticated" "$dir/401.err" || { cat "$dir/401.err"; fail "401: exit $code"; }
"$eleven" keys create --url "$url" --key "$merchant" --role viewer > /dev/null 2> "$dir/403.err"; code=$?
[ $code = 1 ] && grep -q "HTTP 403 forbidden.*operator key" "$dir/403.err" || { cat "$dir/403.err"; fail "403: exit $code"; }
"$eleven" keys show 99 --url "$url" --key "$operator" > /dev/null 2> "$dir/404.err"; code=$?
[ $code = 1 ] && grep -q "HTTP 404 key_not_found" "$dir/404.err" || { cat "$dir/404.err"; fail "404: exit $code"; }
"$eleven" keys create --url "$url" --key "$operator" --role merchant > /dev/null 2> "$dir/usage.err"; code=$?
[ $code = 2 ] && grep -q "takes --merchant ID" "$dir/usage.err" || { cat "$dir/usage.err"; fail "no scope: exit $code"; }
"$eleven" keys show 2 --url "$url" --key not-a-key > /dev/null 2> "$dir/usage.err"; code=$?
[ $code = 2 ] && grep -q "does not hold a key secret" "$dir/usage.err" || { cat "$dir/usage.err"; fail "bad key: exit $code"; }
"$eleven" keys create --url "$url" --key "$operator" --role merchant --merchant 43 > /dev/null 2> "$dir/scope.err"; code=$?
[ $code = 1 ] && grep -q "merchant_not_found" "$dir/scope.err" || { cat "$dir/scope.err"; fail "unknown merchant: exit $code"; }
"$eleven" keys revoke 2 --url "$url" --key-file "$dir/operator.key" > "$dir/revoke.out" || fail "keys revoke"
grep -q "^key 2 revoked$" "$dir/revoke.out" || { cat "$dir/revoke.out"; fail "keys revoke output"; }
[ "$(status_of "$merchant" GET /skus/4201)" = 401 ] || fail "a revoked key was accepted"
"$eleven" keys revoke 1 --url "$url" --key "$operator" > /dev/null 2> "$dir/last.err"; code=$?
[ $code = 1 ] && grep -q "last_operator_key" "$dir/last.err" || { cat "$dir/last.err"; fail "revoking the last operator key: exit $code"; }

# The binary protocol's tools: eleven bench (W1's SKU 1 present, so no catalog load) and the
# example storefront, which creates storefront key 3 with the operator key.
[ "$(status_of "$operator" POST /merchants '{"merchant_id":1,"country":"CN"}')" = 200 ] &&
  [ "$(status_of "$operator" POST /skus '{"sku_id":1,"merchant_id":1,"price_fen":990,"stock":1000}')" = 200 ] ||
  fail "W1's first SKU"
"$place_orders" "127.0.0.1:$binary_port" "$operator" > "$dir/place.out" 2>&1 || { cat "$dir/place.out"; fail "place_orders"; }
for line in "storefront key 3 created" "orders: 500 of 500 accepted"; do
  grep -qF "$line" "$dir/place.out" || { cat "$dir/place.out"; fail "place_orders did not say: $line"; }
done
grep -q "^pay order [0-9]*: ok$" "$dir/place.out" || { cat "$dir/place.out"; fail "place_orders did not pay"; }
"$eleven" bench --connect "127.0.0.1:$binary_port" --key-file "$dir/operator.key" --connections 1 --batch 10 \
  --seconds 0.3 > "$dir/bench.out" 2>&1 || { cat "$dir/bench.out"; fail "bench with the operator key"; }
grep -q "catalog: present" "$dir/bench.out" && grep -q ", 0 failed)" "$dir/bench.out" || { cat "$dir/bench.out"; fail "bench output"; }
"$eleven" bench --connect "127.0.0.1:$binary_port" --key "$printed" --seconds 0.3 > "$dir/bench.out" 2>&1 &&
  fail "bench with an unknown key passed"
grep -q "unauthenticated" "$dir/bench.out" || { cat "$dir/bench.out"; fail "bench: no clear error for an unknown key"; }
"$eleven" keys show 3 --url "$url" --key "$operator" | grep -q '"role":"storefront","storefront_id":1,' ||
  fail "place_orders' storefront key"
stop

# The audit trail: every command with its issuer.
"$eleven" inspect --data "$dir/data" --commands > "$dir/inspect.out" || { cat "$dir/inspect.out"; fail "inspect"; }
for line in "issuer 0     create_key role=operator scope=0" "issuer 1     create_merchant" \
            "issuer 1     create_key role=merchant scope=42" "issuer 2     create_sku sku=4201 merchant=42" \
            "issuer 1     revoke_key key=2" "issuer 1     revoke_key key=1"; do
  grep -qF "    $line" "$dir/inspect.out" || { cat "$dir/inspect.out"; fail "inspect does not show: $line"; }
done

# Anonymous requests: only where the config says so, and only on loopback.
printf '[access]\nanonymous = "operator"\n' > "$dir/anonymous.toml"
if timeout 30 "$eleven" serve --data "$dir/data" --config "$dir/anonymous.toml" --listen 127.0.0.1:0 --http 0.0.0.0:0 \
    > "$dir/refused.out" 2>&1; then
  fail "anonymous access was served off loopback"
fi
grep -q "loopback" "$dir/refused.out" || { cat "$dir/refused.out"; fail "no clear error for anonymous off loopback"; }
start --config "$dir/anonymous.toml" --listen 127.0.0.1:0 --http 127.0.0.1:0
[ "$(status_of "" GET /engine/digest)" = 200 ] || fail "anonymous on loopback was refused"
stop

# format --adopt of a directory from before manifests adds an operator key the same way.
rm "$dir/data/MANIFEST"
"$eleven" format --adopt --data "$dir/data" --config "$dir/config.toml" > "$dir/adopt.out" 2>&1 || { cat "$dir/adopt.out"; fail "adopt"; }
adopted=$(grep -o 'ek_[A-Za-z0-9_-]\{43\}' "$dir/adopt.out")
grep -q "^operator key 4 " "$dir/adopt.out" && [ ${#adopted} = 46 ] || { cat "$dir/adopt.out"; fail "adopt did not add key 4"; }
start --config "$dir/config.toml"
[ "$(status_of "$adopted" GET /engine/digest)" = 200 ] || fail "the adopted directory's new key was not accepted"
[ "$(status_of "$operator" GET /engine/digest)" = 200 ] || fail "the first key stopped working after adopt"
stop
echo "keys from the command line: ok"
