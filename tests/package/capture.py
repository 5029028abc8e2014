# SPDX-License-Identifier: Apache-2.0
"""Shared by the Wireshark tests: `lockstep serve` on ephemeral TCP and UDP ports
with dumpcap capturing those ports on the loopback interface (needs root or
dumpcap's capture capabilities)."""
import contextlib, os, re, subprocess, sys, time


def wait_for(what, pred, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


@contextlib.contextmanager
def serve_and_capture(lockstep, serve_args, tmp, cap):
    """Yields the server's (tcp port, udp port) while dumpcap writes what passes them to `cap`."""
    srv = subprocess.Popen([lockstep, "serve", "--tcp", "0", "--udp", "0"] + serve_args, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    dc = None
    try:
        m = re.match(r"listening tcp=127\.0\.0\.1:(\d+) udp=127\.0\.0\.1:(\d+)", srv.stdout.readline())
        assert m, "the server did not start"
        ports = (m.group(1), m.group(2))
        dc_err = open(os.path.join(tmp, "dumpcap.err"), "w+")
        dc = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", f"port {ports[0]} or port {ports[1]}", "-w", cap],
                              stderr=dc_err)
        wait_for("dumpcap to capture", lambda: "Capturing on" in open(dc_err.name).read() or dc.poll() is not None)
        assert dc.poll() is None, open(dc_err.name).read()
        yield ports
    finally:
        if dc is not None:
            time.sleep(0.5)  # let the last packets of the close reach the ring buffer
            dc.terminate()
            dc.wait(timeout=30)
        srv.terminate()
        srv.wait(timeout=30)
