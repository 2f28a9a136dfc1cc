#!/bin/bash
# The data directory owns its shape, from the command line: `eleven format --config` records
# it; `eleven serve` refuses every state-shaping TOML key (and a capacity flag) that
# contradicts it, naming the key and both values, and writes nothing; without a config it
# takes the recorded shape; `eleven verify` gives the same digest with and without the
# config; a flipped byte in MANIFEST is a clear Corruption; a directory without a manifest is
# refused until `eleven format --adopt` records one (and an operator key, as format does).
# The server is reached with the operator key `eleven format` made. Usage:
# manifest_cli_test.sh ELEVEN
set -u
eleven=$1
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/serve.log" ] && cat "$dir/serve.log"; exit 1; }

addresses='[server]
listen = "127.0.0.1:0"
http = "127.0.0.1:0"'
cat > "$dir/config.toml" <<TOML
$addresses
[engine]
merchants_max = 1000
skus_max = 10000
order_slots = 65536
holdings_max = 4096
[ledger]
enabled = true
accounts_max = 4096
transfers_max = 16384
buyers_max = 1024
merchants_max = 1024
orders_max = 4096
plans_max = 1024
[fulfilment]
enabled = true
warehouses_max = 16
couriers_max = 8
stock_entries_max = 1024
skus_max = 1024
parcels_max = 1024
shipments_max = 1024
backlog_max = 256
delivered_outbox_max = 256
milestones = [10, 100]
[journal]
segment_bytes = 1048576
[snapshot]
journal_bytes = 1
TOML
"$eleven" format --data "$dir/data" --config "$dir/config.toml" --key-file "$dir/operator.key" > "$dir/format.out" ||
  fail "format"
operator_key=$(cat "$dir/operator.key")
grep -q '^  ledger.enabled = true$' "$dir/format.out" || { cat "$dir/format.out"; fail "format did not show the shape"; }

# Starts `eleven serve "$@"` in the background and sets $port to its HTTP port.
start() {
  "$eleven" serve --data "$dir/data" "$@" > "$dir/serve.log" 2>&1 &
  pid=$!
  port=
  for _ in $(seq 1 300); do  # up to 30 s
    port=$(sed -n 's/.*HTTP on .*(port \([0-9]*\)).*/\1/p' "$dir/serve.log")
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "the server did not start"
}
stop() { kill "$pid"; wait "$pid"; pid=; }
http() {  # METHOD PATH [BODY]: prints the status line, then the body
  exec 3<> "/dev/tcp/127.0.0.1/$port" || fail "connect to port $port"
  local body=${3:-}
  printf '%s %s HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$1" "$2" "$operator_key" "${#body}" "$body" >&3
  cat <&3
  exec 3<&-
}
digest_of() { sed -n 's/.*digest \([0-9a-f]*\)$/\1/p' "$1"; }
op_of() { sed -n 's/.*state at op \([0-9]*\),.*/\1/p' "$1"; }

start --config "$dir/config.toml"
http POST /merchants '{"merchant_id":7,"country":"CN"}' | head -n 1 | grep -q " 200 " || fail "create merchant"
http POST /skus '{"sku_id":70,"merchant_id":7,"price_fen":990,"stock":50}' | head -n 1 | grep -q " 200 " || fail "create sku"
for _ in $(seq 1 300); do  # the snapshot a byte of journal causes
  ls "$dir/data"/snapshot-*.snap > /dev/null 2>&1 && break
  sleep 0.1
done
ls "$dir/data"/snapshot-*.snap > /dev/null 2>&1 || fail "no snapshot was written"
served_digest=$(http GET /engine/digest | sed -n 's/.*"digest":"\([0-9a-f]*\)".*/\1/p')
[ -n "$served_digest" ] || fail "no digest from the server"
stop
listing=$(ls -l --time-style=+ "$dir/data")

# Every state-shaping TOML key, changed: refused at start, naming the key and both values.
keys="engine.clock engine.merchants_max engine.skus_max engine.drops_max engine.order_slots
engine.holdings_max engine.pay_window_us engine.batch_commands_max ledger.enabled ledger.accounts_max
ledger.transfers_max ledger.buyers_max ledger.merchants_max ledger.orders_max ledger.plans_max
fulfilment.enabled fulfilment.warehouses_max fulfilment.couriers_max fulfilment.stock_entries_max
fulfilment.skus_max fulfilment.parcels_max fulfilment.shipments_max fulfilment.backlog_max
fulfilment.delivered_outbox_max fulfilment.milestones"
for key in $keys; do
  old=$(sed -n "s/^$key = //p" "$dir/data/MANIFEST")
  [ -n "$old" ] || fail "$key is not in MANIFEST"
  case "$old" in
    true) new=false ;; false) new=true ;;
    '"wall"') new='"client"' ;; '"client"') new='"wall"' ;;
    '['*) new='[5]' ;;
    *) new=$((old + 1)) ;;
  esac
  printf '%s = %s\n%s\n' "$key" "$new" "$addresses" > "$dir/changed.toml"
  if timeout 30 "$eleven" serve --data "$dir/data" --config "$dir/changed.toml" > "$dir/refused.out" 2>&1; then
    fail "$key = $new was accepted"
  fi
  grep -qF "$key = $new in $dir/changed.toml, but the data directory $dir/data was formatted with $old" \
    "$dir/refused.out" || { cat "$dir/refused.out"; fail "no clear error for $key"; }
done
if timeout 30 "$eleven" serve --data "$dir/data" --skus-max 20000 --listen 127.0.0.1:0 --http 127.0.0.1:0 \
    > "$dir/refused.out" 2>&1; then
  fail "--skus-max 20000 was accepted"
fi
grep -qF "engine.skus_max = 20000 by --skus-max, but the data directory $dir/data was formatted with 10000" \
  "$dir/refused.out" || { cat "$dir/refused.out"; fail "no clear error for --skus-max"; }
[ "$(ls -l --time-style=+ "$dir/data")" = "$listing" ] || fail "a refused start changed the data directory"

# Verify: the same digest with the config, without it, and as the server had it.
"$eleven" verify --data "$dir/data" > "$dir/plain.out" 2>&1 || { cat "$dir/plain.out"; fail "verify failed"; }
"$eleven" verify --data "$dir/data" --config "$dir/config.toml" > "$dir/config.out" 2>&1 ||
  { cat "$dir/config.out"; fail "verify --config failed"; }
grep -q ": ok$" "$dir/plain.out" || { cat "$dir/plain.out"; fail "verify did not say ok"; }
plain=$(digest_of "$dir/plain.out")
[ -n "$plain" ] && [ "$plain" = "$(digest_of "$dir/config.out")" ] || fail "verify digests differ"
[ "$plain" = "$served_digest" ] || fail "verify's digest $plain is not the server's $served_digest"
if "$eleven" verify --data "$dir/data" --skus-max 5 > "$dir/refused.out" 2>&1; then fail "verify --skus-max 5 passed"; fi
grep -q "engine.skus_max = 5 by --skus-max" "$dir/refused.out" || { cat "$dir/refused.out"; fail "verify: no clear error"; }

# Without a shape in its config the server takes the recorded shape: the same state, ledger
# and all.
start --listen 127.0.0.1:0 --http 127.0.0.1:0
[ "$(http GET /engine/digest | sed -n 's/.*"digest":"\([0-9a-f]*\)".*/\1/p')" = "$served_digest" ] ||
  fail "restarted without a config, the state differs"
stop

# A flipped byte in MANIFEST: Corruption, for verify, serve and inspect alike.
cp "$dir/data/MANIFEST" "$dir/MANIFEST.good"
printf 'X' | dd of="$dir/data/MANIFEST" bs=1 seek=40 conv=notrunc status=none
for command in "verify --data $dir/data" "serve --data $dir/data --listen 127.0.0.1:0 --http 127.0.0.1:0" \
               "inspect --data $dir/data"; do
  if timeout 30 "$eleven" $command > "$dir/damaged.out" 2>&1; then fail "$command passed a damaged MANIFEST"; fi
  grep -qi "corruption.*MANIFEST: checksum mismatch" "$dir/damaged.out" ||
    { cat "$dir/damaged.out"; fail "$command: no clear error for a damaged MANIFEST"; }
done

# No manifest (a directory formatted by an older build): refused with what to do; adopted
# once with the config it was served with; then as before.
rm "$dir/data/MANIFEST"
if timeout 30 "$eleven" serve --data "$dir/data" --config "$dir/config.toml" > "$dir/old.out" 2>&1; then
  fail "a directory without a manifest was served"
fi
grep -q "eleven format --adopt --data $dir/data" "$dir/old.out" || { cat "$dir/old.out"; fail "no adopt hint"; }
if "$eleven" format --adopt --data "$dir/data" --skus-max 20000 > "$dir/adopt.out" 2>&1; then
  fail "adopted a shape its snapshot does not restore into"
fi
[ ! -e "$dir/data/MANIFEST" ] || fail "a refused adopt wrote a manifest"
"$eleven" format --adopt --data "$dir/data" --config "$dir/config.toml" > "$dir/adopt.out" 2>&1 ||
  { cat "$dir/adopt.out"; fail "adopt failed"; }
cmp -s "$dir/data/MANIFEST" "$dir/MANIFEST.good" || fail "adopt recorded another manifest than format"
# The adopted directory gained one entry, an operator key issued by the local operator.
grep -q "^operator key 2 " "$dir/adopt.out" || { cat "$dir/adopt.out"; fail "adopt added no operator key"; }
op_before=$(op_of "$dir/config.out")
"$eleven" verify --data "$dir/data" > "$dir/plain.out" 2>&1 || { cat "$dir/plain.out"; fail "verify after adopt"; }
[ "$(op_of "$dir/plain.out")" = $((op_before + 1)) ] || { cat "$dir/plain.out"; fail "adopt did not add one entry after op $op_before"; }
"$eleven" inspect --data "$dir/data" --from $((op_before + 1)) --commands > "$dir/inspect.out" 2>&1 ||
  { cat "$dir/inspect.out"; fail "inspect after adopt"; }
grep -q "^    issuer 0     create_key role=operator scope=0$" "$dir/inspect.out" || { cat "$dir/inspect.out"; fail "adopt's entry"; }
echo "manifest from the command line: ok"
