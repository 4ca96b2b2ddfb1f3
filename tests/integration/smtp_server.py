#!/usr/bin/env python3
"""A real SMTP server for the email notifier tests (Debian's python3-aiosmtpd).

Each message received is written to MAILDIR/<n>.json: {"mail_from", "rcpt_tos", "data"}.
With --cert/--key it offers STARTTLS (and requires it); with --auth USER:PASSWORD it requires
AUTH LOGIN/PLAIN after STARTTLS and refuses every other login. Binds 127.0.0.1:PORT (0: any free
port) and writes the port to --ready-file once it accepts connections. Runs until killed.
"""
import argparse
import json
import os
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, maildir):
        self.maildir = maildir
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            path = os.path.join(self.maildir, "%04d.json" % self.count)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "data": envelope.content.decode("utf-8", "replace")}, f)
        os.rename(tmp, path)
        return "250 OK"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--maildir", required=True)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth")
    a = p.parse_args()
    os.makedirs(a.maildir, exist_ok=True)
    kwargs = {}
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        kwargs.update(tls_context=ctx, require_starttls=True)
    if a.auth:
        user, password = a.auth.split(":", 1)

        def check(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False)
        kwargs.update(authenticator=check, auth_required=True, auth_require_tls=bool(a.cert))
    port = a.port
    if port == 0:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
    controller = Controller(Store(a.maildir), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    with open(a.ready_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(a.ready_file + ".tmp", a.ready_file)
    threading.Event().wait()  # serve until killed


if __name__ == "__main__":
    main()
