#!/usr/bin/env python3
"""Real clients of /metrics: Debian's `promtool check metrics` accepts the daemon's exposition,
and a real `prometheus` started here scrapes the daemon and answers a query on one of its series.

Run by ctest (prometheus.scrape) with BRICKCAST_BINARY set. Needs Debian's prometheus package
(scripts/install-deps.sh installs it); fails, not skips, without it."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BINARY = os.environ["BRICKCAST_BINARY"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, token=None, timeout=5):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def until(what, fn, timeout):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.25)
    sys.exit(f"FAIL: timed out waiting for {what} ({last})")


def main():
    for tool in ("promtool", "prometheus"):
        if shutil.which(tool) is None:
            sys.exit(f"FAIL: {tool} not found (Debian package prometheus; scripts/install-deps.sh installs it)")
    work = tempfile.mkdtemp(prefix="brickcast-prom-")
    api_port, prom_port = free_port(), free_port()
    token = "metrics-reader"
    with open(os.path.join(work, "model.ttl"), "w") as f:
        f.write("@prefix b: <urn:b#> .\nb:AHU1 a brick:AHU ; brick:hasPoint b:SAT .\n"
                "b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .\n")
    with open(os.path.join(work, "brickcast.json"), "w") as f:
        json.dump({"brick": {"models": ["model.ttl"]}, "forecast": {"model": "none", "workers": 1},
                   "http": {"listen": f"127.0.0.1:{api_port}", "tokens": [{"name": "prometheus", "token": token}]},
                   "log": {"level": "warn"}}, f)
    daemon = subprocess.Popen([BINARY, "serve", "--config", os.path.join(work, "brickcast.json")])
    prom = None
    try:
        base = f"http://127.0.0.1:{api_port}"
        until("the daemon", lambda: get(base + "/healthz"), 30)
        metrics = get(base + "/metrics", token)
        check = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True)
        problems = (check.stdout + check.stderr).strip()
        if check.returncode != 0:
            sys.exit("FAIL: promtool check metrics:\n" + problems)
        print("ok - promtool check metrics passes" + (f" (notes: {problems})" if problems else ""))

        with open(os.path.join(work, "token"), "w") as f:
            f.write(token)
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: brickcast
    authorization:
      credentials_file: {os.path.join(work, "token")}
    static_configs:
      - targets: ["127.0.0.1:{api_port}"]
""")
        prom = subprocess.Popen(["prometheus", "--config.file", os.path.join(work, "prometheus.yml"),
                                 "--storage.tsdb.path", os.path.join(work, "tsdb"),
                                 "--web.listen-address", f"127.0.0.1:{prom_port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        query = f"http://127.0.0.1:{prom_port}/api/v1/query?query=brickcast_rules"

        def answered():
            r = json.loads(get(query))
            return r["data"]["result"] if r["status"] == "success" and r["data"]["result"] else None
        result = until("prometheus to scrape brickcast", answered, 90)
        assert result[0]["metric"]["job"] == "brickcast", result
        print(f"ok - prometheus scraped the daemon and answers brickcast_rules = {result[0]['value'][1]}")
        targets = json.loads(get(f"http://127.0.0.1:{prom_port}/api/v1/targets"))["data"]["activeTargets"]
        assert targets and targets[0]["health"] == "up", targets
        print("ok - the scrape target is up")
    finally:
        for p in (prom, daemon):
            if p is not None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
