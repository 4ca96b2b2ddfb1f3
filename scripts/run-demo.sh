#!/usr/bin/env bash
# Installs what is missing, builds brickcast and runs the demo: the daemon replaying the real
# LBNL FLEXLAB AHU data (SZVAV.csv, converted to Brick Turtle) and serving its API on
# http://127.0.0.1:8080 (try /api/v1/points, /api/v1/points/SAT/forecast, /metrics). Stop with Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs" --target brickcast

data="$root/../shared/data/hvac-faults/SZVAV.csv"
if [ ! -f "$data" ]; then
  echo "run-demo: $data not found; the demo replays the LBNL data set kept beside the checkout" >&2
  exit 1
fi
mkdir -p build/demo
if [ ! -s build/demo/szvav.ttl ] || [ "$data" -nt build/demo/szvav.ttl ] || \
   [ config/mappings/lbnl-szvav.json -nt build/demo/szvav.ttl ]; then
  ./build/brickcast convert --mapping config/mappings/lbnl-szvav.json "$data" -o build/demo/szvav.ttl
fi
echo "run-demo: API on http://127.0.0.1:8080/api/v1/points, forecasts at /api/v1/points/SAT/forecast  (Ctrl-C to stop)"
exec ./build/brickcast serve --config config/demo.json "$@"
