#!/usr/bin/env bash
# The demo in a clone without ../shared/data beside it: scripts/run-demo.sh falls back to the
# simulated AHU with injected faults, replays it through the embedded Kafka broker, and the daemon
# raises the faults' alerts. The clone is a copy of scripts/, config/ and models/ in a temporary
# directory (so nothing of ../shared is reachable), with build/brickcast linked to the built one;
# only its copy of the demo config is changed, to listen on a free port.
#   demo_sim_test.sh <brickcast binary> <source dir>
set -euo pipefail
bin=$1 src=$2
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
clone="$work/clone"
mkdir -p "$clone/build"
cp -r "$src/scripts" "$src/config" "$src/models" "$clone/"
ln -s "$bin" "$clone/build/brickcast"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/127.0.0.1:8080/127.0.0.1:$port/" "$clone/config/demo-sim.json"

# Two simulated days hold the first two faults: Monday's mixed air sensor reading 4 K low (G36
# FC8 in free cooling) and Tuesday afternoon's cooling valve stuck shut (FC13).
BRICKCAST_SIM_DAYS=2 OPENBLAS_NUM_THREADS=1 "$clone/scripts/run-demo.sh" --no-build --speed 0 > "$work/demo.log" 2>&1 &
pid=$!
grep_log() { grep -q "$1" "$work/demo.log"; }

want="g36-fc8 g36-fc13"
deadline=$((SECONDS + 240))
fired=
while [ $SECONDS -lt $deadline ]; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: the demo exited"; cat "$work/demo.log"; exit 1
  fi
  alerts=$(curl -sf "http://127.0.0.1:$port/api/v1/alerts?limit=100" || true)
  fired=$(printf '%s' "$alerts" | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
print(" ".join(sorted({a["rule"] for a in d.get("alerts", []) if a.get("starts_at")})))')
  missing=
  for rule in $want; do
    case " $fired " in *" $rule "*) ;; *) missing="$missing $rule" ;; esac
  done
  if [ -z "$missing" ]; then break; fi
  sleep 1
done
grep_log "not found: simulating an AHU" || { echo "FAIL: the demo did not say it simulates"; cat "$work/demo.log"; exit 1; }
if [ -n "$missing" ]; then
  echo "FAIL: no alert of$missing within 240 s (fired: ${fired:-none})"
  tail -50 "$work/demo.log"
  exit 1
fi
echo "demo without shared data: alerts fired: $fired"
