#!/bin/sh
# Builds one libFuzzer target with clang++-14 (ASan + UBSan) and runs it.
#   fuzz/run_fuzz.sh <frame|json|packed> <build dir> <seconds>
# ELEVEN_LONG=1 runs 10 minutes instead. Exits 77 (ctest: skipped) if clang++-14 is missing.
set -eu
target=$1
out=$2
seconds=$3
[ "${ELEVEN_LONG:-0}" = 1 ] && seconds=600
src=$(cd "$(dirname "$0")/.." && pwd)
clang=$(command -v clang++-14 || true)
if [ -z "$clang" ]; then
  echo "SKIPPED: clang++-14 not found; the $target fuzz target was not built or run" >&2
  exit 77
fi
mkdir -p "$out/corpus-$target"
case $target in
  frame) sources="fuzz/frame_fuzz.cc src/client/protocol.cc src/client/keys.cc"; libs="-lcrypto" ;;
  json)  sources="fuzz/json_fuzz.cc src/server/json_decode.cc src/wire/access.cc src/wire/fulfilment.cc src/wire/country.cc"; libs="-lsimdjson"
         cp -n "$src"/fuzz/corpus/json/* "$out/corpus-$target/" 2>/dev/null || true ;;
  packed) sources="fuzz/packed_fuzz.cc src/wire/packed.cc"; libs="" ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
binary="$out/${target}_fuzz"
# Rebuild only when a source is newer than the binary.
rebuild=0
[ -x "$binary" ] || rebuild=1
for f in $sources src/wire/codes.cc src/wire/records.cc src/base/assert.cc; do
  [ "$src/$f" -nt "$binary" ] && rebuild=1
done
if [ $rebuild = 1 ]; then
  (cd "$src" && "$clang" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     -Isrc $sources src/wire/codes.cc src/wire/records.cc src/base/assert.cc $libs -o "$binary")
fi
echo "running $target fuzzer for $seconds s"
status=0
"$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$out/" "$out/corpus-$target" > "$out/$target.log" 2>&1 || status=$?
tail -n 30 "$out/$target.log"
exit $status
