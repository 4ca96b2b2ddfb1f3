#!/usr/bin/env bash
# Runs the ingest benchmark and prints our throughput as a fraction of Serd's on the same bytes.
# Usage: bench/run_ingest.sh [build-dir]   (single core: taskset -c 0 is applied when available)
set -euo pipefail
build=${1:-build}
out=$(mktemp)
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"
$pin "$build/bench/ingest_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_format=json > "$out"
python3 - "$out" <<'PY'
import json, sys
runs = {b["run_name"].split("/")[0]: b for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("aggregate_name") == "median"}
mb = lambda n: runs[n]["bytes_per_second"] / 1e6
print(f"{'benchmark':18} {'MB/s':>8} {'obs/s':>12} {'msg/s':>10}")
for n in ["BM_SerdRaw", "BM_SerdiProcess", "BM_StreamParser", "BM_Ingest"]:
    r = runs[n]
    obs = r.get("items_per_second", 0)
    msg = r.get("messages_per_s", 0)
    print(f"{n:18} {mb(n):8.1f} {obs:12,.0f} {msg:10,.0f}")
print(f"StreamParser / Serd raw : {mb('BM_StreamParser') / mb('BM_SerdRaw'):.2f}")
print(f"StreamParser / serdi    : {mb('BM_StreamParser') / mb('BM_SerdiProcess'):.2f}")
print(f"Ingest / Serd raw       : {mb('BM_Ingest') / mb('BM_SerdRaw'):.2f}")
print(f"Ingest / serdi          : {mb('BM_Ingest') / mb('BM_SerdiProcess'):.2f}")
PY
rm -f "$out"
