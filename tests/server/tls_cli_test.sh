#!/bin/bash
# `eleven serve` with a [tls] table it cannot use refuses to start, exit status 1, with one
# message naming the key and the file (a missing file, a file that is no certificate, a key
# that does not match the certificate), and creates nothing; with good files it serves
# /healthz over https. Usage: tls_cli_test.sh ELEVEN SOURCE_DIR
set -u
eleven=$1
source_dir=$2
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/serve.log" ] && cat "$dir/serve.log"; exit 1; }

"$source_dir/bench/tls/certs" "$dir/tls" || fail "bench/tls/certs"
# Refused: each [tls] below, and what the message must say.
check_refused() {
  local name=$1 cert=$2 key=$3 expect=$4
  printf '[server]\nlisten = "127.0.0.1:0"\nhttp = "127.0.0.1:0"\n[tls]\ncert_file = "%s"\nkey_file = "%s"\n' \
    "$cert" "$key" >"$dir/$name.toml"
  "$eleven" serve --data "$dir/data-$name" --config "$dir/$name.toml" >"$dir/serve.log" 2>&1
  local status=$?
  [ "$status" = 1 ] || fail "$name: exit status $status, expected 1"
  grep -qF -- "$expect" "$dir/serve.log" || fail "$name: no '$expect' in the output"
  [ ! -e "$dir/data-$name" ] || fail "$name: the data directory was created"
}
check_refused missing "$dir/tls/nothing.pem" "$dir/tls/server.key" \
  "tls.cert_file $dir/tls/nothing.pem: No such file or directory"
check_refused not_a_cert "$dir/tls/server.key" "$dir/tls/server.key" \
  "tls.cert_file $dir/tls/server.key: not a PEM certificate"
check_refused mismatch "$dir/tls/server.pem" "$dir/tls/ca.key" \
  "tls.key_file $dir/tls/ca.key: does not match the certificate in tls.cert_file $dir/tls/server.pem"

# Good files: the server starts and answers over https (and not over plain http).
port=$((20000 + RANDOM % 20000))
printf '[server]\nlisten = "127.0.0.1:0"\nhttp = "127.0.0.1:%s"\n[engine]\nmerchants_max = 1000\nskus_max = 10000\norder_slots = 65536\nholdings_max = 4096\n' \
  "$port" >"$dir/good.toml"
cat "$dir/tls/tls.toml" >>"$dir/good.toml"
"$eleven" format --data "$dir/data" --config "$dir/good.toml" >/dev/null 2>&1 || fail "format"
"$eleven" serve --data "$dir/data" --config "$dir/good.toml" >"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -s --cacert "$dir/tls/ca.pem" -o /dev/null https://127.0.0.1:$port/healthz && break
  sleep 0.1
done
code=$(curl -s --cacert "$dir/tls/ca.pem" -o /dev/null -w '%{http_code}' https://127.0.0.1:$port/healthz)
[ "$code" = 200 ] || fail "https /healthz answered $code"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/healthz)
[ "$code" = 000 ] || fail "plain http /healthz on the TLS port answered $code"
echo PASS
