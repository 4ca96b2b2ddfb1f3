#!/usr/bin/env bash
# The API under load (Debian's wrk): requests/s and p99 latency of GET /api/v1/alerts and
# GET /api/v1/points/SAT/forecast on a daemon holding the real SZVAV data (its first half, replayed
# at start through the embedded Kafka broker), first while nothing is ingested (the reference),
# then while the second half (about 7,900 messages) is published to the broker by
# `brickcast replay` and consumed (parse, store, rules and forecasts all run), in the same daemon,
# on the same machine: the figure that matters is the ratio.
# Usage: bench/run_http_load.sh [build-dir] [seconds per run, default 15]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
seconds=${2:-15}
data="$root/../shared/data/hvac-faults/SZVAV.csv"
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
[ -f "$data" ] || { echo "$data not found" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

"$build/brickcast" convert --mapping "$root/config/mappings/lbnl-szvav.json" "$data" -o "$work/all.ttl" 2>/dev/null
python3 - "$work/all.ttl" "$work/first.ttl" "$work/second.ttl" <<'PY'
import sys
sep = "\n# brickcast:message\n"  # the message separator of brickcast convert's output
docs = [d for d in open(sys.argv[1]).read().split(sep) if d.strip()]
half = len(docs) // 2
open(sys.argv[2], "w").write(sep.join(docs[:half]) + "\n")
open(sys.argv[3], "w").write(sep.join(docs[half:]) + "\n")
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/brickcast.json" <<EOF
{"brick": {"models": ["$root/models/brick/lbnl-szvav-ahu.ttl"]},
 "kafka": {"brokers": "embedded", "topics": ["brickcast.observations"], "group_id": "bench",
           "embedded": {"address_file": "$work/kafka.txt"}},
 "replay": {"files": ["$work/first.ttl"], "speed": 0, "target": "kafka"},
 "store": {"step_seconds": 300, "window_steps": 288},
 "rules": ["$root/config/rules"],
 "alerts": {"database": "$work/alerts.db"},
 "http": {"listen": "127.0.0.1:$port", "rate_limit_per_second": 0},
 "log": {"level": "warn"}}
EOF
sat="urn%3Abrickcast%3Albnl-flexlab%23SAT"
urls=("http://127.0.0.1:$port/api/v1/alerts" "http://127.0.0.1:$port/api/v1/points/$sat/forecast")

run() {  # label
  for u in "${urls[@]}"; do
    out=$(wrk -t2 -c16 -d"${seconds}s" --latency "$u")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%-16s %-28s %10s req/s  p99 %s\n' "$1" "${u##*/api/v1/}" "$rps" "$p99" | tee -a "$work/results"
  done
}

"$build/brickcast" serve --config "$work/brickcast.json" &
daemon=$!
for _ in $(seq 1 600); do
  n=$(curl -fsS "http://127.0.0.1:$port/api/v1/forecast" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["forecasts"])' 2>/dev/null || echo 0)
  [ "$n" -gt 0 ] && break
  sleep 1
done
sleep 5  # the first half's replay and its forecasts have settled
run "no ingest"

# The second half through the broker while wrk runs again: 8,000 minutes of data at 16,000x real
# time, about 30 s, so both loaded runs see ingest.
"$build/brickcast" replay --brokers "$(cat "$work/kafka.txt")" --topic brickcast.observations --speed 16000 \
  --group bench "$work/second.ttl" > "$work/feeder.log" 2>&1 &
feeder=$!
run "during ingest"
kill "$feeder" 2>/dev/null || true
wait "$feeder" 2>/dev/null || true
tail -3 "$work/feeder.log"
ingested=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^brickcast_ingest_messages_total/ {s += $2} END {print s}')
kill "$daemon"; wait "$daemon" 2>/dev/null || true
echo "messages ingested: ${ingested:-?} (the first half at start, then the second during the loaded runs)"
python3 - "$work/results" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
ref = {r[2]: float(r[3]) for r in rows if r[0] == "no"}
for r in rows:
    if r[0] == "during":
        print(f"{r[2]:28} during ingest / no ingest: {float(r[3]) / ref[r[2]]:.2f} of the requests/s")
PY
