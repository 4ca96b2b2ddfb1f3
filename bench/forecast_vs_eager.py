#!/usr/bin/python3
"""Our TimeMixer forward against PyTorch eager on the same weights, side by side in one run.

Saves the benchmark model (build/bench/forecast_bench --save_model), checks that the eager
reference (bench/timemixer_eager.py) gives our outputs on it, then alternates the two, PAIRS
times: eager at batch 1, 8, 64, 256 on 1 and 2 threads, then BM_Forecast (the inference plan) and
BM_ForecastModules (the LibTorch modules it replaced) at the same settings. Prints the median
windows/s of each, the ratios ours / eager and plan / modules, and the GEMM ceiling of the run.
OpenBLAS single-threaded for both (OPENBLAS_NUM_THREADS=1), as in the product.

Run: bench/forecast_vs_eager.py [BUILD_DIR] [PAIRS]   (needs Debian's python3-torch)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build")
PAIRS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
BENCH = os.path.join(BUILD, "bench", "forecast_bench")
EAGER = os.path.join(HERE, "timemixer_eager.py")
BATCHES, THREADS = [1, 8, 64, 256], [1, 2]
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="2")


def eager(model, threads):
    out = subprocess.run(["/usr/bin/python3", EAGER, model, "--time", ",".join(map(str, BATCHES)), str(threads), "1"],
                         env=ENV, check=True, capture_output=True, text=True).stdout
    return {int(k): v for k, v in json.loads(out).items()}


def ours():
    out = subprocess.run([BENCH, "--benchmark_filter=BM_Forecast|BM_Matmul/threads:1", "--benchmark_format=json",
                          "--benchmark_min_time=1"], env=ENV, check=True, capture_output=True, text=True).stdout
    got = {}
    for b in json.loads(out)["benchmarks"]:
        name = b["name"]
        if name.startswith("BM_Matmul"):
            got["gemm"] = b["GFLOP_per_s"]
            continue
        kind = "modules" if name.startswith("BM_ForecastModules") else "plan"
        batch = int(name.split("batch:")[1].split("/")[0])
        threads = int(name.split("threads:")[1].split("/")[0])
        got[(kind, batch, threads)] = b["windows_per_s"]
        got[("gflops", kind, batch, threads)] = b["GFLOP_per_s"]
    return got


def main():
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "etth1.model")
        subprocess.run([BENCH, f"--save_model={model}"], env=ENV, check=True)
        check = json.loads(subprocess.run(["/usr/bin/python3", EAGER, model, "--check", model + ".x.bin",
                                           model + ".y.bin", "8"], env=ENV, check=True, capture_output=True,
                                          text=True).stdout)
        print(f"same network: max |ours - eager| = {check['max_abs_diff']:.2g} (batch 8)")
        if check["max_abs_diff"] > 1e-4:
            raise SystemExit("the eager reference does not compute our network")
        runs_eager, runs_ours = [], []
        for pair in range(PAIRS):
            runs_eager.append({t: eager(model, t) for t in THREADS})
            runs_ours.append(ours())
            print(f"pair {pair + 1}/{PAIRS} done", file=sys.stderr)
    med = lambda values: statistics.median(values)
    gemm = med([r["gemm"] for r in runs_ours])
    print(f"\nmedians of {PAIRS} alternating pairs; GEMM ceiling (1024^2 matmul, 1 thread) {gemm:.0f} GFLOP/s\n")
    print("| batch | threads | plan windows/s | modules windows/s | eager windows/s | plan / eager | plan / modules | plan % of GEMM |")
    print("|---|---|---|---|---|---|---|---|")
    for t in THREADS:
        for b in BATCHES:
            plan = med([r[("plan", b, t)] for r in runs_ours])
            modules = med([r[("modules", b, t)] for r in runs_ours])
            ref = med([r[t][b] for r in runs_eager])
            gflops = med([r[("gflops", "plan", b, t)] for r in runs_ours])
            extra = f" ({1000 / plan:.2f} ms)" if b == 1 else ""
            print(f"| {b} | {t} | {plan:,.0f}{extra} | {modules:,.0f} | {ref:,.0f} | {plan / ref:.2f} | "
                  f"{plan / modules:.2f} | {100 * gflops / gemm:.0f} |")


if __name__ == "__main__":
    main()
