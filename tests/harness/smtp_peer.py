#!/usr/bin/python3
"""tests/harness/smtp_peer.py - a real SMTP server for the email tests

Run by tests/lib/smtppeer.c with Debian's /usr/bin/python3 and
python3-aiosmtpd.  Listens on 127.0.0.1 only, on a port the kernel picks,
and prints "READY <port>" on stdout once it accepts connections.  It stops
when its stdin reaches end of file: the test holds the only writer, so the
peer never outlives the test that started it, even a test that crashed.
On its way out it removes DIR.

    smtp_peer.py serve --dir DIR [options]   the server (below)
    smtp_peer.py parse FILE                  print FILE (an .eml) as JSON

serve options:
    --tls none|starttls|implicit  starttls: STARTTLS offered and required
                                  before MAIL and AUTH; implicit: TLS from
                                  the first byte.  Either way a private CA
                                  and a server certificate for localhost and
                                  127.0.0.1 are generated in DIR (ca.pem,
                                  server.pem, server.key) with openssl.
    --cert-name NAME              the certificate names only DNS:NAME (not
                                  localhost nor 127.0.0.1): a name mismatch
    --auth none|plain|login|any   AUTH required, with only that mechanism
                                  (any: PLAIN and LOGIN) and --user/--password
    --refuse-rcpt ADDR            RCPT TO:<ADDR> answered 550 (repeatable)
    --tempfail-rcpt ADDR          RCPT TO:<ADDR> answered 450 (repeatable)
    --refuse-mail                 every MAIL FROM answered 550
    --refuse-data                 the message answered 554 after DATA
    --mode smtp|silent|backlog    silent: accept connections, never say a
                                  word; backlog: a listening socket whose
                                  queue is full and never accepted, so that
                                  connecting never completes

Each accepted message N (from 0) is written to DIR/msg-N.eml (the bytes
received) and DIR/msg-N.json: the envelope, whether TLS was on, the AUTH
mechanism and user (never the password), and the message as Python's email
package (policy.default) reads it: decoded headers, addresses, date, parts.
Both files exist before the server answers 250, written under temporary
names and renamed.  A parse with Python's own library, independent of the C
code under test, is what the tests check against.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import warnings

# aiosmtpd 1.4 warns about its own use of Session.login_data
warnings.filterwarnings("ignore", category=DeprecationWarning)


def parse_message(data: bytes) -> dict:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    out = {
        "header_names": list(msg.keys()),
        "headers": {},
        "raw_headers": [[k, v] for k, v in msg.raw_items()],
        "defects": [type(d).__name__ for d in msg.defects],
        "content_type": msg.get_content_type(),
        "parts": [],
        "addresses": {},
        "date": None,
        "message_id_defects": None,
    }
    # Python refuses some decoded values (a line break in a display name):
    # recorded as a defect instead of failing the whole message
    for k, v in msg.raw_items():
        try:
            v = msg.policy.header_fetch_parse(k, v)
            out["headers"].setdefault(k.lower(), []).append(str(v))
            out["defects"] += [type(d).__name__ for d in getattr(v, "defects", ())]
            if k.lower() in ("from", "to", "reply-to"):
                out["addresses"][k.lower()] = [
                    {"name": a.display_name, "addr": a.addr_spec} for a in v.addresses
                ]
        except ValueError as e:
            out["defects"].append(f"{k}: {e}")
    if msg["Date"] is not None and msg["Date"].datetime is not None:
        out["date"] = msg["Date"].datetime.isoformat()
    if msg["Message-ID"] is not None:
        out["message_id_defects"] = [type(d).__name__ for d in msg["Message-ID"].defects]
    if msg.is_multipart():
        for part in msg.iter_parts():
            out["parts"].append(
                {
                    "content_type": part.get_content_type(),
                    "charset": part.get_content_charset(),
                    "cte": part.get("Content-Transfer-Encoding"),
                    # the text as a reader sees it: line breaks as "\n"
                    "content": part.get_content().replace("\r\n", "\n"),
                    "defects": [type(d).__name__ for d in part.defects],
                }
            )
    lines = data.split(b"\r\n")
    out["max_line"] = max(len(line) for line in lines)
    out["bare_lf"] = any(b"\n" in line for line in lines)
    out["ascii_only"] = all(b < 0x80 for b in data)
    return out


def make_certs(d: str, names: str) -> None:
    def run(*args):
        subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "2",
        "-subj", "/CN=Parsec test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr",
        "-subj", "/CN=localhost")
    with open(f"{d}/server.ext", "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                f"subjectAltName={names}\n")
    run("x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
        "-CAcreateserial", "-days", "2", "-out", f"{d}/server.pem", "-extfile", f"{d}/server.ext")
    os.unlink(f"{d}/ca.key")  # nothing signs after this


class Handler:
    def __init__(self, args):
        self.args = args
        self.count = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.args.refuse_mail:
            return "550 5.7.1 Sender refused by the test server"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.args.refuse_rcpt:
            return "550 5.1.1 Recipient address rejected: user unknown"
        if address in self.args.tempfail_rcpt:
            return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.refuse_data:
            return "554 5.6.0 Message refused by the test server"
        data = envelope.original_content or envelope.content
        n = self.count
        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "auth_mechanism": getattr(session, "parsec_mechanism", None),
            "auth_user": getattr(session, "parsec_user", None),
            "message": parse_message(data),
        }
        base = os.path.join(self.args.dir, f"msg-{n}")
        for ext, payload in ((".eml", data), (".json", json.dumps(record).encode())):
            with open(base + ext + ".tmp", "wb") as f:
                f.write(payload)
            os.rename(base + ext + ".tmp", base + ext)
        return "250 Message accepted"


def authenticator(args):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == args.user.encode()
              and auth_data.password == args.password.encode())
        if ok:
            session.parsec_mechanism = mechanism
            session.parsec_user = args.user
        return AuthResult(success=ok, handled=False)

    return check


async def serve(args, ready):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def on_stdin():
        if not os.read(0, 4096) and not stop.done():
            stop.set_result(None)

    loop.add_reader(0, on_stdin)
    # the test's thread died (PR_SET_PDEATHSIG), or someone stops us
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))

    if args.mode == "backlog":
        # a full accept queue: the kernel then drops new SYNs, so a client's
        # connect() hangs until its own timeout
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(0)
        port = lsock.getsockname()[1]
        fillers = []
        for _ in range(4):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except (BlockingIOError, InterruptedError):
                pass
            fillers.append(c)
        await asyncio.sleep(0.2)
        ready(port)
        await stop
        for c in fillers:
            c.close()
        lsock.close()
        return

    if args.mode == "silent":
        async def mute(reader, writer):
            await reader.read()  # until the client gives up
            writer.close()
        server = await asyncio.start_server(mute, "127.0.0.1", 0)
    else:
        from aiosmtpd.smtp import SMTP

        ctx = None
        if args.tls != "none":
            make_certs(args.dir, f"DNS:{args.cert_name}" if args.cert_name
                       else "DNS:localhost,IP:127.0.0.1")
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(f"{args.dir}/server.pem", f"{args.dir}/server.key")
        kwargs = {"hostname": "smtp.test", "ident": "parsec test SMTP"}
        if args.tls == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        if args.auth != "none":
            exclude = {"plain": ["LOGIN"], "login": ["PLAIN"], "any": []}[args.auth]
            kwargs.update(authenticator=authenticator(args), auth_required=True,
                          auth_require_tls=args.tls == "starttls",
                          auth_exclude_mechanism=exclude)
        handler = Handler(args)
        server = await loop.create_server(
            lambda: SMTP(handler, **kwargs), "127.0.0.1", 0,
            ssl=ctx if args.tls == "implicit" else None)
    ready(server.sockets[0].getsockname()[1])
    await stop
    server.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    s.add_argument("--auth", choices=["none", "plain", "login", "any"], default="none")
    s.add_argument("--user", default="")
    s.add_argument("--password", default="")
    s.add_argument("--refuse-rcpt", action="append", default=[])
    s.add_argument("--tempfail-rcpt", action="append", default=[])
    s.add_argument("--refuse-mail", action="store_true")
    s.add_argument("--refuse-data", action="store_true")
    s.add_argument("--mode", choices=["smtp", "silent", "backlog"], default="smtp")
    s.add_argument("--cert-name", default="")
    pp = sub.add_parser("parse")
    pp.add_argument("file")
    args = p.parse_args()

    if args.cmd == "parse":
        with open(args.file, "rb") as f:
            json.dump(parse_message(f.read()), sys.stdout)
        return

    def ready(port):
        print(f"READY {port}", flush=True)

    try:
        asyncio.run(serve(args, ready))
    finally:
        # the directory is ours alone: nothing stays behind a test, even one
        # that died before reading it
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
