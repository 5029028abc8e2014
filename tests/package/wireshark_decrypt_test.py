#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Wireshark dissector (packaging/wireshark/lockstep.lua) decrypting a real
capture with a key log: `lockstep serve` (re-keying after every 2 responses,
answering each request body with "response-" in place of "request-") on
ephemeral TCP and UDP ports, dumpcap on the loopback interface, and clients of
a build with the key log compiled in (`request --insecure-key-log`), one per
suite over TCP and one over UDP. tshark with the dissector and the key log must
show, in every connection, the decrypted request and response bodies, the
initial ACK, the re-key HELLO, HELLO ACK and ACK, the DATA ACKs, the CLOSE and
CLOSE ACK, under the keys of epochs 0, 1 and 2 (suite 3 with its HMAC
verified); without the key log, nothing is decrypted. A build without the key
log refuses --insecure-key-log."""
import argparse, collections, os, re, subprocess, sys, tempfile

from capture import serve_and_capture

SUITES = ["aes256gcm", "chacha20poly1305", "aes256gcm-hmac-sha512"]
# re-key HELLO, HELLO ACK, ACK, DATA REQUEST, DATA RESPONSE, DATA ACK, CLOSE, CLOSE ACK
EXPECTED_TYPES = {1, 2, 3, 4, 5, 6, 8, 9}


def tshark(cap, dissector, ports, keylog, fields, display_filter="lockstep"):
    cmd = ["tshark", "-r", cap, "-X", f"lua_script:{dissector}", "-d", f"tcp.port=={ports[0]},lockstep",
           "-d", f"udp.port=={ports[1]},lockstep", "-Y", display_filter, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=;"] + sum([["-e", x] for x in fields], [])
    if keylog:
        cmd += ["-o", f"lockstep.keylog_file:{keylog}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Lua" not in r.stderr, r.stderr
    return [dict(zip(fields, line.split("\t"))) for line in r.stdout.splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lockstep", required=True, help="the CLI (release: no key log)")
    ap.add_argument("--lockstep-key-log", required=True, help="the CLI over an engine with the key log")
    ap.add_argument("--dissector", required=True)
    a = ap.parse_args()
    ls, lsk = a.lockstep, a.lockstep_key_log
    if not os.path.exists("/usr/share/lua/5.2/openssl/cipher.lua"):
        sys.exit("the dissector decrypts with luaossl for Lua 5.2: apt-get install lua-luaossl (make deps)")
    with tempfile.TemporaryDirectory(prefix="lockstep-wsd-") as tmp:
        key, keylog = os.path.join(tmp, "d.psk"), os.path.join(tmp, "keys.log")
        subprocess.run([ls, "psk", "gen", "--out", key, "--id", "sensor-7"], check=True, capture_output=True)
        cap = os.path.join(tmp, "demo.pcapng")
        runs = [("tcp", s, []) for s in SUITES] + [("udp", "chacha20poly1305", ["--udp"])]
        serve = ["--psk", key, "--rekey-after", "2", "--source", "cmd:sed s/request/response/"]
        with serve_and_capture(ls, serve, tmp, cap) as ports:
            # The release CLI has no key log: refused up front, no file made.
            r = subprocess.run([ls, "request", f"127.0.0.1:{ports[0]}", "--psk", key, "--insecure-key-log",
                                os.path.join(tmp, "none.log")], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0 or "built without the key log" in r.stderr, r.stderr
            for transport, suite, extra in runs:
                r = subprocess.run([lsk, "request", f"127.0.0.1:{ports[transport == 'udp']}", "--psk", key,
                                    "--suite", suite, "-n", "5", "--body", f"request-{transport}-{suite}",
                                    "--insecure-key-log", keylog] + extra, capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, r.stderr
                assert r.stdout.splitlines() == [f"response-{transport}-{suite}"] * 5, r.stdout
        assert os.stat(keylog).st_mode & 0o777 == 0o600, oct(os.stat(keylog).st_mode)
        lines = open(keylog).read().splitlines()
        assert all(re.fullmatch(r"[A-Z0-9_]+ [0-9a-f]{64} \d+ [0-9a-f]+", l) for l in lines), lines[:3]
        assert len({l.split()[1] for l in lines}) == len(runs), "one th2 per connection"

        fields = ["frame.protocols", "tcp.stream", "udp.stream", "lockstep.suite", "lockstep.type", "lockstep.text",
                  "lockstep.key_epoch", "lockstep.auth", "lockstep.note"]
        rows = tshark(cap, a.dissector, ports, keylog, fields)
        conns = collections.defaultdict(lambda: collections.defaultdict(set))
        for row in rows:
            transport = "udp" if ":udp:" in row["frame.protocols"] + ":" else "tcp"
            c = conns[(transport, row[f"{transport}.stream"])]
            for name in fields[3:]:
                c[name] |= {v for v in row[name].split(";") if v}
        assert len(conns) == len(runs), sorted(conns)
        for (transport, _), c in conns.items():
            suite = SUITES[int(min(c["lockstep.suite"])) - 1]
            assert (transport, suite, []) in runs or transport == "udp", (transport, suite)
            assert not c["lockstep.note"], (transport, suite, c["lockstep.note"])  # every record opened
            assert {f"request-{transport}-{suite}", f"response-{transport}-{suite}"} <= c["lockstep.text"], c
            assert EXPECTED_TYPES <= {int(t) for t in c["lockstep.type"]}, (transport, suite, c["lockstep.type"])
            assert {0, 1, 2} <= {int(e) for e in c["lockstep.key_epoch"]}, (transport, suite, c["lockstep.key_epoch"])
            want = "HMAC-SHA-512 verified" if suite == "aes256gcm-hmac-sha512" else "AEAD tag not checked"
            assert all(x.startswith(want) for x in c["lockstep.auth"]), (suite, c["lockstep.auth"])
            print(f"ok: {transport} {suite}: types {sorted(int(t) for t in c['lockstep.type'])}, "
                  f"epochs {sorted(int(e) for e in c['lockstep.key_epoch'])}")

        # Without the key log: the clear parts only.
        plain = tshark(cap, a.dissector, ports, None, ["lockstep.type", "lockstep.text"], "lockstep.type")
        assert plain == [], plain[:3]
        print(f"ok: {len(rows)} packets, nothing decrypted without the key log")


if __name__ == "__main__":
    main()
