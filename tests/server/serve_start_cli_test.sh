#!/bin/bash
# `eleven serve` at start-up (docs/server.md, "Start-up"): it says what it opens and with
# which sizes, how much its tables take once allocated; and an address already in use stops
# it at once, named, before the data directory is opened or anything allocated.
# Usage: serve_start_cli_test.sh ELEVEN
set -u
eleven=$1
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.log; do echo "== $f"; cat "$f"; done; exit 1; }

cat > "$dir/config.toml" <<TOML
[server]
listen = "127.0.0.1:0"
http = "127.0.0.1:0"
[engine]
merchants_max = 100
skus_max = 1000
order_slots = 65536
holdings_max = 1024
[journal]
segment_bytes = 1048576
TOML
"$eleven" format --data "$dir/a" --config "$dir/config.toml" --key-file "$dir/a.key" > /dev/null || fail "format a"
"$eleven" format --data "$dir/b" --config "$dir/config.toml" --key-file "$dir/b.key" > /dev/null || fail "format b"

"$eleven" serve --data "$dir/a" --config "$dir/config.toml" > "$dir/a.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do grep -q "HTTP on" "$dir/a.log" && break; sleep 0.05; done
http_port=$(sed -n 's/.*HTTP on .* (port \([0-9]*\)).*/\1/p' "$dir/a.log")
binary_port=$(sed -n 's/.*binary protocol on .* (port \([0-9]*\)),.*/\1/p' "$dir/a.log")
[ -n "$http_port" ] && [ -n "$binary_port" ] || fail "the first server did not say its ports"
grep -qF "eleven serve: opening $dir/a: 65536 order slots, 1000 SKUs, 100 merchants" "$dir/a.log" || fail "no opening line"
grep -qE "eleven serve: opened in [0-9.]+ s; the engine's tables \(and its follower's\) take [0-9.]+ GiB" "$dir/a.log" ||
  fail "no opened line"

# The same HTTP address, then the same binary one: refused at once, nothing opened.
for which in http listen; do
  if [ $which = http ]; then args=(--http "127.0.0.1:$http_port" --listen 127.0.0.1:0); else
    args=(--listen "127.0.0.1:$binary_port" --http 127.0.0.1:0); fi
  "$eleven" serve --data "$dir/b" --config "$dir/config.toml" "${args[@]}" > "$dir/b-$which.log" 2>&1
  status=$?
  [ $status = 1 ] || fail "a second server on the $which address exited $status"
  grep -q "address already in use\|Address already in use" "$dir/b-$which.log" || fail "the $which refusal does not say why"
  grep -q "another process listens there; nothing was opened" "$dir/b-$which.log" || fail "the $which refusal does not say nothing was opened"
  grep -q "opening\|allocating\|recover" "$dir/b-$which.log" && fail "the second server went on to open its data ($which)"
done
kill "$pid"
wait "$pid"
pid=
echo "PASS"
