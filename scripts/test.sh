#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite.
# Usage: scripts/test.sh            (from the repository root or anywhere)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh
# The browser test's driver, at the version its lock file pins (no browser is downloaded: it runs
# Debian's chromium).
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBRICKCAST_BUILD_TESTS=ON -DBRICKCAST_BUILD_BENCH=ON
cmake --build build -j "$jobs"
if [ ! -d ../shared/data ]; then
  echo "note: ../shared/data is absent; tests that need the real data sets will be skipped" >&2
fi
cd build
ctest --output-on-failure -j "$jobs" --timeout 600
cd "$root"
# The libFuzzer targets under ASan/UBSan (clang build in build-fuzz): past crashes replayed, then
# 30 s of fuzzing per target from the committed corpus.
bash scripts/fuzz.sh 30
