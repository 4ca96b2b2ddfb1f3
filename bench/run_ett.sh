#!/usr/bin/env bash
# ETT accuracy with the TimeMixer paper protocol (input 96, horizon 96, the standard 12/4/4-month
# split, StandardScaler fitted on train, MSE/MAE on scaled values over every test window).
# Trains on ETTh1 and ETTh2 with bench/configs/etth1_96.json and prints the table next to the
# paper's figures. Not run by CI: ~12 min per data set on 2 cores.
# Usage: bench/run_ett.sh [build-dir]
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/../shared/data/forecasting"
out="$build/ett"
mkdir -p "$out"
for set in ETTh1 ETTh2; do
  "$build/brickcast" train --data "$data/$set.csv" --config "$root/bench/configs/etth1_96.json" \
    --out "$out/${set}_96.model" 2> "$out/${set}_96.log"
  "$build/brickcast" evaluate --model "$out/${set}_96.model" --data "$data/$set.csv" --json > "$out/${set}_96.json"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
paper = {"ETTh1": (0.375, 0.400), "ETTh2": (0.289, 0.341)}
print(f"{'data set (input 96, horizon 96)':34} {'MSE':>7} {'MAE':>7}   {'paper MSE':>9} {'paper MAE':>9}")
for s in ["ETTh1", "ETTh2"]:
    r = json.load(open(f"{out}/{s}_96.json"))
    print(f"{s + ' (' + str(r['windows']) + ' test windows)':34} {r['mse']:7.3f} {r['mae']:7.3f}   {paper[s][0]:9.3f} {paper[s][1]:9.3f}")
PY
