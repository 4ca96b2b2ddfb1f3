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
  smtp-outage    the mail server down when an alert fires: retried, reported in /metrics and
                 /api/v1/receivers, delivered exactly once when it is back
  broker-outage  the broker down under a consuming daemon while data is published: the daemon stays
                 up, /readyz and /metrics say so, it resumes by itself and alerts on what was
                 published meanwhile; SIGTERM during an outage ends within the grace
  clock-step     the wall clock stepped back an hour and forward two under a running daemon
                 (libfaketime): it stays up, counts the steps, its notification timers follow
  scale-out      three instances in one group with the alert changelog: partitions spread, one
                 killed with SIGKILL mid-stream and restarted; every episode notified firing and
                 resolved, none twice, each alert held by one instance
  kill9          kill -9 of the daemon at 20 random points while it consumes from a broker that
                 outlives it (`brickcast broker`) and notifies a webhook: nothing lost from the store,
                 the alert history or the notifications, nothing told twice
  full-disk      the state disk full (a file-size limit on the daemon): alert writes fail, the
                 daemon stays up and says so in /readyz and /metrics, and recovers once writes
                 succeed again

Run: tests/reliability/reliability_test.py [scenario...]   (one command: every scenario by default,
on build/brickcast unless BRICKCAST_BINARY names another; ctest runs them as `reliability.suite`)."""
import http.server
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

    def __init__(self, work, extra=None, preexec=None, port=None, model=MODEL_TTL, rules=None, env=None):
        self.work, self.port = work, port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        with open(os.path.join(work, "model.ttl"), "w") as f:
            f.write(model)
        with open(os.path.join(work, "rules.json"), "w") as f:
            json.dump({"rules": rules or RULES}, f)
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
        self.logged = threading.Condition()  # notified at every line
        self.listening = threading.Event()
        self.assigned = threading.Event()  # Kafka partitions assigned
        self.log = open(os.path.join(work, "daemon.log"), "a")
        self.proc = subprocess.Popen([BINARY, "serve", "--config", self.config], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace", preexec_fn=preexec,
                                     env={**os.environ, **(env or {})})
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        # The daemon's log, line by line as it writes it; "http listening on" says the API is up.
        with self.log as copy:  # appended to: a scenario may start several daemons in turn
            for line in self.proc.stdout:
                with self.logged:
                    self.lines.append(line)
                    self.logged.notify_all()
                copy.write(line)
                copy.flush()
                if "listening on" in line:
                    self.listening.set()
                if "kafka assigned partitions" in line:
                    self.assigned.set()

    def ready(self):
        if not self.listening.wait(30):
            raise AssertionError("the daemon did not start listening: " + self.output()[-300:])
        return self

    def wait_log(self, *parts, timeout=60):
        """Waits until a line of the log holds every one of `parts`; returns it (None on timeout)."""
        found = lambda: next((l for l in self.lines if all(p in l for p in parts)), None)
        with self.logged:
            self.logged.wait_for(lambda: found() is not None or not self.alive(), timeout)
            return found()

    def alive(self):
        return self.proc.poll() is None

    def output(self):
        return "".join(self.lines)

    def kill(self):
        self.proc.kill()  # SIGKILL: no shutdown code runs
        self.proc.wait()
        self.reader.join(10)

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
        # The rules take the posted observations from their own queue: wait until they have closed
        # every step posted (one per post after the first), so the list read is the final one.
        deadline = time.time() + 30
        while (metric(d.base, "brickcast_rule_steps_closed_total") or 0) < minute // 5 - 1 and time.time() < deadline:
            time.sleep(0.05)
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


def smtp_outage(work):
    """The mail server down when an alert fires: the daemon keeps the notification, retries it,
    says so in /metrics and /api/v1/receivers, stays ready (a receiver's outage is no reason to
    stop ingesting), and delivers it exactly once when the server is back on its port."""
    from aiosmtpd.controller import Controller
    mails, arrived = [], threading.Condition()

    class Inbox:
        async def handle_DATA(self, server, session, envelope):
            with arrived:
                mails.append(envelope.content.decode("utf-8", "replace"))
                arrived.notify_all()
            return "250 OK"
    port = free_port()  # nothing listens there yet: the outage
    d = Daemon(work, {"notify": {"receivers": [{"name": "mail", "kind": "email", "smtp_url": f"smtp://127.0.0.1:{port}",
                                                "starttls": "never", "from": "brickcast <brickcast@example.com>",
                                                "to": ["plant-ops@example.com"]}],
                                 "route": {"receiver": "mail", "group_wait": "0s"},
                                 "retry_initial": "200ms", "retry_max": "1s"}}).ready()
    smtp = None
    try:
        for minute, value in ((5, 35.0), (10, 35.0)):  # the second closes the first's step: firing
            request(d.base + "/api/v1/observations", "POST", sat_message(minute, value), "text/turtle")
        line = d.wait_log("notification", "to mail:", "retry")
        check(line is not None, "the failed delivery is logged with its retry: " + (line or "").strip()[-120:])
        check((metric(d.base, 'brickcast_notifications_total{receiver="mail",outcome="retried"}') or 0) >= 1,
              "/metrics counts the retries")
        check(metric(d.base, 'brickcast_outbox_pending{receiver="mail"}') == 1, "the notification waits in the outbox")
        _, body = request(d.base + "/api/v1/receivers")
        mail = next(r for r in json.loads(body)["receivers"] if r["name"] == "mail")
        check(mail.get("last_error"), f"/api/v1/receivers names the error: {mail.get('last_error')}")
        check(request(d.base + "/readyz")[0] == 200, "/readyz: still ready")
        smtp = Controller(Inbox(), hostname="127.0.0.1", port=port)
        smtp.start()
        check(d.wait_log("notification", "to mail delivered") is not None, "delivered once the server is back")
        with arrived:
            arrived.wait_for(lambda: mails, 10)
        check(len(mails) == 1 and "sat-high" in mails[0], f"one mail, about the alert ({len(mails)})")
        check(metric(d.base, 'brickcast_outbox_pending{receiver="mail"}') == 0, "the outbox is empty")
    finally:
        d.stop()
        if smtp:
            smtp.stop()
    check(len(mails) == 1, "and no second copy by the time the daemon stopped")


class Broker:
    """`brickcast broker`: a Kafka-protocol broker in its own process, which outlives the daemons."""

    def __init__(self, work, partitions=4, topics=()):
        address = os.path.join(work, "broker.addr")
        self.proc = subprocess.Popen([BINARY, "broker", "--partitions", str(partitions), "--address-file", address] +
                                     [a for t in topics for a in ("--topic", t)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.proc.stdout:  # "kafka broker listening on ..." once the address file is written
            if "listening on" in line:
                break
        with open(address) as f:
            self.bootstrap = f.read().strip()
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


class Hook:
    """A webhook receiver over a real socket: records every delivery (Idempotency-Key, body) and can
    run an action while a delivery is in flight, before it answers."""

    def __init__(self):
        hook = self
        self.deliveries = []  # (key, body)
        self.cond = threading.Condition()
        self.in_flight = None  # called with the delivery before the answer, once

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook.cond:
                    action, hook.in_flight = hook.in_flight, None
                if action:
                    action()  # the answer never reaches the sender: it must deliver again
                with hook.cond:
                    hook.deliveries.append((self.headers["Idempotency-Key"], body))
                    hook.cond.notify_all()
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.deliveries), timeout)

    def stop(self):
        self.server.shutdown()


KILL9_T0 = 1_790_000_000 // 300 * 300
KILL9_AHUS, KILL9_MINUTES, KILL9_BLOCK = 4, 600, 10


def minute_iso(minute):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(KILL9_T0 + 60 * minute))


def write_unit_stream(work, units, minutes, sat):
    """AHU0..AHU{units-1}, each with one SAT point: the Brick model (model.ttl, returned), one message
    per unit and minute with sat(unit, minute) (messages.ttl, path returned) and a replay config
    whose model keys each message by its unit (replay.json)."""
    model = "@prefix b: <urn:b#> .\n" + "".join(
        f"b:AHU{u} a brick:AHU ; brick:hasPoint b:AHU{u}_SAT .\n"
        f"b:AHU{u}_SAT a brick:Supply_Air_Temperature_Sensor ; brick:hasUnit unit:DEG_C .\n" for u in range(units))
    messages = os.path.join(work, "messages.ttl")
    with open(messages, "w") as f:
        for m in range(minutes):
            for u in range(units):
                f.write(f'# brickcast:message\n<urn:b#AHU{u}_SAT> <https://brickschema.org/schema/Brick#lastKnownValue> '
                        f'[ <https://brickschema.org/schema/Brick#value> "{sat(u, m)}"^^<http://www.w3.org/2001/XMLSchema#double> ; '
                        f'<https://brickschema.org/schema/Brick#timestamp> "{minute_iso(m)}"^^<http://www.w3.org/2001/XMLSchema#dateTime> ] .\n\n')
    with open(os.path.join(work, "model.ttl"), "w") as f:
        f.write(model)
    with open(os.path.join(work, "replay.json"), "w") as f:
        json.dump({"brick": {"models": ["model.ttl"]}}, f)
    return model, messages


def told_by_key(deliveries):
    """(equipment, status, startsAt) -> the idempotency keys of the deliveries that told it."""
    out = {}
    for key, body in deliveries:
        for alert in body["alerts"]:
            out.setdefault((alert["labels"]["equipment"], alert["status"], alert["startsAt"]), set()).add(key)
    return out


def missing_minutes(base, unit, minutes, value):
    """The closed minutes whose stored value of the unit's SAT is not value(minute)."""
    _, body = request(base + f"/api/v1/points/urn:b%23{unit}_SAT/series")
    series = json.loads(body)
    got = {time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts / 1000)) if isinstance(ts, (int, float)) else ts: v
           for ts, v in zip(series["times"], series["values"]) if v is not None}
    return [m for m in range(minutes - 1) if got.get(minute_iso(m)) != value(m)]


def kill9_sat(ahu, minute):
    # Blocks of ten minutes, high (35 °C, above the rule's limit) and low in turn, shifted per unit;
    # low from the last block on, so every episode has ended within the data.
    block = minute // KILL9_BLOCK
    return 35.0 if block < KILL9_MINUTES // KILL9_BLOCK - 1 and (block + ahu) % 2 == 0 else 20.0


def kill9_episodes(ahu):
    """(start minute, end minute) of each high episode of a unit."""
    out, start = [], None
    for m in range(KILL9_MINUTES):
        high = kill9_sat(ahu, m) > 30
        if high and start is None:
            start = m
        elif not high and start is not None:
            out.append((start, m))
            start = None
    return out


def kill9(work):
    """kill -9 of the daemon at 20 random points while it consumes from a broker that outlives it and
    notifies a webhook: after the last restart no observation is missing from the store, every alert
    episode is in the alert history exactly once, and every episode was notified, never under two
    idempotency keys (a delivery cut by the kill is sent again under its own key)."""
    iso = minute_iso
    model, messages = write_unit_stream(work, KILL9_AHUS, KILL9_MINUTES, kill9_sat)
    broker, hook = Broker(work), Hook()
    group = "rel-kill9"
    # A short session: this broker (librdkafka 2.0.2's mock) does not implement static membership, so a
    # restarted member gets its partitions once the killed one's session has expired (about 6 s here).
    extra = {"kafka": {"brokers": broker.bootstrap, "group_id": group, "commit_interval_ms": 200,
                       "session_timeout_ms": 3500, "properties": {"heartbeat.interval.ms": "500"},
                       "rebuild_from": "log_start"},
             "store": {"step_seconds": 60, "window_steps": 1000},
             "notify": {"receivers": [{"name": "hook", "kind": "webhook", "url": hook.url}],
                        "route": {"receiver": "hook", "group_by": ["..."], "group_wait": "0s",
                                  "group_interval": "1ms", "repeat_interval": "24h"},
                        "retry_initial": "100ms", "retry_max": "1s"}}
    # Published no more than 5 messages per partition ahead of the daemon's commits: while it is
    # dead the replay waits, so every kill lands in the middle of the stream.
    replay = subprocess.Popen([BINARY, "replay", "--brokers", broker.bootstrap, "--topic", "brickcast.observations",
                               "--group", group, "--max-lag", "5", "--max", "-c", os.path.join(work, "replay.json"),
                               messages],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    port, rng, modes = free_port(), random.Random(1709), []
    try:
        for i in range(20):
            d = Daemon(work, extra, port=port, model=model).ready()
            killed = threading.Event()

            def kill(d=d):
                d.proc.kill()
                killed.set()
            mode = rng.choice(["in-flight", "after-deliveries", "timer"])
            if mode == "in-flight":  # while a notification is being delivered
                with hook.cond:
                    hook.in_flight = lambda *_: kill()
            elif mode == "after-deliveries":  # right after the k-th delivery from now
                seen = len(hook.deliveries) + rng.randint(1, 3)
                threading.Thread(target=lambda: (hook.wait_for(lambda ds: len(ds) >= seen, 60), kill()),
                                 daemon=True).start()
            else:  # anywhere from the assignment on: rebuilding windows, consuming, committing
                delay = rng.uniform(0.0, 2.0)
                threading.Thread(target=lambda: (d.assigned.wait(60), threading.Event().wait(delay), kill()),
                                 daemon=True).start()
            if not killed.wait(90):
                kill()
            with hook.cond:
                hook.in_flight = None
            d.kill()
            modes.append(mode)
        check(replay.poll() is None or replay.returncode == 0, "the replay was still publishing during the kills")
        print(f"  (kill points: {', '.join(f'{m} x{modes.count(m)}' for m in sorted(set(modes)))})")

        final = Daemon(work, extra, port=port, model=model).ready()
        try:
            episodes = {f"AHU{a}": kill9_episodes(a) for a in range(KILL9_AHUS)}

            def all_resolved(deliveries):
                t = told_by_key(deliveries)
                return all((u, "resolved", iso(s)) in t for u, eps in episodes.items() for s, _ in eps)
            check(hook.wait_for(all_resolved, 180), "every alert episode's resolve was notified")
            check(replay.wait(60) == 0, "the replay published every message")
            t = told_by_key(hook.deliveries)
            twice = {k: v for k, v in t.items() if len(v) > 1}
            check(not twice, f"no episode told twice under different idempotency keys {list(twice.items())[:3]}")
            unexpected = [k for k in t if k[2] not in {iso(s) for u, eps in episodes.items() if u == k[0] for s, _ in eps}]
            check(not unexpected, f"no notification of an episode that is not in the data {unexpected[:3]}")
            keys = [k for k, _ in hook.deliveries]
            print(f"  ({len(set(keys))} notifications, {len(keys) - len(set(keys))} deliveries repeated under their key)")

            for u, eps in episodes.items():
                _, body = request(final.base + "/api/v1/alerts?state=all&equipment=" + u)
                alerts = [a for a in json.loads(body)["alerts"] if a["rule"] == "sat-high"]
                check(len(alerts) == 1, f"{u}: one alert for the rule ({len(alerts)})")
                _, body = request(final.base + "/api/v1/alerts/" + alerts[0]["id"])
                history = sorted(json.loads(body)["history"], key=lambda h: h["seq"])
                fired = [h["time"] for h in history if h["to"] == "firing"]
                resolved = [h["time"] for h in history if h["to"] == "resolved"]
                check(fired == [iso(s) for s, _ in eps] and len(resolved) == len(eps),
                      f"{u}: each of its {len(eps)} episodes fired and resolved once in the history "
                      f"({len(fired)} fired, {len(resolved)} resolved)")

                missing = missing_minutes(final.base, u, KILL9_MINUTES, lambda m: kill9_sat(int(u[3:]), m))
                check(not missing, f"{u}: all {KILL9_MINUTES - 1} closed minutes in the store with their values "
                                   f"(missing or wrong: {missing[:5]})")
        finally:
            final.stop()
    finally:
        if replay.poll() is None:
            replay.kill()
        broker.stop()
        hook.stop()


SCALE_UNITS, SCALE_MINUTES = 6, 240


def scale_out(work):
    """Three instances in one consumer group on a broker that outlives them, alert state following
    the partitions through the changelog topic: partitions spread; one instance killed with SIGKILL
    mid-stream, its partitions move and their alerts are restored on the survivors; it restarts and
    rejoins. Every episode of every unit is notified firing and resolved, none under two
    idempotency keys, none that is not in the data, and each alert is held by exactly one instance."""
    iso = minute_iso
    # Ten-minute blocks high (above the rule's limit) and low in turn, shifted per unit; low at the end.
    sat = lambda unit, minute: 35.0 if minute < SCALE_MINUTES - KILL9_BLOCK and (minute // KILL9_BLOCK + unit) % 2 == 0 else 20.0
    episodes = {f"AHU{u}": [m for m in range(SCALE_MINUTES) if sat(u, m) > 30 and (m == 0 or sat(u, m - 1) <= 30)]
                for u in range(SCALE_UNITS)}
    model, messages = write_unit_stream(work, SCALE_UNITS, SCALE_MINUTES, sat)
    changelog = "brickcast.alert-state"
    broker = Broker(work, partitions=SCALE_UNITS, topics=["brickcast.observations", changelog])
    hook = Hook()
    group = "rel-scale-out"
    extra = {"kafka": {"brokers": broker.bootstrap, "group_id": group, "commit_interval_ms": 200,
                       "session_timeout_ms": 3500, "properties": {"heartbeat.interval.ms": "500"},
                       "rebuild_from": "log_start", "alert_changelog_topic": changelog},
             "store": {"step_seconds": 60, "window_steps": 1000},
             "notify": {"receivers": [{"name": "hook", "kind": "webhook", "url": hook.url}],
                        "route": {"receiver": "hook", "group_by": ["..."], "group_wait": "0s",
                                  "group_interval": "1ms", "repeat_interval": "24h"},
                        "retry_initial": "100ms", "retry_max": "1s"}}
    names = ["a", "b", "c"]
    for n in names:
        os.makedirs(os.path.join(work, n))
    ports = {n: free_port() for n in names}
    start = lambda n: Daemon(os.path.join(work, n), extra, port=ports[n], model=model).ready()
    daemons = {}
    replay = None

    def assigned(d):
        status, body = request(d.base + "/readyz")
        return json.loads(body).get("kafka", {}).get("assigned", []) if status in (200, 503) else []

    def spread(ds, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            parts = [assigned(d) for d in ds]
            if all(parts) and sum(len(p) for p in parts) == SCALE_UNITS:
                return parts
            threading.Event().wait(0.2)  # polling three APIs: no single event says "the group is stable"
        return [assigned(d) for d in ds]

    try:
        for n in names:
            daemons[n] = start(n)
        parts = spread(list(daemons.values()))
        check(all(parts) and sum(len(p) for p in parts) == SCALE_UNITS,
              f"the {SCALE_UNITS} partitions spread over the three instances ({[len(p) for p in parts]})")
        replay = subprocess.Popen([BINARY, "replay", "--brokers", broker.bootstrap, "--topic", "brickcast.observations",
                                   "--group", group, "--max-lag", "5", "--max", "-c", os.path.join(work, "replay.json"),
                                   messages], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        total = sum(len(e) for e in episodes.values())
        check(hook.wait_for(lambda ds: len(ds) >= total // 2, 120), "half the episodes notified before the kill")
        victim = max(daemons, key=lambda n: len(assigned(daemons[n])))
        moved = assigned(daemons[victim])
        survivors = [d for n, d in daemons.items() if n != victim]
        restores = lambda d: len([l for l in d.lines if "alert changelog" in l and "restored" in l])
        before = [restores(d) for d in survivors]
        daemons[victim].kill()
        parts = spread(survivors)
        check(sum(len(p) for p in parts) == SCALE_UNITS,
              f"the killed instance's partitions {moved} moved to the survivors ({parts})")
        # The assignment shows in /readyz a moment before the restore (which runs before anything of
        # the partitions is fetched) logs its line: wait for the line.
        deadline = time.monotonic() + 30
        while not any(restores(d) > b for d, b in zip(survivors, before)) and time.monotonic() < deadline:
            with survivors[0].logged:
                survivors[0].logged.wait(0.2)
        check(any(restores(d) > b for d, b in zip(survivors, before)),
              "the survivors restored the moved partitions' alerts from the changelog before consuming them")
        daemons[victim] = start(victim)
        parts = spread(list(daemons.values()))
        check(all(parts), f"the restarted instance rejoined and got partitions ({[len(p) for p in parts]})")

        def untold(deliveries):
            t = told_by_key(deliveries)
            return [(u, status, iso(s)) for u, eps in episodes.items() for s in eps for status in ("firing", "resolved")
                    if (u, status, iso(s)) not in t]
        hook.wait_for(lambda ds: not untold(ds), 180)
        with hook.cond:
            missed = untold(hook.deliveries)
        check(not missed, f"every episode of every unit was notified firing and resolved (not told: {missed[:6]}"
                          f"{' ...' if len(missed) > 6 else ''}; replay {'running' if replay.poll() is None else 'exited ' + str(replay.returncode)})")
        check(replay.wait(60) == 0, "the replay published every message")
        t = told_by_key(hook.deliveries)
        twice = {k: v for k, v in t.items() if len(v) > 1}
        check(not twice, f"no episode told twice under different idempotency keys {list(twice.items())[:3]}")
        unexpected = [k for k in t if k[2] not in {iso(s) for s in episodes.get(k[0], [])}]
        check(not unexpected, f"no notification of an episode that is not in the data {unexpected[:3]}")
        for u in episodes:
            holders = []
            for n, d in daemons.items():
                _, body = request(d.base + "/api/v1/alerts?state=all&equipment=" + u)
                holders += [(n, a["state"]) for a in json.loads(body)["alerts"] if a["rule"] == "sat-high"]
            check(len(holders) == 1 and holders[0][1] == "resolved",
                  f"{u}: its alert is held by exactly one instance, resolved ({holders})")
            # The owner's window holds the unit's whole history, rebuilt from the partition if it moved.
            missing = missing_minutes(daemons[holders[0][0]].base, u, SCALE_MINUTES, lambda m: sat(int(u[3:]), m))
            check(not missing, f"{u}: all {SCALE_MINUTES - 1} closed minutes in its owner's store (missing: {missing[:5]})")
        keys = [k for k, _ in hook.deliveries]
        print(f"  (killed {victim} holding {moved}; {len(set(keys))} notifications, "
              f"{len(keys) - len(set(keys))} deliveries repeated under their key)")
    finally:
        for d in daemons.values():
            d.stop()
        if replay is not None and replay.poll() is None:
            replay.kill()
        broker.stop()
        hook.stop()


def lkv_messages(path, point, values, t0=KILL9_T0):
    """A replay file: one lastKnownValue message per minute from t0, `values` in order."""
    with open(path, "w") as f:
        for minute, value in values:
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 60 * minute))
            f.write(f'# brickcast:message\n<{point}> <https://brickschema.org/schema/Brick#lastKnownValue> '
                    f'[ <https://brickschema.org/schema/Brick#value> "{value}"^^<http://www.w3.org/2001/XMLSchema#double> ; '
                    f'<https://brickschema.org/schema/Brick#timestamp> "{ts}"^^<http://www.w3.org/2001/XMLSchema#dateTime> ] .\n\n')


def broker_outage(work):
    """The broker goes down under a consuming daemon (`brickcast broker`: SIGUSR1 down, SIGUSR2 up;
    connections refused, the logs kept) while data keeps being published: the daemon stays up,
    /readyz and /metrics say Kafka is down, the API answers; once the broker is back the daemon
    resumes by itself, consumes what was published meanwhile and alerts on it; and a stop during a
    second outage ends within the shutdown grace."""
    iso = lambda minute: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(KILL9_T0 + 60 * minute))
    # Above the 30 °C limit from minute 15 to 24: firing when the broker goes down, resolved in the
    # data published during the outage. (One episode: a second one in the same burst would fire
    # before the resolve is flushed, and the notification tells the alert's state at the flush.)
    sat = lambda m: 35.0 if 15 <= m < 25 else 20.0
    before, during = os.path.join(work, "before.ttl"), os.path.join(work, "during.ttl")
    lkv_messages(before, "urn:b#SAT", [(m, sat(m)) for m in range(20)])
    lkv_messages(during, "urn:b#SAT", [(m, sat(m)) for m in range(20, 40)])
    broker, hook = Broker(work), Hook()
    grace = 5
    extra = {"kafka": {"brokers": broker.bootstrap, "group_id": "rel-outage", "commit_interval_ms": 200,
                       "session_timeout_ms": 6000, "rebuild_from": "log_start"},
             "store": {"step_seconds": 60, "window_steps": 100},
             "shutdown_grace_seconds": grace,
             "notify": {"receivers": [{"name": "hook", "kind": "webhook", "url": hook.url}],
                        "route": {"receiver": "hook", "group_by": ["..."], "group_wait": "0s", "group_interval": "1ms"}}}
    replay = lambda path: subprocess.Popen([BINARY, "replay", "--brokers", broker.bootstrap, "--topic",
                                            "brickcast.observations", "--max", path],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    told = lambda status, start: lambda ds: any(a["status"] == status and a["startsAt"] == iso(start)
                                                for _, body in ds for a in body["alerts"])
    d = Daemon(work, extra)
    try:
        d.ready()
        check(d.assigned.wait(60), "the daemon was assigned its partitions")
        check(replay(before).wait(60) == 0, "the first 20 minutes were published")
        check(hook.wait_for(told("firing", 15), 60), "the alert in the first 20 minutes fired (notified)")

        os.kill(broker.proc.pid, signal.SIGUSR1)
        check(d.wait_log("kafka: all brokers down", timeout=60) is not None, "the daemon logged the outage")
        status, body = request(d.base + "/readyz")
        check(status == 503 and "kafka" in body, f"/readyz: not ready, Kafka named: {status} {body[:160]}")
        check(metric(d.base, "brickcast_kafka_brokers_up") == 0, "brickcast_kafka_brokers_up 0")
        check((metric(d.base, "brickcast_kafka_broker_outages_total") or 0) >= 1, "brickcast_kafka_broker_outages_total counts it")
        check(request(d.base + "/api/v1/alerts?state=all")[0] == 200, "the API answers during the outage")
        publisher = replay(during)  # published during the outage: the producer holds it until the broker is back

        os.kill(broker.proc.pid, signal.SIGUSR2)
        check(d.wait_log("kafka: brokers reachable again", timeout=60) is not None, "the daemon saw the broker back")
        check(publisher.wait(60) == 0, "what was published during the outage reached the broker")
        check(hook.wait_for(told("resolved", 15), 60), "its resolve, in the data published during the outage, was notified")
        _, body = request(d.base + "/api/v1/alerts?state=all")
        alert = next(a for a in json.loads(body)["alerts"] if a["rule"] == "sat-high")
        _, body = request(d.base + "/api/v1/alerts/" + alert["id"])
        history = sorted(json.loads(body)["history"], key=lambda h: h["seq"])
        fired = [h["time"] for h in history if h["to"] == "firing"]
        cleared = [h["time"] for h in history if h["to"] == "resolved"]
        check(fired == [iso(15)] and cleared == [iso(25)],
              f"the episode in the alert history at its data times (fired {fired}, resolved {cleared})")
        check(d.alive(), "the daemon stayed up throughout")
        check(request(d.base + "/readyz")[0] == 200, "/readyz: ready again")
        check(metric(d.base, "brickcast_kafka_brokers_up") == 1, "brickcast_kafka_brokers_up 1")
        _, body = request(d.base + "/api/v1/points/urn:b%23SAT/series")
        series = json.loads(body)
        got = {time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t / 1000)) if isinstance(t, (int, float)) else t: v
               for t, v in zip(series["times"], series["values"]) if v is not None}
        missing = [m for m in range(39) if got.get(iso(m)) != sat(m)]
        check(not missing, f"every closed minute before, during and after the outage is in the store (missing: {missing[:5]})")

        # A second outage, then SIGTERM: the stop may not wait for the dead coordinator.
        downs = len([l for l in d.lines if "kafka: all brokers down" in l])
        os.kill(broker.proc.pid, signal.SIGUSR1)
        with d.logged:
            d.logged.wait_for(lambda: len([l for l in d.lines if "kafka: all brokers down" in l]) > downs, 60)
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        try:
            code = d.proc.wait(grace + 5)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - t0
        # An auto-commit queued while the coordinator is gone holds librdkafka's destroy for about a
        # session timeout (6.2 s once in CI): the teardown is bounded and left to finish in the
        # background, so the stop ends within the grace whichever way that timer falls.
        check(code == 0 and took < grace, f"with the broker down, SIGTERM ends the daemon cleanly within the "
                                          f"{grace} s grace ({took:.1f} s, exit {code})")
    finally:
        d.stop()
        broker.stop()
        hook.stop()


FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def clock_step(work):
    """The wall clock of a running daemon steps back an hour, then forward two (as an NTP step or an
    operator's `date -s` does), under libfaketime (the monotonic clock untouched): the daemon stays
    up and ready, counts and logs each step, and the notification timers move with the clock: a
    resolve due 5 s after the step back goes out then, not an hour later."""
    if not os.path.exists(FAKETIME):
        raise AssertionError(f"{FAKETIME} is missing: scripts/install-deps.sh installs libfaketime")
    offset = os.path.join(work, "faketime")
    def step_to(seconds):  # the offset from the real time, read by libfaketime at most once a second
        with open(offset + ".tmp", "w") as f:
            f.write(f"{seconds:+d}\n")
        os.replace(offset + ".tmp", offset)
    step_to(0)
    hook = Hook()
    env = {"LD_PRELOAD": FAKETIME, "FAKETIME_TIMESTAMP_FILE": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "FAKETIME_CACHE_DURATION": "1"}
    d = Daemon(work, {"store": {"step_seconds": 60},
                      "notify": {"receivers": [{"name": "hook", "kind": "webhook", "url": hook.url}],
                                 "route": {"receiver": "hook", "group_by": ["..."], "group_wait": "0s",
                                           "group_interval": "5s", "repeat_interval": "24h"}}}, env=env)
    minute = [0]
    def post(value, n=3):
        for _ in range(n):
            minute[0] += 1
            status, body = request(d.base + "/api/v1/observations", "POST", sat_message(minute[0], value), "text/turtle")
            if status != 200:
                raise AssertionError(f"observation refused: {status} {body[:100]}")
    told = lambda status, n: lambda ds: sum(a["status"] == status for _, b in ds for a in b["alerts"]) >= n
    try:
        d.ready()
        post(35.0)
        check(hook.wait_for(told("firing", 1), 30), "the alert fired and was notified")

        step_to(-3600)
        check(d.wait_log("wall clock stepped by -3", timeout=30) is not None, "the step back was seen and logged")
        t0 = time.monotonic()
        post(20.0)  # the resolve: due one group_interval (5 s) after the last notification
        check(hook.wait_for(told("resolved", 1), 30),
              f"the resolve went out {time.monotonic() - t0:.1f} s after the data, not an hour later")

        step_to(3600)
        with d.logged:
            d.logged.wait_for(lambda: sum("wall clock stepped by" in l for l in d.lines) >= 2, 30)
        check(sum("wall clock stepped by 7" in l for l in d.lines) == 1, "the step forward was seen and logged")
        post(35.0)
        check(hook.wait_for(told("firing", 2), 30), "after the step forward a new alert fires and is notified")
        check(d.alive(), "the daemon stayed up")
        check(request(d.base + "/readyz")[0] == 200, "/readyz: ready")
        check(metric(d.base, "brickcast_clock_steps_total") == 2, "brickcast_clock_steps_total counts both steps")
        _, body = request(d.base + "/api/v1/alerts?state=all")
        alert = next(a for a in json.loads(body)["alerts"] if a["rule"] == "sat-high")
        _, body = request(d.base + "/api/v1/alerts/" + alert["id"])
        history = sorted(json.loads(body)["history"], key=lambda h: h["seq"])
        expected = ["firing", "resolved", "firing"]
        got = [h["to"] for h in history if h["to"] in expected]
        check(got == expected, f"the alert history is in data time order whatever the wall clock did ({got})")
    finally:
        d.stop()
        hook.stop()


SCENARIOS = {"corrupt-db": corrupt_db, "bad-model": bad_model, "flood": flood, "full-disk": full_disk, "smtp-outage": smtp_outage,
             "broker-outage": broker_outage, "clock-step": clock_step, "kill9": kill9, "scale-out": scale_out}


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
            for d, _, files in sorted(os.walk(work)):
                if "daemon.log" in files:
                    with open(os.path.join(d, "daemon.log")) as f:
                        print(f"  {os.path.relpath(d, work)}/daemon.log (tail):\n" + "".join(f.readlines()[-20:]))
            failed.append(name)
        finally:
            if name not in failed:
                shutil.rmtree(work, ignore_errors=True)
    if failed:
        sys.exit("FAIL: " + ", ".join(failed))
    print("all scenarios passed")


if __name__ == "__main__":
    main()
