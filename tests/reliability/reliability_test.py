#!/usr/bin/env python3
"""Reliability suite: the real `brickcast serve` under faults it must survive or refuse clearly.

  corrupt-db     a corrupt state database at start: a clear error naming the file, exit 1, the
                 file kept as it was (never a silent reset)
  bad-model      a truncated model file at reload: 422 with the reason, the running model kept,
                 /metrics and /api/v1/status report the failure, /readyz stays ready; once the file
                 is whole again a reload applies it
  flood          a flood of malformed messages (the fuzz corpus, cut and bit-flipped, deterministic):
                 each answered 200 or 400, the daemon stays up, /metrics counts the rejections, a
                 good message afterwards is accepted, and the log does not get a line per message
  full-disk      the state disk full (a file-size limit on the daemon): alert writes fail, the
                 daemon stays up and says so in /readyz and /metrics, and recovers once writes
                 succeed again

Run: tests/reliability/reliability_test.py [scenario...]   (one command: every scenario by default,
on build/brickcast unless BRICKCAST_BINARY names another; ctest runs them as `reliability.suite`)."""
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SOURCE = os.environ.get("BRICKCAST_SOURCE_DIR",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BINARY = os.environ.get("BRICKCAST_BINARY", os.path.join(SOURCE, "build", "brickcast"))
ADMIN = "reliability-admin"

MODEL_TTL = """@prefix b: <urn:b#> .
b:AHU1 a brick:AHU ; brick:hasPoint b:SAT .
b:SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .
"""
RULES = [{"id": "sat-high", "kind": "threshold", "applies_to": "AHU", "limit": 30,
          "inputs": {"SAT": "Supply_Air_Temperature_Sensor"}}]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, method="GET", body=None, content_type="application/json", timeout=10):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": "Bearer " + ADMIN, "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("  ok -", what)


def metric(base, name):
    _, text = request(base + "/metrics")
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


class Daemon:
    """A daemon in its own directory, with a small Brick model, one threshold rule and a SQLite
    alert database; `extra` merges into the config."""

    def __init__(self, work, extra=None, preexec=None):
        self.work, self.port = work, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        with open(os.path.join(work, "model.ttl"), "w") as f:
            f.write(MODEL_TTL)
        with open(os.path.join(work, "rules.json"), "w") as f:
            json.dump({"rules": RULES}, f)
        config = {"brick": {"models": ["model.ttl"]}, "rules": ["rules.json"],
                  "forecast": {"model": "none", "workers": 1},
                  "alerts": {"database": "alerts.db"},
                  "http": {"listen": f"127.0.0.1:{self.port}", "tokens": [{"name": "admin", "token": ADMIN, "scope": "admin"}]},
                  "log": {"level": "info"}}
        for k, v in (extra or {}).items():
            config[k] = {**config.get(k, {}), **v} if isinstance(v, dict) else v
        if "rate_limit_per_second" in config["http"]:
            config["http"]["rate_limit_burst"] = 1
        self.config = os.path.join(work, "brickcast.json")
        with open(self.config, "w") as f:
            json.dump(config, f)
        self.lines = []
        self.listening = threading.Event()
        self.proc = subprocess.Popen([BINARY, "serve", "--config", self.config], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace", preexec_fn=preexec)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        # The daemon's log, line by line as it writes it; "http listening on" says the API is up.
        with open(os.path.join(self.work, "daemon.log"), "w") as copy:
            for line in self.proc.stdout:
                self.lines.append(line)
                copy.write(line)
                copy.flush()
                if "listening on" in line:
                    self.listening.set()

    def ready(self):
        if not self.listening.wait(30):
            raise AssertionError("the daemon did not start listening: " + self.output()[-300:])
        return self

    def alive(self):
        return self.proc.poll() is None

    def output(self):
        return "".join(self.lines)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(10)


def sat_message(minute, value):
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_790_000_000 + 60 * minute))
    return (f'<urn:b#SAT> <https://brickschema.org/schema/Brick#lastKnownValue> '
            f'[ <https://brickschema.org/schema/Brick#value> "{value}"^^<http://www.w3.org/2001/XMLSchema#double> ; '
            f'<https://brickschema.org/schema/Brick#timestamp> "{t}"^^<http://www.w3.org/2001/XMLSchema#dateTime> ] .\n')


def corrupt_db(work):
    db = os.path.join(work, "alerts.db")
    garbage = b"SQLite format 3\x00" + bytes(random.Random(7).randrange(256) for _ in range(8192))
    with open(db, "wb") as f:
        f.write(garbage)
    d = Daemon(work)
    try:
        code = d.proc.wait(30)
    except subprocess.TimeoutExpired:
        d.stop()
        raise AssertionError("the daemon started on a corrupt database")
    d.stop()
    out = d.output()
    check(code != 0, f"the daemon refuses to start (exit {code})")
    check("alerts.db" in out, "the error names the database file: " + out.strip().splitlines()[-1][:160])
    with open(db, "rb") as f:
        check(f.read() == garbage, "the corrupt file is kept as it was")


def bad_model(work):
    model = os.path.join(work, "hvac.model")
    shutil.copy(os.path.join(SOURCE, "models", "hvac-5min.model"), model)
    d = Daemon(work, {"forecast": {"model": "hvac.model", "workers": 1}}).ready()
    try:
        with open(model, "rb") as f:
            whole = f.read()
        with open(model, "wb") as f:
            f.write(whole[: len(whole) // 2])
        status, body = request(d.base + "/api/v1/reload", "POST", "{}")
        check(status == 422, f"a reload with a truncated model answers 422 ({status}): {body[:160]}")
        check(d.alive(), "the daemon is still running")
        check(metric(d.base, "brickcast_reload_failures_total") == 1, "brickcast_reload_failures_total 1")
        _, st = request(d.base + "/api/v1/status")
        check("hvac.model" in st, "/api/v1/status keeps the last error, naming the file")
        check(request(d.base + "/readyz")[0] == 200, "/readyz: still ready on the running model")
        with open(model, "wb") as f:
            f.write(whole)
        status, body = request(d.base + "/api/v1/reload", "POST", "{}")
        check(status == 200, f"with the file whole again the reload applies ({status})")
    finally:
        d.stop()


def flood(work):
    rng = random.Random(2026)
    seeds = []
    corpus = os.path.join(SOURCE, "fuzz", "corpus", "stream_parser")
    for name in sorted(os.listdir(corpus)):
        with open(os.path.join(corpus, name), "rb") as f:
            seeds.append(f.read())
    d = Daemon(work, {"http": {"rate_limit_per_second": 0}}).ready()  # a flood, not a client to slow down
    try:
        answers = {}
        for i in range(1500):
            m = bytearray(rng.choice(seeds))
            m = m[: rng.randrange(1, len(m) + 1)]  # cut
            for _ in range(rng.randrange(0, 8)):  # and flip a few bytes
                m[rng.randrange(len(m))] = rng.randrange(256)
            status, _ = request(d.base + "/api/v1/observations", "POST", bytes(m), "text/turtle")
            answers[status] = answers.get(status, 0) + 1
        check(set(answers) <= {200, 400}, f"every malformed message is answered 200 or 400: {answers}")
        check(d.alive(), "the daemon is still running after 1,500 malformed messages")
        rejected = metric(d.base, "brickcast_ingest_errors_total") or metric(d.base, "brickcast_observations_rejected_total")
        check(rejected is not None and rejected > 0, f"/metrics counts the rejections ({rejected})")
        status, body = request(d.base + "/api/v1/observations", "POST", sat_message(0, 21.5), "text/turtle")
        check(status == 200 and json.loads(body)["accepted"] == 1, "a good message afterwards is accepted")
        logged = d.output().count("ingest rejected")
        check(logged < 100, f"the log does not get a line per rejected message ({logged} lines)")
    finally:
        d.stop()


def full_disk(work):
    # Room for the database as created, not for what the alerts will add: SQLite's writes then
    # fail with EFBIG (SIGXFSZ ignored, as a full disk fails them with ENOSPC).
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, resource.RLIM_INFINITY))
    d = Daemon(work, preexec=limit).ready()
    try:
        base_errors = metric(d.base, "brickcast_alert_store_errors_total") or 0
        minute = 0
        # Enough alert transitions to fill the database's quarter megabyte.
        for cycle in range(400):
            for value in (35.0, 35.0, 20.0, 20.0):
                minute += 5
                request(d.base + "/api/v1/observations", "POST", sat_message(minute, value), "text/turtle")
            if (metric(d.base, "brickcast_alert_store_errors_total") or 0) > base_errors:
                break
        check(d.alive(), "the daemon is still running with its state disk full")
        errors = metric(d.base, "brickcast_alert_store_errors_total")
        check(errors is not None and errors > base_errors, f"/metrics counts the failed writes ({errors})")
        status, body = request(d.base + "/readyz")
        check(status == 503 and "alert database" in body, f"/readyz says the alert database fails: {status} {body[:160]}")
        check(metric(d.base, "brickcast_alert_store_up") == 0, "brickcast_alert_store_up 0")
        # The disk has room again: the next write succeeds, the unsaved alerts are saved, ready.
        resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        for value in (35.0, 35.0, 20.0, 20.0):
            minute += 5
            request(d.base + "/api/v1/observations", "POST", sat_message(minute, value), "text/turtle")
        check(request(d.base + "/readyz")[0] == 200, "/readyz: ready again once writes succeed")
        check(metric(d.base, "brickcast_alert_store_up") == 1, "brickcast_alert_store_up 1")
        _, before = request(d.base + "/api/v1/alerts?state=all")
        before = {a["id"]: a["state"] for a in json.loads(before)["alerts"]}
        check(before, f"the alert is listed: {before}")
    finally:
        d.stop()
    # What was saved after the recovery is what a restart finds.
    again = Daemon(work).ready()
    try:
        _, after = request(again.base + "/api/v1/alerts?state=all")
        after = {a["id"]: a["state"] for a in json.loads(after)["alerts"]}
        check(after == before, f"after a restart the alerts are as they were: {after}")
    finally:
        again.stop()


SCENARIOS = {"corrupt-db": corrupt_db, "bad-model": bad_model, "flood": flood, "full-disk": full_disk}


def main():
    names = sys.argv[1:] or list(SCENARIOS)
    failed = []
    for name in names:
        work = tempfile.mkdtemp(prefix=f"brickcast-rel-{name}-")
        print(f"{name}:")
        try:
            SCENARIOS[name](work)
        except AssertionError as e:
            print(f"  FAIL - {e}")
            with open(os.path.join(work, "daemon.log")) as f:
                print("  daemon log (tail):\n" + "".join(f.readlines()[-20:]))
            failed.append(name)
        finally:
            if name not in failed:
                shutil.rmtree(work, ignore_errors=True)
    if failed:
        sys.exit("FAIL: " + ", ".join(failed))
    print("all scenarios passed")


if __name__ == "__main__":
    main()
