#!/usr/bin/env bash
# Installs the Debian bookworm packages brickcast needs to build, test and run.
# Idempotent: packages already present are not reinstalled and apt is not touched
# when nothing is missing. Works as root or through sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libtorch-dev libopenblas0-pthread
  librdkafka-dev kcat
  libcpp-httplib-dev nlohmann-json3-dev
  libserd-dev serdi
  libspdlog-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcurl4-openssl-dev libsqlite3-dev libsystemd-dev
  python3 tzdata
  chromium            # the dashboard's browser test (headless)
  prometheus          # promtool and a real scraper for the /metrics tests
  openssl             # certificates for the TLS tests
  python3-aiosmtpd    # a real SMTP server (STARTTLS, AUTH) for the email notifier tests
  prometheus-alertmanager  # a real Alertmanager receiving pushed alerts in the notifier tests
  clang-14 libclang-rt-14-dev  # the libFuzzer targets (fuzz/, scripts/fuzz.sh)
  libfaketime         # steps the wall clock of a running daemon (reliability suite, clock-step)
)
# Node.js and npm run the browser test's driver (playwright-core, tests/browser). A machine that
# has them from elsewhere (nodesource) keeps its own.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
