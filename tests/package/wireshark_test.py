#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Wireshark dissector (packaging/wireshark/lockstep.lua) on a real capture:
`lockstep serve` on ephemeral TCP and UDP ports, dumpcap on the loopback
interface filtered to those ports, `lockstep request` over both transports,
then tshark with the dissector must show each message's clear parts: the HELLO
(its PSK identity and modes), the HELLO ACK (chosen mode and suite, the acked
seq = the HELLO's seq) and records (epoch, record number), over TCP and UDP."""
import argparse, os, subprocess, tempfile

from capture import serve_and_capture


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lockstep", required=True)
    ap.add_argument("--dissector", required=True)
    a = ap.parse_args()
    ls = a.lockstep
    with tempfile.TemporaryDirectory(prefix="lockstep-ws-") as tmp:
        key = os.path.join(tmp, "d.psk")
        subprocess.run([ls, "psk", "gen", "--out", key, "--id", "sensor-7"], check=True, capture_output=True)
        cap = os.path.join(tmp, "demo.pcapng")
        with serve_and_capture(ls, ["--psk", key], tmp, cap) as (tport, uport):
            for target in [f"127.0.0.1:{tport}", f"127.0.0.1:{uport}"]:
                extra = ["--udp"] if target.endswith(uport) else []
                r = subprocess.run([ls, "request", target, "--psk", key, "-n", "2"] + extra, capture_output=True,
                                   timeout=60)
                assert r.returncode == 0, r.stderr

        fields = ["frame.protocols", "lockstep.frame", "lockstep.psk_id", "lockstep.mode", "lockstep.suite",
                  "lockstep.seq", "lockstep.ack", "lockstep.epoch", "lockstep.rn"]
        cmd = ["tshark", "-r", cap, "-X", f"lua_script:{a.dissector}", "-d", f"tcp.port=={tport},lockstep",
               "-d", f"udp.port=={uport},lockstep", "-Y", "lockstep", "-T", "fields", "-E", "separator=|",
               "-E", "occurrence=f"] + sum([["-e", x] for x in fields], [])
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        rows = [dict(zip(fields, line.split("|"))) for line in r.stdout.splitlines()]
        for transport in ["tcp", "udp"]:
            mine = [x for x in rows if f":{transport}:" in x["frame.protocols"] + ":"]
            hellos = [x for x in mine if x["lockstep.frame"] in ("0x01", "0x04") and x["lockstep.psk_id"] == "sensor-7"]
            acks = [x for x in mine if x["lockstep.frame"] == "0x02"]
            records = [x for x in mine if x["lockstep.frame"] == "0x17"]
            assert hellos and acks, (transport, mine)
            assert acks[0]["lockstep.mode"] == "2" and acks[0]["lockstep.suite"] in ("1", "2", "3"), acks[0]
            # The clear fields are parsed at the right offsets: the HELLO ACK acks the HELLO's seq.
            assert int(acks[0]["lockstep.ack"], 16) == int(hellos[0]["lockstep.seq"], 16), (hellos[0], acks[0])
            epochs = {int(x["lockstep.epoch"]) for x in records}
            assert {0, 1} <= epochs, (transport, epochs)  # the initial ACK (epoch 0), then data (epoch 1)
            print(f"ok: {transport}: {len(hellos)} HELLO, {len(acks)} HELLO ACK, {len(records)} records")


if __name__ == "__main__":
    main()
