#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang under AddressSanitizer and UBSan in build-fuzz,
# replays each target's committed crash reproducers (fuzz/crashes/<target>/: every crash ever
# found stays a regression test), then fuzzes each target for a time budget from its committed
# corpus (fuzz/corpus/<target>/). New inputs go to build-fuzz/corpus/<target>; a crash fails the
# run and leaves its reproducer in build-fuzz/crashes/<target>/ (commit it to fuzz/crashes/).
# Usage: scripts/fuzz.sh [seconds per target, default 30]   (scripts/test.sh runs it with 30)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
budget=${1:-30}
jobs=$(nproc 2>/dev/null || echo 2)
CC=clang-14 CXX=clang++-14 cmake -S fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=Debug > /dev/null
cmake --build build-fuzz -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
for target in stream_parser config rules json_observations ttl_roundtrip; do
  bin=build-fuzz/fuzz_$target
  if compgen -G "fuzz/crashes/$target/*" > /dev/null; then
    echo "fuzz: $target: replaying $(ls fuzz/crashes/$target | wc -l) past crash inputs"
    "$bin" fuzz/crashes/$target/* > "build-fuzz/$target-regressions.log" 2>&1 ||
      { cat "build-fuzz/$target-regressions.log"; echo "fuzz: $target: a past crash is back" >&2; exit 1; }
  fi
  mkdir -p "build-fuzz/corpus/$target" "build-fuzz/crashes/$target"
  dict=()
  [ -f "fuzz/$target.dict" ] && dict=("-dict=fuzz/$target.dict")
  echo "fuzz: $target for ${budget}s"
  if ! "$bin" -max_total_time="$budget" -timeout=10 -rss_limit_mb=2048 -max_len=65536 "${dict[@]}" \
       -artifact_prefix="build-fuzz/crashes/$target/" -print_final_stats=1 \
       "build-fuzz/corpus/$target" "fuzz/corpus/$target" > "build-fuzz/$target.log" 2>&1; then
    tail -60 "build-fuzz/$target.log"
    echo "fuzz: $target crashed; reproducer in build-fuzz/crashes/$target/" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "build-fuzz/$target.log" | tr '\n' ' '
  echo
done
