"""The real SMTP (and DNS) servers the SMTP transport's tests talk to, all on
127.0.0.1, in one supervising process: `peers.py <dir>` writes <dir>/ports
(name=port lines) and <dir>/ready, and runs until SIGTERM, when it stops every
child server too.

  aiosmtpd listeners, scripted through the recipient's local part:
    bad*  -> 550 5.1.1     tmp* -> 450 4.2.1     datafail* (any) -> DATA 554 5.6.0
    full* -> 452 4.2.2 (a full mailbox: not "too many recipients")
    more than `max_rcpt` recipients in one transaction -> 452 4.5.3
  Without ENHANCEDSTATUSCODES (oldstyle), the same replies without their enhanced codes.
  plain     PIPELINING, ENHANCEDSTATUSCODES, DSN (accepted by a subclass), SIZE 200000, 8BITMIME, SMTPUTF8
  nodsn     as plain, without DSN
  starttls  STARTTLS required, then AUTH PLAIN/LOGIN (user / secret) required; self-signed certificate for localhost
  login     as starttls, offering AUTH LOGIN only
  implicit  TLS from the first byte (port 465 style), AUTH not required
  backup    on 127.0.0.3 at plain's port, taking every recipient: the second MX of mx2.test
  roomy     as plain, up to 1000 recipients a transaction
  tight     as plain, but every recipient is one too many (452 4.5.3)
  oldstyle  as plain, without ENHANCEDSTATUSCODES
  authreq   AUTH PLAIN/LOGIN (user / secret) required, offered without TLS
  Each accepted message is written to <dir>/mail/<listener>/<n>.eml: "mail: <from> <options>",
  "rcpt: <to>" lines, "rcpt-options: ...", "tls: yes|no", "peer: <client address>:<port>", "auth: <user>",
  a blank line, then the data. Each QUIT adds "peer: <client address>:<port>" to <dir>/mail/<listener>/quits.

  Raw servers: stall (accepts, never answers), dropdata (drops the connection
  in the middle of the message data), garbage (a reply line without a code
  after EHLO), longline (a 5000-octet greeting line), badtls (offers STARTTLS,
  then answers the handshake with plain text), greet554 (a 554 banner),
  drip_<phase> (prompt, except the reply of one phase: greeting, ehlo, auth,
  mail, rcpt, data or dot, which comes an octet every 0.1 s; AUTH PLAIN is
  offered, and any credentials are taken).

  Postfix's smtp-sink: sink (plain, dumps to <dir>/mail/sink), sink_quit_dot
  (-q .: hangs up after the message data without a reply), sink_421_mail
  (-Q MAIL), sink_reject_rcpt (-f RCPT), sink_no_esmtp (-e: EHLO refused),
  sink_no_8bit (-8: no 8BITMIME).

  dnsmasq: a name server for *.test (see `dns_records`).
"""

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

run_dir = sys.argv[1]
children = []


used_ports = set()


def free_port():
    # A port the kernel just handed out may come back on the next ask, once
    # closed; two peers on one port (smtp-sink sets SO_REUSEPORT) would share
    # its connections, so each port is taken once.
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in used_ports:
            used_ports.add(port)
            return port


class DsnSMTP(SMTP):
    """aiosmtpd answers every RCPT parameter with 555; this one takes DSN's."""

    def _getparams(self, params):
        result = super()._getparams(params)
        if result is not None:
            for key in ("RET", "ENVID", "NOTIFY", "ORCPT"):
                result.pop(key, None)
        return result


class Handler:
    def __init__(self, name, dsn, max_rcpt=3, accept_all=False, enhanced=True):
        self.name = name
        self.enhanced = enhanced
        self.accept_all = accept_all
        self.dsn = dsn
        self.max_rcpt = max_rcpt
        self.count = 0
        self.folder = os.path.join(run_dir, "mail", name)
        os.makedirs(self.folder, exist_ok=True)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        extra = ["250-PIPELINING"] + (["250-ENHANCEDSTATUSCODES"] if self.enhanced else []) + (["250-DSN"] if self.dsn else [])
        return responses[:1] + extra + responses[1:]

    async def handle_QUIT(self, server, session, envelope):
        with open(os.path.join(self.folder, "quits"), "a") as f:
            f.write(f"peer: {session.peer[0]}:{session.peer[1]}\n")
        return "221 2.0.0 Bye"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if self.accept_all:
            pass
        elif local.startswith("bad"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        elif local.startswith("tmp"):
            return f"450 4.2.1 <{address}>: Recipient address rejected: Mailbox busy"
        elif local.startswith("full"):
            return self.reply(452, "4.2.2", f"<{address}>: Recipient address rejected: Mailbox full")
        if len(envelope.rcpt_tos) >= self.max_rcpt:
            return self.reply(452, "4.5.3", "Error: too many recipients")
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(" ".join(rcpt_options))
        return "250 2.1.5 Ok"

    def reply(self, code, enhanced, text):
        return f"{code} {enhanced} {text}" if self.enhanced else f"{code} {text}"

    async def handle_DATA(self, server, session, envelope):
        if any(r.lower().startswith("datafail") for r in envelope.rcpt_tos):
            return "554 5.6.0 Error: message content rejected"
        self.count += 1
        lines = [f"mail: {envelope.mail_from} {' '.join(envelope.mail_options)}"]
        lines += [f"rcpt: {r}" for r in envelope.rcpt_tos]
        lines += [f"rcpt-options: {o}" for o in envelope.rcpt_options]
        # session.ssl is set by STARTTLS only; implicit TLS shows on the transport.
        encrypted = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        lines.append(f"tls: {'yes' if encrypted else 'no'}")
        lines.append(f"peer: {session.peer[0]}:{session.peer[1]}")
        lines.append(f"auth: {session.auth_data.decode() if isinstance(session.auth_data, bytes) else ''}")
        data = envelope.original_content or b""
        with open(os.path.join(self.folder, f"{self.count}.eml.tmp"), "wb") as f:
            f.write(("\n".join(lines) + "\n\n").encode())
            f.write(data)
        os.rename(os.path.join(self.folder, f"{self.count}.eml.tmp"), os.path.join(self.folder, f"{self.count}.eml"))
        return f"250 2.0.0 Ok: queued as {self.name}-{self.count}"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = getattr(auth_data, "login", None) == b"user" and getattr(auth_data, "password", None) == b"secret"
    # handled=False: aiosmtpd then answers a failure with 535 5.7.8 itself.
    return AuthResult(success=ok, handled=False, auth_data=b"user" if ok else None)


class DsnController(Controller):
    def factory(self):
        return DsnSMTP(self.handler, **self.SMTP_kwargs)


def make_certificate():
    cert, key = os.path.join(run_dir, "cert.pem"), os.path.join(run_dir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def stall(reader, writer):
    await reader.read(1 << 20)  # never answers; returns when the client hangs up
    writer.close()


async def verbs(reader):
    """Each command's verb (its first four octets, in upper case) until the client hangs up."""
    while line := await reader.readline():
        yield line[:4].upper()


async def drop_in_data(reader, writer):
    writer.write(b"220 dropdata ESMTP\r\n")
    async for verb in verbs(reader):
        if verb in (b"EHLO", b"HELO"):
            writer.write(b"250-dropdata\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            writer.write(b"354 go ahead\r\n")
            await writer.drain()
            await reader.read(10)  # some of the message, then hang up
            break
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()
    writer.close()


async def garbage(reader, writer):
    writer.write(b"220 garbage ESMTP\r\n")
    await writer.drain()
    await reader.readline()
    writer.write(b"250-garbage\r\nthis is not an SMTP reply\r\n")
    await writer.drain()
    await reader.read(1 << 16)
    writer.close()


async def long_line(reader, writer):
    writer.write(b"220 " + b"x" * 5000 + b"\r\n")
    await writer.drain()
    await reader.read(1 << 16)
    writer.close()


async def bad_tls(reader, writer):
    writer.write(b"220 badtls ESMTP\r\n")
    while True:
        line = await reader.readline()
        if not line:
            break
        verb = line[:8].upper()
        if verb.startswith(b"EHLO"):
            writer.write(b"250-badtls\r\n250 STARTTLS\r\n")
        elif verb.startswith(b"STARTTLS"):
            writer.write(b"220 go ahead\r\n")
            await writer.drain()
            await reader.read(1 << 16)  # the client's hello
            writer.write(b"this is not TLS at all\r\n" * 4)
            await writer.drain()
            break
        else:
            writer.write(b"502 no\r\n")
        await writer.drain()
    writer.close()


DRIP_PAUSE = 0.1  # seconds between octets: far inside any limit on one read


async def drip(writer, data):
    for octet in data:
        writer.write(bytes([octet]))
        await writer.drain()
        await asyncio.sleep(DRIP_PAUSE)


def dripping(phase):
    """A server that answers promptly, except the reply of `phase` (greeting,
    ehlo, auth, mail, rcpt, data, dot), which it drips an octet at a time:
    every reply is over 45 octets, so a dripped one takes over 4.5 s."""
    replies = {
        "greeting": b"220 drip ESMTP: this greeting comes one octet at a time\r\n",
        "ehlo": b"250-drip: this EHLO reply comes one octet at a time\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n",
        "auth": b"235 2.7.0 Authentication successful, one octet at a time\r\n",
        "mail": b"250 2.1.0 Sender ok: this reply comes one octet at a time\r\n",
        "rcpt": b"250 2.1.5 Recipient ok: this reply comes one octet at a time\r\n",
        "data": b"354 End data with <CR><LF>.<CR><LF>, one octet at a time\r\n",
        "dot": b"250 2.0.0 Queued: this reply comes one octet at a time\r\n",
    }

    async def answer(writer, which):
        if which == phase:
            await drip(writer, replies[which])
        else:
            writer.write(replies[which])
            await writer.drain()

    async def serve(reader, writer):
        try:
            await answer(writer, "greeting")
            async for verb in verbs(reader):
                if verb in (b"EHLO", b"HELO"):
                    await answer(writer, "ehlo")
                elif verb == b"AUTH":
                    await answer(writer, "auth")
                elif verb == b"MAIL":
                    await answer(writer, "mail")
                elif verb == b"RCPT":
                    await answer(writer, "rcpt")
                elif verb == b"DATA":
                    await answer(writer, "data")
                    while (await reader.readline()) not in (b".\r\n", b""):
                        pass
                    await answer(writer, "dot")
                elif verb == b"QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 2.0.0 Ok\r\n")
                    await writer.drain()
        except (ConnectionError, OSError):
            pass  # the client gave up on the dripped reply, as it should
        writer.close()

    return serve


async def greet_554(reader, writer):
    writer.write(b"554 5.3.2 greet554 is not accepting mail\r\n")
    await writer.drain()
    await reader.read(1 << 16)
    writer.close()


def dns_records(ports):
    # mx.test: the preferred exchanger refuses connections (127.0.0.2), the next one is the plain peer.
    return ["--mx-host=mx.test,mx-b.mx.test,20", "--mx-host=mx.test,mx-a.mx.test,10",
            "--host-record=mx-a.mx.test,127.0.0.2", "--host-record=mx-b.mx.test,127.0.0.1",
            "--host-record=nomx.test,127.0.0.1",  # no MX: its own address is the implicit MX
            # mx2.test: the plain peer first (it defers tmp*), then "backup" on 127.0.0.3, which takes all.
            "--mx-host=mx2.test,mx2-a.mx2.test,10", "--mx-host=mx2.test,mx2-b.mx2.test,20",
            "--host-record=mx2-a.mx2.test,127.0.0.1", "--host-record=mx2-b.mx2.test,127.0.0.3",
            "--dns-rr=nullmx.test,15,000000"]  # RFC 7505: preference 0, the root name


def start_child(args, name):
    log = open(os.path.join(run_dir, f"{name}.log"), "wb")
    children.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))


def main():
    os.makedirs(os.path.join(run_dir, "mail"), exist_ok=True)
    ports = {}
    tls = make_certificate()
    controllers = []
    for name, kwargs in [("plain", dict(dsn=True)), ("nodsn", dict(dsn=False))]:
        ports[name] = free_port()
        c = DsnController(Handler(name, kwargs["dsn"]), hostname="127.0.0.1", port=ports[name], data_size_limit=200000,
                          enable_SMTPUTF8=True, auth_require_tls=True, authenticator=authenticator)
        controllers.append(c)
    ports["starttls"] = free_port()
    controllers.append(DsnController(Handler("starttls", True), hostname="127.0.0.1", port=ports["starttls"],
                                     tls_context=tls, require_starttls=True, auth_required=True,
                                     authenticator=authenticator))
    # The second MX of mx2.test: the plain listener's port on another loopback
    # address, taking every recipient (so what the first MX deferred arrives here).
    controllers.append(DsnController(Handler("backup", True, accept_all=True), hostname="127.0.0.3", port=ports["plain"],
                                     data_size_limit=200000, enable_SMTPUTF8=True))
    for name, kwargs in [("roomy", dict(max_rcpt=1000)), ("tight", dict(max_rcpt=0)), ("oldstyle", dict(enhanced=False))]:
        ports[name] = free_port()
        controllers.append(DsnController(Handler(name, True, **kwargs), hostname="127.0.0.1", port=ports[name],
                                         data_size_limit=200000, enable_SMTPUTF8=True))
    # AUTH required, and offered without TLS: MAIL before AUTH gets 530 5.7.0.
    ports["authreq"] = free_port()
    controllers.append(DsnController(Handler("authreq", True), hostname="127.0.0.1", port=ports["authreq"],
                                     auth_required=True, auth_require_tls=False, authenticator=authenticator))
    ports["login"] = free_port()
    controllers.append(DsnController(Handler("login", True), hostname="127.0.0.1", port=ports["login"],
                                     tls_context=tls, require_starttls=True, auth_required=True,
                                     auth_exclude_mechanism=["PLAIN"], authenticator=authenticator))
    ports["implicit"] = free_port()
    controllers.append(DsnController(Handler("implicit", True), hostname="127.0.0.1", port=ports["implicit"],
                                     ssl_context=tls, authenticator=authenticator))
    for c in controllers:
        c.start()

    loop = asyncio.new_event_loop()
    servers = {"stall": stall, "dropdata": drop_in_data, "garbage": garbage, "longline": long_line,
               "badtls": bad_tls, "greet554": greet_554}
    for phase in ("greeting", "ehlo", "auth", "mail", "rcpt", "data", "dot"):
        servers["drip_" + phase] = dripping(phase)
    for name, serve in servers.items():
        ports[name] = free_port()
        loop.run_until_complete(asyncio.start_server(serve, "127.0.0.1", ports[name]))
    threading.Thread(target=loop.run_forever, daemon=True).start()

    sink = ["/usr/sbin/smtp-sink"] + (["-u", "nobody"] if os.geteuid() == 0 else [])
    sinks = {"sink": ["-d", os.path.join(run_dir, "mail", "sink") + "/"], "sink_quit_dot": ["-q", "."],
             "sink_421_mail": ["-Q", "MAIL"], "sink_reject_rcpt": ["-f", "RCPT"],
             "sink_no_esmtp": ["-e"], "sink_no_8bit": ["-8"]}
    os.makedirs(os.path.join(run_dir, "mail", "sink"), exist_ok=True)
    os.chmod(os.path.join(run_dir, "mail", "sink"), 0o777)
    for name, options in sinks.items():
        ports[name] = free_port()
        start_child(sink + options + [f"127.0.0.1:{ports[name]}", "256"], name)

    ports["dns"] = free_port()
    start_child(["/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", f"--port={ports['dns']}",
                 "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", "--local=/test/",
                 "--pid-file=", f"--log-facility={os.path.join(run_dir, 'dnsmasq-queries.log')}"]
                + dns_records(ports), "dnsmasq")

    # Every listener answers before the tests are told the ports.
    for name, port in ports.items():
        udp = name == "dns"
        for _ in range(100):
            if any(p.poll() is not None for p in children):
                raise SystemExit(f"a peer exited at start: see the logs in {run_dir}")
            try:
                if udp:
                    break
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                threading.Event().wait(0.1)
        else:
            raise SystemExit(f"peer {name} did not start on port {port}")
    with open(os.path.join(run_dir, "ports"), "w") as f:
        f.writelines(f"{k}={v}\n" for k, v in ports.items())
    open(os.path.join(run_dir, "ready"), "w").close()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for p in children:
        p.terminate()
    for p in children:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
    for c in controllers:
        c.stop()


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in children:
            if p.poll() is None:
                p.kill()
