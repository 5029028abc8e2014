#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""lockstep attack e2e: an active man in the middle (lockstep_mitm) between the real
`lockstep serve` and the real `lockstep request` over loopback TCP and UDP.

Usage: mitm_e2e.py --lockstep PATH --mitm PATH SCENARIO TRANSPORT...
       (SCENARIO: a name from SCENARIOS, or "all"; TRANSPORT: tcp, udp or both)

Every run starts a server (with --trace), a mitm in front of it and a client through
the mitm, in its own temporary directory with ephemeral ports, so scenarios run in
parallel. Each scenario asserts its outcome: the client's exit code (0 ok, 4
authentication or handshake failure, 5 closed during data, 6 some requests
unanswered), the precise reason in the trace of the side that refused, that no
request was served twice, and, for faults the tolerant policy (UDP) absorbs, that
every request was answered. Every wait is bounded and every process is killed on
every path. Standard library only; the helpers come from tests/e2e/cli_e2e.py.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from cli_e2e import READING, Listener, Server, check, read, run_in_env, start_listener, wait_for  # noqa: E402

TIMEOUT_MS = 2500  # the client's bound on every network wait
PARALLEL = 4       # runs of one scenario at a time (each its own server, mitm and client)
START = threading.Lock()  # Server numbers its files with a class counter
TRACE = re.compile(r"^\[(client|server [^\]]+)\] (snd|rcv) (\w+(?: \w+)*?)\s+seq=\S+.* epoch=(\d+) len=(\d+)( \(resent\))?$")
REJECT = re.compile(r"^\[(client|server [^\]]+)\] reject: (\w+) \((fatal|tolerated)\)$", re.M)
TOTALS = re.compile(r"^stopped: (\d+) connections, (\d+) established, (\d+) requests, (\d+) re-keys, (\d+) rejected, "
                    r"(\d+) errors(?:, \d+ revoked)?$", re.M)
SENT = re.compile(r"^  requests +(\d+) sent, (\d+) answered", re.M)


class Mitm(Listener):
    """lockstep_mitm in front of one transport of a Server; its log goes to a file."""
    count = 0

    def __init__(self, env, exe, srv, tr, actions):
        with START:
            Mitm.count += 1
            n = Mitm.count
        self.p, self.out, self.err, m = start_listener(env, [exe, f"--{tr}", srv.addr(tr), "--verbose", *actions],
                                                       f"mitm{n}", rf"^listening {tr}=(\S+)$")
        self.addr = m.group(1)

    def stop(self):
        """SIGTERM; the mitm must exit 0 promptly."""
        self.p.terminate()
        try:
            rc = self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        self.kill()
        check(rc == 0 and "mitm: stopped" in read(self.err), f"the mitm did not stop cleanly on SIGTERM (exit {rc})")


class Outcome:
    """What one run left behind: the client's exit code and output, the server's trace and totals, the mitm's log."""

    def __init__(self, what, client, server_out, server_err, mitm_log, earlier=0):
        self.what = what
        self.rc, self.stdout, self.stderr = client.returncode, client.stdout, client.stderr
        self.server_err, self.mitm = server_err, mitm_log
        m = TOTALS.search(server_out)
        check(m is not None, f"{what}: the server printed no totals: {server_out!r}")
        self.served = int(m.group(3)) - earlier  # requests served to this client
        self.answered = len([l for l in self.stdout.splitlines() if READING.match(l)])
        # Requests the client sent (a retransmission is the same request): from its trace.
        self.sent = len(re.findall(r"^\[client\] snd data request .*\d$", self.stderr, re.M))
        m = SENT.search(self.stdout)  # no summary when the client stopped with an error line
        check(m is None or (int(m.group(1)), int(m.group(2))) == (self.sent, self.answered),
              f"{what}: the summary does not match the trace: {self.stdout[-1000:]!r}")

    def rejects(self, side):
        """The reasons `side` ('client' or 'server') refused a message for: [(reason, fatal)]."""
        text = self.stderr if side == "client" else self.server_err
        return [(r, how == "fatal") for who, r, how in REJECT.findall(text) if who.startswith(side)]

    def context(self):
        return (f"\n--- client exit {self.rc}\n{self.stderr[-3000:]}\n--- server\n{self.server_err[-3000:]}\n"
                f"--- mitm\n{self.mitm[-3000:]}")

    def resent(self):
        """Retransmissions sent by both sides."""
        return len(re.findall(r"^\[[^\]]+\] snd .*\(resent\)$", self.stderr + "\n" + self.server_err, re.M))

    def expect(self, rc=None, rejects=None, side="server", fatal=None, every=None, resent=None):
        """rc: the client's exit code (or a set); rejects: a set of reasons of which `side` must show at least
        one (fatal: of that kind); every: n requests, all answered and each served exactly once; resent: at most
        this many retransmissions (a fault is repaired once, not echoed for the rest of the connection)."""
        where = f"{self.what}{self.context()}"
        if rc is not None:
            ok = self.rc in rc if isinstance(rc, (set, frozenset)) else self.rc == rc
            check(ok, f"client exit {self.rc}, expected {rc}: {where}")
        # Never served twice: the server's handler ran at most once per request the client sent,
        # and the client printed no response more often than it sent requests.
        check(self.served <= self.sent and self.answered <= self.sent,
              f"served {self.served}, answered {self.answered}, sent {self.sent}: {where}")
        if every is not None:
            check(self.answered == every and self.served == every and self.sent == every,
                  f"{every} requests: sent {self.sent}, served {self.served}, answered {self.answered}: {where}")
        if resent is not None:
            check(self.resent() <= resent, f"{self.resent()} retransmissions, expected at most {resent}: {where}")
        if rejects is not None:
            got = self.rejects(side)
            hits = [r for r, f in got if r in rejects and (fatal is None or f == fatal)]
            check(hits, f"the {side} shows no reject in {sorted(rejects)}"
                        f"{'' if fatal is None else (' (fatal)' if fatal else ' (tolerated)')}, got {got}: {where}")
        return self

    def acted(self, pattern):
        """The mitm logged an action matching pattern."""
        check(re.search(pattern, self.mitm, re.M), f"the mitm log has no line matching {pattern!r}: {self.what}"
                                                   f"{self.context()}")
        return self


class Lab:
    """One scenario's environment: credentials, and runs of server + mitm + client."""

    def __init__(self, env, mitm_exe, tr):
        self.env, self.mitm_exe, self.tr = env, mitm_exe, tr

    def client_creds(self, mode):
        e = self.env
        return {"cert": ["--cert", "device.cert", "--key", "device.key", "--ca", "ca", "--server-name", "server.test"],
                "psk": ["--psk", "device.psk"],
                "cert+psk": e.client_creds()}[mode] + ["--mode", mode]

    def run(self, actions=(), n=3, mode="cert+psk", client=(), server=(), creds=None, what=None, before=None,
            timeout=TIMEOUT_MS):
        """Server + mitm(actions) + one `lockstep request -n n` through it. `before(srv)` runs first through its own
        mitm (e.g. to record a connection). Returns an Outcome."""
        what = what or f"{self.tr} {' '.join(actions) or 'no attack'}"
        env = self.env
        with START:
            srv = Server(env, "--mode", "cert,psk,cert+psk", *env.server_creds(), "--trace", *server)
        with srv:
            earlier = before(srv) if before is not None else 0
            with Mitm(env, self.mitm_exe, srv, self.tr, list(actions)) as m:
                p = env.run("request", m.addr, f"--{self.tr}", *(creds or self.client_creds(mode)), "-n", str(n),
                            "--body", "m=1", "--timeout", str(timeout), "--trace", "--summary", *client)
                m.stop()
            rc, _ = srv.stop()
            check(rc == 0, f"{what}: serve exited {rc}: {read(srv.err)[-2000:]}")
            return Outcome(what, p, read(srv.out), read(srv.err), read(m.err), earlier)

    def record(self, path, n=1, mode="cert+psk"):
        """A before= hook: one clean connection through a recording mitm."""
        def go(srv):
            with Mitm(self.env, self.mitm_exe, srv, self.tr, ["--record", path]) as m:
                self.env.run("request", m.addr, f"--{self.tr}", *self.client_creds(mode), "-n", str(n), "--body",
                             "m=1", "--timeout", str(TIMEOUT_MS), expect=0)
            return n
        return go

    def many(self, runs):
        """Runs several lab.run(**kw) at once; returns their Outcomes in order (the first failure is raised)."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            return [f.result() for f in [pool.submit(lambda kw=kw: self.run(**kw)) for kw in runs]]


# ---------------------------------------------------------------- the message flow
def flow(o):
    """The messages of a clean run by direction and number, named from the traces:
    {('c>s', 1): ('hello', 110), ...}. Handshake messages of a re-key are 'rekey hello' etc."""
    out = {}
    for side, d, text in [("client", "c>s", o.stderr), ("server", "s>c", o.server_err)]:
        n = 0
        for line in text.splitlines():
            m = TRACE.match(line)
            if not m or m.group(2) != "snd" or not m.group(1).startswith(side):
                continue
            n += 1
            name, epoch = m.group(3), int(m.group(4))
            if name in ("hello", "hello ack", "ack") and epoch > 0:
                name = "rekey " + name
            out[(d, n)] = (name, int(m.group(5)))
    return out


# Two requests with a re-key after each response: every message type once or more. The pause lets the re-key
# finish before the next request, so the order of the messages is the same in every run.
FLOW = dict(n=2, server=["--rekey-after", "1"], client=["--interval", "100"])


def learn_flow(lab):
    """A clean run of FLOW; checks the mitm numbered the messages as the traces did and returns flow()."""
    o = lab.run([], what=f"{lab.tr} clean run", **FLOW).expect(rc=0, every=FLOW["n"])
    f = flow(o)
    for (d, i), (name, length) in f.items():
        # A UDP HELLO travels padded (spec §6.8): the mitm sees the envelope, the trace the HELLO inside.
        check(re.search(rf"^mitm: conn 1 {re.escape(d)} #{i} \S.* len={length}$", o.mitm, re.M)
              or (name == "hello" and re.search(rf"^mitm: conn 1 {re.escape(d)} #{i} hello behind cookie ", o.mitm, re.M)),
              f"the mitm did not see {d} #{i} ({name}, {length} bytes) as the traces did:{o.context()}")
    return f


def first_of_each(f):
    """{name: (dir, n, length)} for the first message of each kind."""
    out = {}
    for (d, i), (name, length) in sorted(f.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        out.setdefault(name, (d, i, length))
    return out


def receiver(d):
    return "server" if d == "c>s" else "client"


# Reasons a changed message may be refused with (spec §9), whichever check sees it first.
TAMPERED = {"bad_mac", "bad_value", "decode_error", "truncated", "trailing_bytes", "bad_signature", "bad_certificate",
            "cert_wrong_issuer", "cert_expired", "cert_wrong_role", "unknown_psk", "old_epoch", "replay",
            "unexpected_message", "bad_sequence", "downgrade", "no_common_parameters", "expired"}


# ---------------------------------------------------------------- scenarios
def scn_drop(lab):
    """Drop a DATA RESPONSE (and over UDP a HELLO and a DATA REQUEST too)."""
    if lab.tr == "tcp":
        # Strict: the response never comes; the client gives up on request 1 and goes on over a new connection.
        o = lab.run(["--conn", "1", "--drop", "s>c:2"]).acted(r"s>c #2 drop$").expect(rc=6)
        check(re.search(r"^error: 1 of 3 requests unanswered: 1 ", o.stderr, re.M) and o.answered == 2, o.context())
    else:
        # Tolerant: HELLO resent, RESEND LAST recovers the lost request and response.
        o = lab.run(["--drop", "c>s:1", "--drop", "c>s:4", "--drop", "s>c:3"])
        o.acted(r"c>s #1 drop$").acted(r"c>s #4 drop$").acted(r"s>c #3 drop$").expect(rc=0, every=3, resent=6)


def scn_delay_past_ttl(lab):
    """Delay a DATA REQUEST past its ttl (ttl lifetime 2 s, no clock skew allowed)."""
    ttl = ["--ttl-lifetime", "2000", "--clock-skew", "0"]
    if lab.tr == "tcp":
        o = lab.run(["--conn", "1", "--delay", "c>s:3:3100"], client=ttl, server=ttl, timeout=5000)
        o.acted(r"c>s #3 delay 3100 ms$")
        o.expect(rc=5, rejects={"expired"}, fatal=True)
        check(re.search(r"reason expired", o.stderr), o.context())
    else:
        # The client's RESEND LAST brings a fresh copy; the late original is refused when it arrives.
        o = lab.run(["--delay", "c>s:3:3100"], n=6, client=ttl + ["--interval", "800"], server=ttl)
        o.acted(r"c>s #3 delay 3100 ms$").expect(rc=0, every=6, rejects={"expired"}, fatal=False, resent=4)


def scn_duplicate(lab):
    """Duplicate a DATA REQUEST and a DATA RESPONSE."""
    o = lab.run(["--duplicate", "c>s:3", "--duplicate", "s>c:2"]).acted(r"c>s #3 duplicate$")
    if lab.tr == "tcp":
        o.expect(rc=5, rejects={"replay"}, fatal=True)
    else:
        o.acted(r"s>c #2 duplicate$").expect(rc=0, every=3, rejects={"replay"}, fatal=False, resent=2)
        o.expect(rejects={"replay"}, side="client", fatal=False)


def scn_reorder(lab):
    """Hold a DATA ACK until the next DATA REQUEST has passed."""
    o = lab.run(["--reorder", "c>s:4"]).acted(r"c>s #4 hold until #5").acted(r"c>s #4 release after #5$")
    if lab.tr == "tcp":
        o.expect(rc=5, rejects={"bad_sequence"}, fatal=True)
    else:  # the early request is kept and served once its DATA ACK arrives (§8.4 "Kept requests")
        o.expect(rc=0, every=3, rejects={"bad_sequence"}, fatal=False, resent=2)


def scn_replay_connection(lab):
    """Replay a DATA REQUEST within its connection, after the next one."""
    o = lab.run(["--replay", "c>s:3@5"]).acted(r"c>s #3 replay after c>s #5 \(record epoch=1 rn=0\)$")
    if lab.tr == "tcp":
        o.expect(rc=5, rejects={"replay"}, fatal=True)
    else:
        o.expect(rc=0, every=3, rejects={"replay"}, fatal=False, resent=2)


def scn_replay_across_connections(lab):
    """A DATA REQUEST and a CLOSE recorded from one connection, injected into the next."""
    # c>s #3 is the first DATA REQUEST (epoch 1, rn 0), #5 the CLOSE (rn 2) of a one-request connection. Each is
    # injected where its record number is still fresh (the replay window is checked before the tag, §6.4).
    runs = []
    for i, at in [(3, 2), (5, 3)]:
        rec = lab.env.path(f"conn{i}.rec")
        runs.append(dict(actions=["--replay-from", rec, "--replay-recorded", f"c>s:{i}@c>s:{at}"], before=lab.record(rec),
                         what=f"{lab.tr} recorded c>s #{i} into a new connection after c>s #{at}"))
    for o, (i, at) in zip(lab.many(runs), [(3, 2), (5, 3)]):
        o.acted(rf"c>s #{i} replay recorded message after c>s #{at} \(record epoch=1 rn={i - 3}\)$")
        if lab.tr == "tcp":
            o.expect(rc=4, rejects={"bad_mac"}, fatal=True)
        else:
            o.expect(rc=0, every=3, rejects={"bad_mac"}, fatal=False, resent=2)


def scn_replay_across_epochs(lab):
    """The first DATA REQUEST (epoch 1) injected after the client's first record of epoch 2 (-n 25: re-keys
    after 10 and 20 responses), and after its first of epoch 3."""
    o = lab.run(["--replay", "c>s:3@e2", "--replay", "c>s:3@e3"], n=25)
    for e in (2, 3):
        m = re.search(rf"^mitm: conn 1 c>s #(\d+) record epoch={e} rn=0 ", o.mitm, re.M)
        check(m is not None, f"no record of epoch {e}:{o.context()}")
        o.acted(rf"c>s #3 replay after c>s #{m.group(1)} \(record epoch=1 rn=0\)$")
        if lab.tr == "tcp":
            break  # the first one ends the connection
    if lab.tr == "tcp":
        o.expect(rc=5, rejects={"old_epoch"}, fatal=True)
    else:
        # Each refused record draws one RESEND LAST; what it brings back is not echoed for the rest of the
        # connection (the copies the client re-sends are dropped, §8.4 "Duplicates").
        o.expect(rc=0, every=25, rejects={"old_epoch"}, fatal=False, resent=4)


def sample_positions(length):
    """The frame byte, the first header byte, the middle and the last byte (the tag of a record)."""
    return sorted({0, 1, length // 2, length - 1})


# An unauthenticated HELLO ACK whose chosen version, suite or mode is outside the client's offer is refused as a
# downgrade, and that stays fatal under the tolerant policy too (§5.5, §8.5): byte 1 is the chosen version.
ALWAYS_FATAL = {("hello ack", 1): "downgrade"}


def tampered_runs(lab, make):
    """One run per message kind of FLOW and per change make(name, dir, number, length) lists as (mitm actions,
    label, key); yields (Outcome, (name, dir, key))."""
    runs = []
    for name, (d, i, length) in sorted(first_of_each(learn_flow(lab)).items()):
        for actions, label, key in make(name, d, i, length):
            runs.append(dict(actions=["--conn", "1", *actions], what=f"{lab.tr} {label} {name} ({d} #{i})", **FLOW,
                             key=(name, d, key)))
    keys = [kw.pop("key") for kw in runs]
    return zip(lab.many(runs), keys)


def expect_refused(lab, o, name, side, fatal_reason=None):
    """A changed or misplaced message: `side` refuses it with a precise reason. TCP (strict): fatal; the client
    fails, or (hit after the last response, in the close) every request was answered. UDP (tolerant): dropped and
    repaired, every request answered, a handful of retransmissions at most (a lost handshake message is resent
    by both sides' timers; nothing is echoed back and forth)."""
    if fatal_reason is not None:
        o.expect(rc=4, rejects={fatal_reason}, side=side, fatal=True)
    elif lab.tr == "tcp":
        o.expect(rc={0, 4, 5, 6}, rejects=TAMPERED, side=side, fatal=True)
        if o.rc == 0:
            o.expect(every=FLOW["n"])
    elif name in ("hello", "hello ack"):
        # UDP: a clear HELLO or HELLO ACK that does not decode or is out of place is dropped before it reaches an
        # engine's checks (spec §8.5: unauthenticated input has no effect), so no side names a reason; the
        # handshake still completes and every request is answered.
        o.expect(rc=0, every=FLOW["n"], resent=8)
    else:
        o.expect(rc=0, every=FLOW["n"], rejects=TAMPERED, side=side, fatal=False, resent=8)


def scn_bit_flip(lab):
    """One bit flipped at sampled positions of every message type (the exhaustive every-byte test is in sim)."""
    def make(name, d, i, length):
        return [(["--flip", f"{d}:{i}:{pos}:{pos % 8}"], f"flip byte {pos} of", pos) for pos in sample_positions(length)]
    for o, (name, d, pos) in tampered_runs(lab, make):
        o.acted(rf" flip byte {pos} bit {pos % 8}$")
        if lab.tr == "udp" and name == "hello" and pos == 0:
            # Not a HELLO any more: a datagram from an unknown address that is not a HELLO reaches no engine (the
            # transport drops it). The client's resent HELLO completes the handshake.
            o.expect(rc=0, every=FLOW["n"], resent=8)
            continue
        # The HELLO ACK's choice is checked before it is authenticated: fatal on streams, a drop on datagrams.
        expect_refused(lab, o, name, receiver(d), ALWAYS_FATAL.get((name, pos)) if lab.tr == "tcp" else None)


def scn_truncation(lab):
    """Every message type cut to 1 byte, to half and to one byte less."""
    def make(name, d, i, length):
        return [(["--truncate", f"{d}:{i}:{keep}"], f"truncate to {keep}:", keep) for keep in (1, length // 2, length - 1)]
    for o, (name, d, keep) in tampered_runs(lab, make):
        o.acted(rf" truncate \d+ -> {keep} bytes$")
        expect_refused(lab, o, name, receiver(d))


def scn_injection(lab):
    """Every message type sent again two messages later in its direction: in another state, out of place.
    (CLOSE and CLOSE ACK end the connection: their replays are in replay_across_connections.)"""
    f = learn_flow(lab)
    last = {d: max(i for (dd, i) in f if dd == d) for d in ("c>s", "s>c")}

    def make(name, d, i, length):
        if name in ("close", "close ack"):
            return []
        at = min(i + 2, last[d] - 1)
        return [(["--replay", f"{d}:{i}@{at}"], f"after #{at}, inject", at)]
    for o, (name, d, at) in tampered_runs(lab, make):
        o.acted(rf"{re.escape(d)} #\d+ replay after {re.escape(d)} #{at} ")
        expect_refused(lab, o, name, receiver(d))


def scn_reflection(lab):
    """Every message type also sent back to its own sender (keys are per direction). (The server has closed when
    its CLOSE ACK could come back.)"""
    def make(name, d, i, length):
        return [] if name == "close ack" else [(["--reflect", f"{d}:{i}"], "reflect", i)]
    for o, (name, d, _) in tampered_runs(lab, make):
        o.acted(r" reflect back to the (client|server)$")
        expect_refused(lab, o, name, "client" if d == "c>s" else "server")


def no_session(lab, o, side, reason, psk_checked):
    """A handshake the attacker changed: no session, `side` names the reason. Over UDP an unauthenticated HELLO or
    HELLO ACK that fails its MAC is dropped (the genuine one may still come): the server stays silent to a bad
    HELLO MAC (exit 3, no answer) and a client drops every bad HELLO ACK, a choice outside its offer included,
    until it gives up (exit 4)."""
    o.expect(rejects={reason}, side=side, fatal=lab.tr == "tcp")
    check(o.answered == 0 and o.served == 0, f"a session was established: {o.what}{o.context()}")
    o.expect(rc=3 if lab.tr == "udp" and psk_checked and reason != "downgrade" else 4)


def scn_downgrade_suite(lab):
    """Strip the best suite from the client's offer (each mode) or from the server's list, or choose a suite the
    client did not offer."""
    cases = [(dict(actions=["--strip", "c>s:suites"], mode=m, what=f"{lab.tr} strip the client's best suite, {m}"),
              "client" if m == "cert" else "server", "bad_mac", m != "cert") for m in ("cert", "psk", "cert+psk")]
    cases += [(dict(actions=["--strip", "s>c:suites"], what=f"{lab.tr} strip the server's best suite"),
               "client", "bad_mac", False),
              (dict(actions=["--set", "s>c:suite:3"], client=["--suite", "aes256gcm,chacha20poly1305"],
                    what=f"{lab.tr} choose a suite outside the offer"), "client", "downgrade", False)]
    for o, (_, side, reason, psk_checked) in zip(lab.many([c[0] for c in cases]), cases):
        o.acted(r" rewrite suites? (1,2,3 -> 2,3|1 -> 3)$")
        no_session(lab, o, side, reason, psk_checked)


def scn_downgrade_mode(lab):
    """Strip the best mode from the client's offer or from the server's list, or choose a mode the client did
    not offer. Stripped to cert, the offer is answered in cert mode without the PSK (so without checking the
    HELLO's MAC); the client's transcript differs and it refuses the HELLO ACK."""
    cases = [(dict(actions=["--strip", "c>s:modes"], client=["--mode", "cert+psk,cert"], creds=lab.env.client_creds(),
                   what=f"{lab.tr} strip the client's best mode"), "client", "bad_mac", False),
             (dict(actions=["--strip", "s>c:modes"], what=f"{lab.tr} strip the server's first mode"),
              "client", "bad_mac", False),
             (dict(actions=["--set", "s>c:mode:2"], client=["--mode", "cert+psk,cert"], creds=lab.env.client_creds(),
                   what=f"{lab.tr} choose a mode outside the offer"), "client", "downgrade", False)]
    for o, (_, side, reason, psk_checked) in zip(lab.many([c[0] for c in cases]), cases):
        o.acted(r" rewrite modes? (3,1 -> 1|1,2,3 -> 2,3|3 -> 2)$")
        no_session(lab, o, side, reason, psk_checked)


def scn_downgrade_version(lab):
    """Rewrite the version list of either side (only version 1 exists; the lists are in the transcript)."""
    cases = [(dict(actions=["--set", "c>s:versions:1,2"], what=f"{lab.tr} the client's versions rewritten"),
              "server", "bad_mac", True),
             (dict(actions=["--set", "s>c:versions:1,2"], what=f"{lab.tr} the server's versions rewritten"),
              "client", "bad_mac", False)]
    for o, (_, side, reason, psk_checked) in zip(lab.many([c[0] for c in cases]), cases):
        o.acted(r" rewrite versions 1 -> 1,2$")
        no_session(lab, o, side, reason, psk_checked)


def scn_forged_close(lab):
    """A forged clear CLOSE to each side after the handshake: ignored, every request answered. (A recorded CLOSE
    replayed into another connection: replay_across_connections.)"""
    o = lab.run(["--inject-close", "s>c:2", "--inject-close", "c>s:3"])
    o.acted(r"s>c #2 inject a forged clear close after it").acted(r"c>s #3 inject a forged clear close after it")
    o.expect(rc=0, every=3, rejects={"unexpected_message"}, side="client", fatal=False, resent=2)
    o.expect(rejects={"unexpected_message"}, side="server", fatal=False)
    check("clean (CLOSE, CLOSE ACK)" in o.stdout, o.context())


def scn_certificates(lab):
    """A client certificate from another CA, or expired: the server refuses it and names why. One of the wrong role
    never reaches the wire: the client refuses to load it."""
    env = lab.env
    env.run("cert", "issue", "--ca", "ca", "--role", "client", "--subject", "old", "--out", "old", "--days", "0",
            expect=0)
    wait_for(lambda: "EXPIRED" in env.run("cert", "show", "old.cert").stdout, 5, "the certificate to expire")
    cases = [(dict(creds=["--cert", "intruder.cert", "--key", "intruder.key", "--ca", "ca", "--mode", "cert", "--server-name", "server.test"],
                   what=f"{lab.tr} a client certificate from another CA"), "cert_wrong_issuer"),
             (dict(creds=["--cert", "old.cert", "--key", "old.key", "--ca", "ca", "--mode", "cert", "--server-name", "server.test"],
                   what=f"{lab.tr} an expired client certificate"), "cert_expired")]
    for o, (_, reason) in zip(lab.many([c[0] for c in cases]), cases):
        o.expect(rc=4, rejects={reason}, side="server", fatal=True)
        check(o.answered == 0 and o.served == 0, f"{o.what}: served{o.context()}")
    with START:
        srv = Server(env, "--mode", "cert", *env.server_creds())
    with srv, Mitm(env, lab.mitm_exe, srv, lab.tr, []) as m:
        env.error(["request", m.addr, f"--{lab.tr}", "--mode", "cert", "--cert", "server.cert", "--key", "server.key",
                   "--ca", "ca"], 2, r"not a client certificate")
        check("open" not in read(m.err) and "udp peer" not in read(m.err), f"it reached the wire: {read(m.err)}")


SCENARIOS = {name[4:]: fn for name, fn in globals().items() if name.startswith("scn_")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lockstep", required=True, help="path to the lockstep binary")
    ap.add_argument("--mitm", required=True, help="path to the lockstep_mitm binary")
    ap.add_argument("scenario", help="a scenario name, or all: " + ", ".join(SCENARIOS))
    ap.add_argument("transports", nargs="+", choices=["tcp", "udp"])
    args = ap.parse_args()
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    failed = 0
    for name in names:
        if name not in SCENARIOS:
            print(f"unknown scenario {name}", file=sys.stderr)
            return 2
        for tr in args.transports:
            scenario = SCENARIOS[name]
            failed += not run_in_env(args.lockstep, f"{name}.{tr}",
                                     lambda env, tr=tr: scenario(Lab(env, os.path.abspath(args.mitm), tr)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
