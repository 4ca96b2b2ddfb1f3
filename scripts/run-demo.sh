#!/usr/bin/env bash
# Installs what is missing, builds brickcast and runs the demo, serving the API and dashboard on
# http://127.0.0.1:8080 (try /api/v1/alerts, /api/v1/points/SAT/forecast, /metrics). Stop with Ctrl-C.
#
# With ../shared/data beside the checkout: the real LBNL FLEXLAB AHU data (SZVAV.csv, converted to
# Brick Turtle) replayed through the embedded Kafka broker (config/demo.json). Without it (a fresh
# clone): a simulated AHU with three VAV zones and five injected faults, `brickcast simulate
# --scenario demo` (config/demo-sim.json).
#
#   scripts/run-demo.sh [--simulate] [--email] [--no-build] [serve options, e.g. --speed 0]
#     --simulate   the simulated system even where the LBNL data is present
#     --email      the simulated system, its alerts mailed to an SMTP server on 127.0.0.1:8025
#                  (config/demo-sim-email.json; e.g. python3 -m aiosmtpd -n -l 127.0.0.1:8025)
#     --no-build   use build/brickcast as it is (no apt-get, no build)
#   BRICKCAST_SIM_DAYS  simulated days (default 7)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

simulate=0 build=1 config=config/demo-sim.json
while [ $# -gt 0 ]; do
  case "$1" in
    --simulate) simulate=1; shift ;;
    --email) simulate=1; config=config/demo-sim-email.json; shift ;;
    --no-build) build=0; shift ;;
    *) break ;;
  esac
done

if [ "$build" = 1 ]; then
  bash scripts/install-deps.sh
  jobs=$(nproc 2>/dev/null || echo 2)
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build build -j "$jobs" --target brickcast
fi

data="$root/../shared/data/hvac-faults/SZVAV.csv"
if [ "$simulate" = 0 ] && [ -f "$data" ]; then
  mkdir -p build/demo
  if [ ! -s build/demo/szvav.ttl ] || [ "$data" -nt build/demo/szvav.ttl ] || \
     [ config/mappings/lbnl-szvav.json -nt build/demo/szvav.ttl ]; then
    ./build/brickcast convert --mapping config/mappings/lbnl-szvav.json "$data" -o build/demo/szvav.ttl
  fi
  # The replay starts again from its first day each run: so does the alert database (a kept one
  # would hold the last run's alerts, judged at later data times, and the new run would change none).
  rm -f build/demo/alerts.db build/demo/alerts.db-wal build/demo/alerts.db-shm
  echo "run-demo: replaying the LBNL FLEXLAB AHU; API and dashboard on http://127.0.0.1:8080 (Ctrl-C to stop)"
  exec ./build/brickcast serve --config config/demo.json "$@"
fi

[ "$simulate" = 1 ] || echo "run-demo: $data not found: simulating an AHU with injected faults instead"
days=${BRICKCAST_SIM_DAYS:-7}
mkdir -p build/demo/sim
# A fresh simulation each run (a second or two): the alert database starts empty with it, since
# the replay starts again from Monday.
./build/brickcast simulate --scenario demo --days "$days" -o build/demo/sim/messages.ttl \
  --model-out build/demo/sim/model.ttl
rm -f build/demo/sim/alerts.db build/demo/sim/alerts.db-wal build/demo/sim/alerts.db-shm
echo "run-demo: replaying $days simulated days at 600x; API and dashboard on http://127.0.0.1:8080 (Ctrl-C to stop)"
exec ./build/brickcast serve --config "$config" "$@"
