#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The operator's view of `lockstep serve` (--log-format json, --status-interval,
--metrics): the real server and clients over loopback on ephemeral ports.
- /metrics scraped with curl: Prometheus text whose counters match the traffic
  (handshakes, requests, connections, half-open slots, a failed handshake, the
  bytes on the sockets against what the clients sent and received, growing with
  the next request);
- stderr: every line one JSON object: trace lines, the fault of the client with
  the wrong key, periodic status lines whose totals match the metrics."""
import argparse, json, os, re, subprocess, sys, tempfile, time


def wait_for(what, pred, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def scrape(url):
    r = subprocess.run(["curl", "-sS", "--fail", "--max-time", "10", url], capture_output=True, text=True)
    assert r.returncode == 0, f"curl {url}: {r.returncode} {r.stderr}"
    values = {}
    for line in r.stdout.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\d+)$", line)
        assert m, f"not Prometheus text: {line!r}"
        values[m.group(1) + (m.group(2) or "")] = int(m.group(3))
    return values


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lockstep", required=True)
    a = ap.parse_args()
    ls = a.lockstep
    with tempfile.TemporaryDirectory(prefix="lockstep-operator-") as tmp:
        key, other = os.path.join(tmp, "d.psk"), os.path.join(tmp, "other.psk")
        subprocess.run([ls, "psk", "gen", "--out", key, "--id", "dev"], check=True, capture_output=True)
        subprocess.run([ls, "psk", "gen", "--out", other, "--id", "dev"], check=True, capture_output=True)
        err_path = os.path.join(tmp, "stderr")
        err = open(err_path, "w")
        srv = subprocess.Popen([ls, "serve", "--tcp", "0", "--udp", "0", "--psk", key, "--metrics", "127.0.0.1:0",
                                "--status-interval", "1", "--log-format", "json", "--trace"],
                               stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            line = srv.stdout.readline()
            m = re.match(r"listening tcp=(127\.0\.0\.1:\d+) udp=(127\.0\.0\.1:\d+) metrics=(127\.0\.0\.1:\d+)$",
                         line.strip())
            assert m, line
            target, udp_target, url = m.group(1), m.group(2), f"http://{m.group(3)}/metrics"

            before = scrape(url)
            assert before['lockstep_handshakes_total{mode="psk"}'] == 0, before
            assert before['lockstep_connections{state="open"}'] == 0, before
            byte_keys = [f'lockstep_{d}_bytes_total{{transport="{t}"}}' for d in ("received", "sent") for t in ("tcp", "udp")]
            assert all(before[k] == 0 for k in byte_keys), before

            def request(*args):  # the bytes the client's engine sent and received
                r = subprocess.run([ls, "request", "--psk", key, "--summary"] + list(args), capture_output=True,
                                   text=True, timeout=60)
                assert r.returncode == 0, r.stderr
                m = re.search(r"bytes\s+(\d+) sent, (\d+) received", r.stdout)
                assert m, r.stdout
                return int(m.group(1)), int(m.group(2))

            client_sent = client_received = 0
            for _ in range(2):
                s, rc = request(target, "-n", "3")
                client_sent += s
                client_received += rc
            bad = subprocess.run([ls, "request", target, "--psk", other, "-n", "1"], capture_output=True, timeout=60)
            assert bad.returncode != 0, "a client with the wrong key succeeded"

            # The server counts a connection when it is removed; poll until all three are.
            after = wait_for("3 closed connections",
                             lambda: (lambda v: v if v['lockstep_connections_total{event="closed"}'] == 3 else None)(
                                 scrape(url)))
            assert after['lockstep_handshakes_total{mode="psk"}'] == 2, after
            assert after['lockstep_handshakes_total{mode="cert"}'] == 0, after
            assert sum(v for k, v in after.items() if k.startswith("lockstep_rekeys_total{")) == 0, after
            faults = {k: v for k, v in after.items() if k.startswith("lockstep_faults_total{")}
            assert len(faults) == 19 and sum(faults.values()) >= 1, faults  # the client with the wrong key
            assert after["lockstep_requests_total"] == 6, after
            assert after['lockstep_connections_total{event="accepted"}'] == 3, after
            assert after['lockstep_connections_total{event="errors"}'] >= 1, after
            assert after['lockstep_connections{state="open"}'] == 0, after
            assert after['lockstep_half_open{transport="tcp"}'] == 0, after
            # Bytes on the sockets: what the good clients' engines sent and received, plus
            # the 2-byte TCP frame headers and the client with the wrong key; no UDP.
            rcv, snt = after['lockstep_received_bytes_total{transport="tcp"}'], after['lockstep_sent_bytes_total{transport="tcp"}']
            assert client_sent < rcv < client_sent + 1000, (client_sent, after)
            assert client_received < snt < client_received + 1000, (client_received, after)
            assert after['lockstep_received_bytes_total{transport="udp"}'] == 0, after
            assert after['lockstep_sent_bytes_total{transport="udp"}'] == 0, after
            request(target, "--body", "x" * 2000)
            grown = wait_for("4 closed connections",
                             lambda: (lambda v: v if v['lockstep_connections_total{event="closed"}'] == 4 else None)(
                                 scrape(url)))
            assert grown['lockstep_received_bytes_total{transport="tcp"}'] >= rcv + 2000, (after, grown)
            assert grown['lockstep_sent_bytes_total{transport="tcp"}'] > snt, (after, grown)
            # Over UDP: the client's messages plus a connection id in front of its records.
            s, rc = request(udp_target, "--udp", "-n", "2")
            grown = wait_for("5 closed connections",
                             lambda: (lambda v: v if v['lockstep_connections_total{event="closed"}'] == 5 else None)(
                                 scrape(url)))
            assert s < grown['lockstep_received_bytes_total{transport="udp"}'] < s + 200, (s, grown)
            assert rc <= grown['lockstep_sent_bytes_total{transport="udp"}'] < rc + 1000, (rc, grown)
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url.replace("/metrics", "/x")],
                               capture_output=True, text=True)
            assert r.stdout == "404", r.stdout

            def status_seen():
                for obj in objects():
                    if obj["kind"] == "status" and obj["requests"] == 9 and obj["established"] == 4:
                        return obj
                return None

            def objects():
                with open(err_path) as f:
                    lines = [l for l in f.read().splitlines() if l.strip()]
                return [json.loads(l) for l in lines]  # every line must be JSON

            status = wait_for("a status line with the totals", status_seen)
            assert status["open"] == 0 and status["half_open_tcp"] == status["half_open_udp"] == 0, status
        finally:
            srv.terminate()
            srv.wait(timeout=30)
            err.close()
        objs = objects()
        kinds = {o["kind"] for o in objs}
        assert {"trace", "fault", "status"} <= kinds, kinds
        traces = [o for o in objs if o["kind"] == "trace"]
        assert any(o["dir"] == "rcv" and o["type"] == "data request" and o["data"] >= 0 for o in traces), traces[:5]
        assert all(isinstance(o["seq"], int) and isinstance(o["ts"], int) for o in traces)
        faults = [o for o in objs if o["kind"] == "fault"]
        assert all(isinstance(o["error"], str) and isinstance(o["fatal"], bool) for o in faults), faults
    print(f"ok: metrics match the traffic; {len(objs)} JSON lines ({len(traces)} trace, {len(faults)} fault)")


if __name__ == "__main__":
    main()
