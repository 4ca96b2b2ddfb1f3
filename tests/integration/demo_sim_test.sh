#!/usr/bin/env bash
# The demo in a clone without ../shared/data beside it: scripts/run-demo.sh falls back to the
# simulated AHU with injected faults, replays it through the embedded Kafka broker, and the daemon
# raises the faults' alerts. The clone is a copy of scripts/, config/ and models/ in a temporary
# directory (so nothing of ../shared is reachable), with build/brickcast linked to the built one;
# only its copy of the demo config is changed, to listen on a free port. Nothing waits on the wall
# clock: the test reads the demo's log until the API listens, then follows the alerts' event
# stream (GET /api/v1/events) until the expected ones have fired.
#   demo_sim_test.sh <brickcast binary> <source dir>
set -euo pipefail
bin=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
clone="$work/clone"
mkdir -p "$clone/build"
cp -r "$src/scripts" "$src/config" "$src/models" "$clone/"
ln -s "$bin" "$clone/build/brickcast"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/127.0.0.1:8080/127.0.0.1:$port/" "$clone/config/demo-sim.json"

# Two simulated days hold the first two faults: Monday's mixed air sensor reading 4 K low (G36
# FC8 in free cooling) and Tuesday afternoon's cooling valve stuck shut (FC13).
CLONE="$clone" PORT="$port" python3 - <<'EOF'
import json, os, signal, subprocess, sys, threading, time, urllib.request

clone, port = os.environ["CLONE"], os.environ["PORT"]
base = f"http://127.0.0.1:{port}"
want = {"g36-fc8", "g36-fc13"}
env = dict(os.environ, BRICKCAST_SIM_DAYS="2", OPENBLAS_NUM_THREADS="1")
demo = subprocess.Popen([os.path.join(clone, "scripts", "run-demo.sh"), "--no-build", "--speed", "0"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", env=env,
                        start_new_session=True)
log, listening = [], threading.Event()

def read():
    for line in demo.stdout:
        log.append(line)
        if "listening on" in line:
            listening.set()
    listening.set()  # the demo ended: nothing more to wait for

threading.Thread(target=read, daemon=True).start()

def fail(why):
    print("FAIL:", why)
    print("".join(log[-50:]))
    sys.exit(1)

def fired():
    with urllib.request.urlopen(base + "/api/v1/alerts?state=all&limit=100", timeout=10) as r:
        return {a["rule"] for a in json.load(r)["alerts"] if a.get("starts_at")}

try:
    if not listening.wait(120) or demo.poll() is not None:
        fail("the demo's API did not come up")
    if not any("not found: simulating an AHU" in l for l in log):
        fail("the demo did not say it simulates")
    deadline = time.monotonic() + 240
    seen = fired()
    # Each alert event (or the stream's one-second heartbeat) is a moment to look again.
    with urllib.request.urlopen(base + "/api/v1/events?types=alert&heartbeat=1", timeout=30) as stream:
        while not want <= seen:
            if time.monotonic() > deadline:
                fail(f"no alert of {sorted(want - seen)} within 240 s (fired: {sorted(seen)})")
            if demo.poll() is not None:
                fail("the demo exited")
            stream.readline()
            seen = fired()
    print("demo without shared data: alerts fired:", " ".join(sorted(seen)))
finally:
    os.killpg(demo.pid, signal.SIGTERM)
    try:
        demo.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(demo.pid, signal.SIGKILL)
EOF
