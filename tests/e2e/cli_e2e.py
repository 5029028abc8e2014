#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""lockstep e2e: the real `lockstep` CLI as separate processes over loopback.

Usage: cli_e2e.py --lockstep PATH [--valgrind] CASE...   (CASE: a name from CASES, or "all")

--valgrind runs every lockstep process under valgrind memcheck (its report goes
to a log file per process, not to the streams the cases check); a case then
passes only if every process reported zero errors and nothing definitely,
indirectly or possibly lost. Timeouts are multiplied by SLOW.

Every case works in its own temporary directory with ephemeral ports, so cases
run in parallel. Every wait is bounded (process timeouts, polling deadlines) and
every server process is killed on every path. Standard library only.
"""
import argparse
import base64
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

WAIT = 30.0  # seconds: the longest any single command may take
SLOW = 1.0   # timeout multiplier (set from --valgrind)
MEMCHECK = ["valgrind", "--tool=memcheck", "--error-exitcode=97", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible", "--errors-for-leak-kinds=definite,indirect,possible",
            "--track-fds=no", "--num-callers=30"]
MODES = ["cert", "psk", "cert+psk", "psk-only"]
READING = re.compile(r"^t=\d+ temp=-?\d+\.\d\d hum=\d+\.\d$")
HELLO = r"hello\s+seq="  # "hello" padded, so "hello ack" does not match


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


class Env:
    """A temporary directory with credentials made by the CLI itself."""

    def __init__(self, exe, tmp, valgrind=False):
        self.exe = exe
        self.tmp = tmp
        self.valgrind = valgrind

    def path(self, name):
        return os.path.join(self.tmp, name)

    def cmd(self, *args):
        """The command line that runs `lockstep args...` (under memcheck with --valgrind)."""
        if not self.valgrind:
            return [self.exe, *args]
        if args and args[0] == "request" and "--timeout" not in args:  # the 5 s default, scaled
            args = (*args, "--timeout", str(int(5000 * SLOW)))
        return [*MEMCHECK, f"--log-file={self.path('memcheck.%p.log')}", self.exe, *args]

    def memcheck_failures(self):
        """With --valgrind: the reports of processes that had errors or leaks, or ended without a report."""
        logs = {}  # pid -> report
        for name in os.listdir(self.tmp):
            m = re.fullmatch(r"memcheck\.(\d+)\.log", name)
            if m:
                logs[m.group(1)] = read(self.path(name))
        bad = []
        for pid, text in sorted(logs.items()):
            parent = re.search(r"^==\d+== Parent PID: (\d+)$", text, re.M)
            if "ERROR SUMMARY" not in text and parent and parent.group(1) in logs:
                continue  # a child the server forked for a cmd: source; it exec'd /bin/sh, which is not ours
            if not re.search(r"^==\d+== ERROR SUMMARY: 0 errors from 0 contexts", text, re.M):
                command = re.search(r"^==\d+== Command: (.*)$", text, re.M)
                bad.append(f"{command.group(1) if command else pid}:\n{text[-4000:]}")
        return bad

    def run(self, *args, expect=None, timeout=WAIT):
        p = subprocess.run(self.cmd(*args), cwd=self.tmp, capture_output=True, text=True, timeout=timeout * SLOW)
        if expect is not None:
            check(p.returncode == expect,
                  f"lockstep {' '.join(args)}: exit {p.returncode}, expected {expect}\n"
                  f"stdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}")
        return p

    def error(self, args, code, pattern):
        """Runs a command that must fail with `code` and one 'error:' line matching pattern."""
        p = self.run(*args, expect=code)
        lines = [l for l in p.stderr.splitlines() if l.strip() and not l.startswith("warning: ")]
        check(len(lines) == 1 and lines[0].startswith("error: "),
              f"lockstep {' '.join(args)}: expected one error line, got {p.stderr!r}")
        check(re.search(pattern, lines[0]), f"lockstep {' '.join(args)}: {lines[0]!r} does not match {pattern!r}")
        return lines[0]

    def make_credentials(self):
        """The credentials every case uses, made without memcheck (case_keys checks these commands under it)."""
        valgrind, self.valgrind = self.valgrind, False
        try:
            self._make_credentials()
        finally:
            self.valgrind = valgrind

    def _make_credentials(self):
        self.run("ca", "init", "--out", "ca", expect=0)
        self.run("ca", "init", "--out", "other-ca", "--subject", "Other CA", expect=0)
        self.run("cert", "issue", "--ca", "ca", "--role", "server", "--subject", "server.test", "--out", "server",
                 expect=0)
        self.run("cert", "issue", "--ca", "ca", "--role", "client", "--subject", "device-1", "--out", "device",
                 expect=0)
        self.run("cert", "issue", "--ca", "other-ca", "--role", "client", "--subject", "intruder", "--out",
                 "intruder", expect=0)
        self.run("psk", "gen", "--out", "device.psk", "--id", "device-1", expect=0)
        self.run("psk", "gen", "--out", "stranger.psk", "--id", "stranger", expect=0)

    def client_creds(self):
        return ["--cert", "device.cert", "--key", "device.key", "--ca", "ca", "--psk", "device.psk",
                "--server-name", "server.test"]

    def server_creds(self):
        return ["--cert", "server.cert", "--key", "server.key", "--ca", "ca", "--psk", "device.psk"]


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise Fail(f"timed out waiting for {what}")


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def start_listener(env, cmd, tag, pattern):
    """Starts cmd with its output in the files tag.out and tag.err (no pipe can fill) and waits for its
    listening line; returns (process, out, err, the line's match for pattern). Killed if it never listens."""
    out, err = env.path(f"{tag}.out"), env.path(f"{tag}.err")
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen(cmd, cwd=env.tmp, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: "listening" in read(out) or p.poll() is not None, 10 * SLOW, f"the listening line of {tag}")
        m = re.search(pattern, read(out), re.M)
        check(m is not None, f"{tag} printed no listening line: {read(out)!r} {read(err)!r}")
    except BaseException:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        raise
    return p, out, err, m


class Listener:
    """A process from start_listener (self.p), killed on every path: `with`, or kill()."""

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


class Server(Listener):
    """`lockstep serve` on ephemeral TCP and UDP ports; output goes to files (no pipe can fill)."""
    count = 0

    def __init__(self, env, *args):
        Server.count += 1
        self.env = env
        self.p, self.out, self.err, m = start_listener(env, env.cmd("serve", "--tcp", "0", "--udp", "0", *args),
                                                       f"serve{Server.count}", r"^listening tcp=(\S+) udp=(\S+)$")
        self.tcp, self.udp = m.group(1), m.group(2)

    def addr(self, transport):
        return self.tcp if transport == "tcp" else self.udp

    def stop(self, timeout=10):
        """SIGTERM; returns (exit code, seconds it took)."""
        t0 = time.monotonic()
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Fail(f"the server did not exit within {timeout * SLOW:.0f} s of SIGTERM")
        return rc, time.monotonic() - t0

    def __exit__(self, exc_type, *exc):
        """A case that ends normally stops the server cleanly (so memcheck reports); a failing one kills it."""
        if exc_type is None and self.p.poll() is None:
            rc, _ = self.stop()
            check(rc == 0, f"serve exited {rc} after SIGTERM:\n{read(self.err)[-2000:]}")
        self.kill()

def free_port():
    """A loopback TCP port with nobody listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- cases
def case_keys(env):
    """ca init / cert issue / cert show / psk gen: files, modes, fields, verification."""
    for f in ["ca/ca.key", "server.key", "device.key", "device.psk"]:
        mode = stat.S_IMODE(os.stat(env.path(f)).st_mode)
        check(mode == 0o600, f"{f} has mode {mode:o}, expected 600")
    p = env.run("cert", "show", "server.cert", "--ca", "ca", expect=0)
    for field in ["version:", "role:           server", "key alg:        ed25519", "subject:        server.test",
                  "serial:         0x", "not before:", "not after:", "UTC", "issuer key id:", "public key:",
                  "signature alg:  ed25519", "verifies:       yes"]:
        check(field in p.stdout, f"cert show lacks {field!r}:\n{p.stdout}")
    env.error(["cert", "show", "intruder.cert", "--ca", "ca"], 4, r"does not verify.*not issued by this CA")
    p = env.run("cert", "show", "ca/ca.cert", expect=0)
    check("self-signature: valid" in p.stdout, p.stdout)
    env.run("cert", "issue", "--ca", "ca", "--role", "client", "--subject", "rsa-dev", "--out", "rsa", "--alg",
            "rsa2048", expect=0)
    p = env.run("cert", "show", "rsa.cert", "--ca", "ca", expect=0)
    check("rsa2048" in p.stdout and "verifies:       yes" in p.stdout, p.stdout)
    env.error(["psk", "gen", "--out", "device.psk"], 2, r"refusing to overwrite")
    env.error(["ca", "init", "--out", "ca"], 2, r"refusing to overwrite")
    env.error(["cert", "issue", "--ca", "nowhere", "--role", "server", "--subject", "x", "--out", "x"], 2,
              r"not found")
    env.error(["cert", "issue", "--ca", "ca", "--role", "admin", "--subject", "x", "--out", "x"], 1, r"role")
    psk = read(env.path("device.psk"))
    check(re.search(r"^id=device-1$", psk, re.M) and re.search(r"^key=[0-9a-f]{64}$", psk, re.M), psk)


def case_modes(env):
    """serve + request over TCP and UDP in every mode; responses arrive."""
    with Server(env, "--mode", ",".join(MODES), *env.server_creds()) as srv:
        for mode in MODES:
            for tr in ["tcp", "udp"]:
                p = env.run("request", srv.addr(tr), f"--{tr}", "--mode", mode, *env.client_creds(), "-n", "3",
                            "--body", "m=2", "--summary", expect=0)
                readings = [l for l in p.stdout.splitlines() if READING.match(l)]
                check(len(readings) == 6, f"{mode}/{tr}: expected 6 readings, got:\n{p.stdout}")
                check(f"mode {mode}," in p.stdout and "3 sent, 3 answered" in p.stdout, p.stdout)
                check("clean (CLOSE, CLOSE ACK)" in p.stdout, p.stdout)
                if mode == "psk-only":
                    check("not forward secret" in p.stderr, f"request psk-only printed no warning: {p.stderr!r}")
        rc, _ = srv.stop()
        check(rc == 0, f"serve exited {rc}")
        check("not forward secret" in read(srv.err), "serve with psk-only printed no warning")
        check("8 established, 24 requests" in read(srv.out), read(srv.out))


def case_trace(env):
    """--trace: the seed's field notation on both ends, re-keys visible, no secret printed."""
    with Server(env, "--mode", "cert+psk", *env.server_creds(), "--rekey-after", "2", "--trace") as srv:
        p = env.run("request", srv.tcp, *env.client_creds(), "-n", "5", "--trace", "--summary", expect=0)
        srv.stop()
        client, server = p.stderr, read(srv.err)
    check(len(re.findall(r"^\[client\] snd " + HELLO, client, re.M)) == 1, client)
    check(len(re.findall(r"^\[client\] rcv " + HELLO, client, re.M)) == 2, client)
    check(len(re.findall(r"^\[server 127\.0\.0\.1:\d+\] snd " + HELLO, server, re.M)) == 2, server)
    check(re.search(r"^\[client\] snd hello\s+seq=0x[0-9a-f]{8} ttl=\d+ epoch=0 len=\d+$", client, re.M), client)
    check(re.search(r"^\[client\] rcv data response\s+seq=0x[0-9a-f]{8} ack=0x[0-9a-f]{8} ttl=\d+ data=\d+ "
                    r"epoch=\d+ len=\d+$", client, re.M), client)
    check(re.search(r"^\[client\] snd data ack\s+seq=\S+ ack=\S+ ttl=\d+ nonce=0x[0-9a-f]{8} epoch", client, re.M),
          client)
    check(re.search(r"^\[client\] snd close\s+.* reason=normal ", client, re.M), client)
    check(re.search(r"^\[client\] rcv close ack\s", client, re.M), client)
    check("re-keys       2" in p.stdout, p.stdout)
    key = re.search(r"^key=([0-9a-f]+)$", read(env.path("device.psk")), re.M).group(1)
    for out in [p.stdout, client, server]:
        check(key not in out and key[:16] not in out, "a trace printed the PSK")


def case_errors(env):
    """Every CLI error path: one clear line and its exit code."""
    with Server(env, "--mode", "cert,psk", *env.server_creds()) as srv:
        t, u = srv.tcp, srv.udp
        env.error(["request", t, "--bogus"], 1, r"--bogus")
        env.error(["request", t, "--mode", "nonsense", "--psk", "device.psk"], 1, r"unknown mode")
        env.error(["serve", "--psk", "device.psk"], 1, r"--tcp PORT")
        env.error(["request", t, "--mode", "cert", "--cert", "device.cert", "--key", "missing.key", "--ca", "ca"], 2,
                  r"key file missing\.key not found")
        with open(env.path("device.key"), "rb") as f, open(env.path("open.key"), "wb") as g:
            g.write(f.read())
        os.chmod(env.path("open.key"), 0o644)
        env.error(["request", t, "--mode", "cert", "--cert", "device.cert", "--key", "open.key", "--ca", "ca"], 2,
                  r"readable by group/others \(mode 0644\); run chmod 600")
        with open(env.path("device.psk"), "rb") as f, open(env.path("open.psk"), "wb") as g:
            g.write(f.read())
        os.chmod(env.path("open.psk"), 0o640)
        env.error(["request", t, "--psk", "open.psk"], 2, r"chmod 600")
        # A PSK carries >= 128 random bits (spec §6.7): a password or a patterned key is refused.
        for name, data in [("password.psk", b"correct horse battery staple\n"),
                           ("zeros.psk", b"id=zeros\nkey=" + b"00" * 32 + b"\n")]:
            with open(env.path(name), "wb") as f:
                f.write(data)
            os.chmod(env.path(name), 0o600)
        env.error(["request", t, "--psk", "password.psk"], 2, r"is text, like a password")
        env.error(["request", t, "--psk", "zeros.psk"], 2, r"does not look random \(1 distinct")
        with open(env.path("bad.cert"), "wb") as f:
            f.write(b"\x01\x02garbage that is not a certificate")
        env.error(["request", t, "--mode", "cert", "--cert", "bad.cert", "--key", "device.key", "--ca", "ca"], 2,
                  r"certificate bad\.cert is malformed")
        env.error(["request", t, "--mode", "cert", "--cert", "server.cert", "--key", "server.key", "--ca", "ca"], 2,
                  r"not a client certificate")
        # A server does not start with its own certificate outside its validity.
        env.run("cert", "issue", "--ca", "ca", "--role", "server", "--subject", "old", "--out", "old", "--days", "0")
        expired_at = time.time() + 1.1
        while time.time() < expired_at:  # its last valid second passes
            time.sleep(0.05)
        env.error(["serve", "--tcp", "0", "--mode", "cert", "--cert", "old.cert", "--key", "old.key", "--ca", "ca"], 2,
                  r"certificate old\.cert has expired")
        with open(env.path("bad.toml"), "w") as f:
            f.write("mode = [\n")
        env.error(["serve", "--config", "bad.toml"], 2, r"config file bad\.toml:\d+:\d+")
        with open(env.path("tbool.toml"), "w") as f:  # the parser's message quotes the newline: still one line
            f.write("trace = t\ntcp = 0\n")
        env.error(["serve", "--config", "tbool.toml"], 2, r"config file tbool\.toml:1:\d+: .*boolean.*\\n")
        with open(env.path("unknown.toml"), "w") as f:
            f.write("tcp = 0\nfrobnicate = 1\n")
        env.error(["serve", "--config", "unknown.toml"], 2, r"unknown key 'frobnicate'")

        port = free_port()
        env.error(["request", f"127.0.0.1:{port}", "--psk", "device.psk"], 3, r"refused")
        env.error(["request", f"127.0.0.1:{port}", "--udp", "--timeout", "1000", "--psk", "device.psk"], 3,
                  r"no answer")
        # Wrong CA on the client: it rejects the server's certificate.
        for tr, a in [("tcp", t), ("udp", u)]:
            env.error(["request", a, f"--{tr}", "--mode", "cert", "--cert", "intruder.cert", "--key", "intruder.key",
                       "--ca", "other-ca"], 4, r"authentication failed: .*not issued by our CA")
            # The server rejects the client's certificate (issued by another CA).
            env.error(["request", a, f"--{tr}", "--timeout", str(int(2000 * SLOW)), "--mode", "cert", "--cert",
                       "intruder.cert", "--key", "intruder.key", "--ca", "ca", "--server-name", "server.test"], 4,
                      r"authentication failed: the server rejected our certificate")
            if tr == "tcp":
                env.error(["request", a, f"--{tr}", "--mode", "psk", "--psk", "stranger.psk"], 4,
                          r"rejected our PSK \(identity 'stranger'")
            else:  # a datagram server stays silent to a PSK it does not know (no identity probing)
                env.error(["request", a, f"--{tr}", "--timeout", "1500", "--mode", "psk", "--psk", "stranger.psk"], 3,
                          r"no answer .* does not answer a PSK identity or key it does not know")
            env.error(["request", a, f"--{tr}", "--mode", "psk-only", "--psk", "device.psk"], 4,
                      r"no_common_parameters")
        rc, _ = srv.stop()
        check(rc == 0, f"serve exited {rc}")
    # Port in use.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        env.error(["serve", "--tcp", str(s.getsockname()[1]), "--psk", "device.psk"], 3, r"cannot listen")


def case_sigterm(env):
    """SIGTERM to the server mid-exchange: the client reports reason shutdown, the server exits 0 promptly."""
    for tr in ["tcp", "udp"]:
        with Server(env, "--psk", "device.psk") as srv:
            out, err = env.path(f"client-{tr}.out"), env.path(f"client-{tr}.err")
            with open(out, "w") as o, open(err, "w") as e:
                c = subprocess.Popen(env.cmd("request", srv.addr(tr), f"--{tr}", "--psk", "device.psk", "-n", "500",
                                             "--interval", "20", "--body", "m=1"), cwd=env.tmp, stdout=o, stderr=e)
            try:
                wait_for(lambda: len(read(out).splitlines()) >= 3, 10 * SLOW, "three responses")
                rc, took = srv.stop()
                check(rc == 0, f"{tr}: serve exited {rc} after SIGTERM")
                check(took < 5 * SLOW, f"{tr}: serve took {took:.1f} s to stop")
                crc = c.wait(timeout=WAIT)
            finally:
                if c.poll() is None:
                    c.kill()
                    c.wait(timeout=10)
            check(crc == 5, f"{tr}: client exited {crc}, expected 5: {read(err)!r}")
            check(re.search(r"^error: connection closed by the server \(reason shutdown\) during request \d+ of 500; "
                            r"unanswered: \d+-500$", read(err), re.M), read(err))


def case_unanswered(env):
    """Exit 6: request 2 gets no response in time; the client goes on over a new connection."""
    timeout_ms = int(1000 * SLOW)
    cmd = ('cmd:n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; '
           f'if [ $n -eq 2 ]; then sleep {1.5 * SLOW}; fi; echo ok $n')
    with Server(env, "--psk", "device.psk", "--source", cmd, "--cmd-timeout", str(5 * timeout_ms)) as srv:
        p = env.run("request", srv.tcp, "--psk", "device.psk", "-n", "4", "--timeout", str(timeout_ms), "--summary",
                    expect=6)
    check(re.search(rf"^error: 1 of 4 requests unanswered: 2 \(request 2: no response within {timeout_ms} ms\)$",
                    p.stderr, re.M), p.stderr)
    check("ok 1" in p.stdout and "ok 3" in p.stdout and "ok 4" in p.stdout, p.stdout)


def case_sources(env):
    """file: and cmd: sources; a command that hangs is cut off, and the server stays responsive."""
    with open(env.path("data.bin"), "wb") as f:
        f.write(bytes(range(256)))
    with Server(env, "--psk", "device.psk", "--source", "file:data.bin") as srv:
        p = env.run("request", srv.tcp, "--psk", "device.psk", expect=0)
        check(p.stdout.strip() == "hex:" + bytes(range(256)).hex(), p.stdout)
    with Server(env, "--psk", "device.psk", "--source", "cmd:tr a-z A-Z") as srv:
        p = env.run("request", srv.udp, "--udp", "--psk", "device.psk", "--body", "hello lockstep", expect=0)
        check(p.stdout.strip() == "HELLO LOCKSTEP", p.stdout)
    with Server(env, "--psk", "device.psk", "--source", "cmd:sleep 30", "--cmd-timeout", "300") as srv:
        t0 = time.monotonic()
        p = env.run("request", srv.tcp, "--psk", "device.psk", "-n", "2", expect=0)
        check(time.monotonic() - t0 < 5 * SLOW, "a hanging command held the server")
        check(p.stdout.count("error: command timed out after 300 ms") == 2, p.stdout)
        rc, took = srv.stop()
        check(rc == 0 and took < 5 * SLOW, f"serve exited {rc} after {took:.1f} s")
    with Server(env, "--psk", "device.psk", "--source", "cmd:exit 3") as srv:
        p = env.run("request", srv.tcp, "--psk", "device.psk", expect=0)
        check("error: command exited with status 3" in p.stdout, p.stdout)


def case_services(env):
    """tcp: and http: sources: a framed TCP service and an HTTP service in this process; refused, failing,
    slow and oversized services each give a clear error text and the server carries on."""
    import http.server
    import struct
    import threading

    def tcp_service(sock):
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                head = conn.recv(4, socket.MSG_WAITALL)
                (n,) = struct.unpack(">I", head)
                body = conn.recv(n, socket.MSG_WAITALL) if n else b""
                reply = b"svc:" + body.upper()
                if body == b"big":
                    reply = b"x" * 20000
                conn.sendall(struct.pack(">I", len(reply)) + reply)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/slow":
                time.sleep(2)
            status, reply = (500, b"broken") if self.path == "/fail" else (200, b"http:" + body[::-1])
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threads = [threading.Thread(target=tcp_service, args=(lsock,), daemon=True),
               threading.Thread(target=httpd.serve_forever, daemon=True)]
    for t in threads:
        t.start()
    tport, hport = lsock.getsockname()[1], httpd.server_address[1]
    try:
        with Server(env, "--psk", "device.psk", "--source", f"tcp:127.0.0.1:{tport}", "--max-data", "1000") as srv:
            p = env.run("request", srv.tcp, "--psk", "device.psk", "--body", "reading", "-n", "2", expect=0)
            check(p.stdout.split() == ["svc:READING"] * 2, p.stdout)
            p = env.run("request", srv.udp, "--udp", "--psk", "device.psk", "--body", "big", "--max-data", "1000",
                        expect=0)
            check("error: tcp source 127.0.0.1:%d: reply of 20000 bytes exceeds 1000 bytes" % tport in p.stdout,
                  p.stdout)
        with Server(env, "--psk", "device.psk", "--source", f"tcp:127.0.0.1:{free_port()}") as srv:
            p = env.run("request", srv.tcp, "--psk", "device.psk", expect=0)
            check(re.search(r"error: tcp source 127\.0\.0\.1:\d+: Connection refused", p.stdout), p.stdout)
        base = f"http://127.0.0.1:{hport}"
        with Server(env, "--psk", "device.psk", "--source", base + "/data", "--cmd-timeout", "500") as srv:
            p = env.run("request", srv.tcp, "--psk", "device.psk", "--body", "abc", expect=0)
            check(p.stdout.strip() == "http:cba", p.stdout)
        with Server(env, "--psk", "device.psk", "--source", base + "/fail") as srv:
            p = env.run("request", srv.tcp, "--psk", "device.psk", expect=0)
            check(f"error: http source {base}/fail: HTTP status 500" in p.stdout, p.stdout)
        with Server(env, "--psk", "device.psk", "--source", base + "/slow", "--cmd-timeout", "300") as srv:
            t0 = time.monotonic()
            p = env.run("request", srv.tcp, "--psk", "device.psk", expect=0)
            check(f"error: http source {base}/slow: timed out after 300 ms" in p.stdout, p.stdout)
            check(time.monotonic() - t0 < 2, "the http timeout was not kept")
        env.error(["serve", "--tcp", "0", "--psk", "device.psk", "--source", "tcp:nowhere"], 1, "tcp:HOST:PORT")
    finally:
        httpd.shutdown()
        lsock.close()


def case_config(env):
    """--config: TOML keys as flags, several PSK identities, flags win."""
    with open(env.path("server.toml"), "w") as f:
        f.write('mode = ["psk", "cert+psk"]\ncert = "server.cert"\nkey = "server.key"\nca = "ca"\n'
                'source = "sensor:4"\nrekey-after = 3\n'
                '[[psks]]\nfile = "device.psk"\n[[psks]]\nfile = "stranger.psk"\nid = "second"\n')
    with Server(env, "--config", "server.toml", "--source", "sensor:1") as srv:
        p = env.run("request", srv.tcp, "--psk", "stranger.psk", "--psk-id", "second", "-n", "4", "--summary",
                    expect=0)
        readings = [l for l in p.stdout.splitlines() if READING.match(l)]
        check(len(readings) == 4, f"the --source flag did not win over the config file:\n{p.stdout}")
        check("re-keys       1" in p.stdout, p.stdout)
        env.run("request", srv.udp, "--udp", *env.client_creds(), "--mode", "cert+psk", expect=0)
        with open(env.path("client.toml"), "w") as f:
            f.write('psk = "device.psk"\ncount = 2\nsummary = true\n')
        p = env.run("request", srv.tcp, "--config", "client.toml", expect=0)
        check("2 sent, 2 answered" in p.stdout, p.stdout)


def case_demo(env):
    """lockstep demo: exit 0; per connection three HELLOs (1 sent by the client, 2 re-keys by the server)."""
    p = env.run("demo", timeout=120, expect=0)
    out = p.stdout
    parts = re.split(r"^== \d+\. ", out, flags=re.M)
    conns = [s for s in parts if s.startswith("TCP:") or s.startswith("UDP:")]
    check(len(conns) == 2, f"demo output has no TCP and UDP sections:\n{out[-3000:]}")
    for sec in conns:
        name = sec[:3]
        snd = re.findall(r"^\[(client|server [^\]]+)\] snd " + HELLO, sec, re.M)
        check(len(snd) == 3, f"{name}: {len(snd)} 'snd hello' lines, expected 3")
        check(snd.count("client") == 1, f"{name}: the client sent {snd.count('client')} HELLOs")
        check(len(re.findall(r"^\[client\] rcv " + HELLO, sec, re.M)) == 2, f"{name}: client received != 2 HELLOs")
        check("25 sent, 25 answered" in sec and "re-keys       2" in sec, f"{name}: summary missing")
        check("clean (CLOSE, CLOSE ACK)" in sec, f"{name}: no clean close")
    check("demo finished: 50 of 50 requests answered" in out, out[-1000:])
    check(not re.search(r"^key=", out, re.M), "the demo printed a PSK")


def compile_header(env, header, names):
    """Compiles `header` for the host (cc) and for a Cortex-M4 (arm-none-eabi-gcc -c); runs the host program,
    which prints each named array in hex, one per line. Returns {name: bytes}."""
    src = env.path("dump_" + os.path.basename(header) + ".c")
    with open(src, "w") as f:
        f.write(f'#include <stdio.h>\n#include "{os.path.basename(header)}"\n'
                "static void dump(const uint8_t* b, size_t n) { for (size_t i = 0; i < n; i++) printf(\"%02x\", b[i]); "
                "printf(\"\\n\"); }\nint main(void) {\n")
        for n in names:
            f.write(f"    dump({n}, sizeof {n});\n")
        f.write("    return 0;\n}\n")
    for cc in [["cc", "-std=c99", "-Wall", "-Werror", "-o", src + ".bin", src],
               ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-Os", "-std=c99", "-Wall", "-Werror",
                "-Wno-unused-function", "-c", "-o", src + ".o", src]]:
        if shutil.which(cc[0]) is None:
            raise Fail(f"{cc[0]} not found (Debian: build-essential, gcc-arm-none-eabi)")
        p = subprocess.run(cc, cwd=env.tmp, capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"{cc[0]} failed on {header}:\n{p.stderr}")
    out = subprocess.run([src + ".bin"], capture_output=True, text=True, timeout=10, check=True).stdout.split()
    check(len(out) == len(names), f"{header}: {out}")
    return {n: bytes.fromhex(h) for n, h in zip(names, out)}


def case_firmware(env):
    """psk gen --c-header and cert issue --c-header: mode 0600, the header compiles for the host and for a
    Cortex-M4 and carries the same bytes as the PSK file, the certificate, the key file and the CA certificate."""
    env.run("psk", "gen", "--out", "fw.psk", "--id", "fw-7", "--c-header", "fw-psk.h", expect=0)
    env.run("cert", "issue", "--ca", "ca", "--role", "client", "--subject", "fw-7", "--out", "fw",
            "--c-header", "fw-cert.h", expect=0)
    for f in ["fw-psk.h", "fw-cert.h"]:
        mode = stat.S_IMODE(os.stat(env.path(f)).st_mode)
        check(mode == 0o600, f"{f} has mode {mode:o}, expected 600")
    got = compile_header(env, env.path("fw-psk.h"), ["lockstep_psk_id", "lockstep_psk"])
    psk = read(env.path("fw.psk"))
    check(got["lockstep_psk_id"] == b"fw-7", got)
    check(got["lockstep_psk"].hex() == re.search(r"^key=([0-9a-f]+)$", psk, re.M).group(1), "PSK bytes differ")
    got = compile_header(env, env.path("fw-cert.h"), ["lockstep_cert", "lockstep_key_seed", "lockstep_ca_cert"])
    with open(env.path("fw.cert"), "rb") as f:
        check(got["lockstep_cert"] == f.read(), "certificate bytes differ")
    with open(env.path("ca/ca.cert"), "rb") as f:
        check(got["lockstep_ca_cert"] == f.read(), "CA certificate bytes differ")
    # PKCS#8 Ed25519 (RFC 8410): the 32-byte seed is the DER's last 32 bytes.
    der = base64.b64decode("".join(l for l in read(env.path("fw.key")).splitlines() if not l.startswith("-----")))
    check(len(der) == 48 and got["lockstep_key_seed"] == der[-32:], "private key seed differs from fw.key")
    env.error(["cert", "issue", "--ca", "ca", "--role", "client", "--subject", "r", "--out", "r", "--alg", "rsa2048",
               "--c-header", "r.h"], 1, r"--c-header needs --alg ed25519")
    check(not os.path.exists(env.path("r.key")) and not os.path.exists(env.path("r.h")), "refused run wrote files")
    env.error(["cert", "issue", "--ca", "ca", "--role", "client", "--subject", "x", "--out", "x",
               "--c-header", "fw-cert.h"], 2, r"refusing to overwrite")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def run_in_env(exe, label, body, valgrind=False):
    """body(env) in a new temporary directory with credentials made by `exe`; prints PASS or FAIL and returns
    whether it passed. With valgrind, every lockstep process of body runs under memcheck, and a report with
    errors or leaks fails it."""
    with tempfile.TemporaryDirectory(prefix=f"lockstep-e2e-{label}-") as tmp:
        env = Env(os.path.abspath(exe), tmp, valgrind=valgrind)
        t0 = time.monotonic()
        try:
            env.make_credentials()
            body(env)
            bad = env.memcheck_failures()
            check(not bad, "memcheck reported errors or leaks:\n" + "\n".join(bad))
            print(f"PASS {label} ({time.monotonic() - t0:.1f} s)")
            return True
        except (Fail, subprocess.TimeoutExpired) as e:
            print(f"FAIL {label}: {e}")
            return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lockstep", required=True, help="path to the lockstep binary")
    ap.add_argument("--valgrind", action="store_true", help="run every lockstep process under valgrind memcheck")
    ap.add_argument("cases", nargs="+", help="case names, or all: " + ", ".join(CASES))
    args = ap.parse_args()
    global SLOW
    SLOW = 6.0 if args.valgrind else 1.0
    names = list(CASES) if args.cases == ["all"] else args.cases
    failed = 0
    for name in names:
        if name not in CASES:
            print(f"unknown case {name}", file=sys.stderr)
            return 2
        failed += not run_in_env(args.lockstep, name, CASES[name], valgrind=args.valgrind)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
