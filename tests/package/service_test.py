#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The service unit and the readiness it waits for:
1. `systemd-analyze verify` accepts packaging/lockstep-serve@.service (an
   instance of it, its ExecStart pointed at the built CLI), and the unit keeps
   its hardening: Type=notify, DynamicUser=, no capabilities;
2. `lockstep serve`, given a NOTIFY_SOCKET like systemd gives it, sends READY=1
   (with the listening line as STATUS=) once it listens, and STOPPING=1 on SIGTERM."""
import argparse, os, re, shutil, signal, socket, subprocess, sys, tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lockstep", required=True)
    ap.add_argument("--unit", required=True)
    a = ap.parse_args()
    unit = open(a.unit).read()
    for line in ["Type=notify", "DynamicUser=yes", "CapabilityBoundingSet=\n", "AmbientCapabilities=\n",
                 "NoNewPrivileges=yes", "ExecStart=/usr/bin/lockstep serve --config /etc/lockstep/%i.toml"]:
        assert line in unit, f"the unit lost {line!r}"

    with tempfile.TemporaryDirectory(prefix="lockstep-unit-") as tmp:
        if shutil.which("systemd-analyze"):
            inst = os.path.join(tmp, "lockstep-serve@test.service")
            with open(inst, "w") as f:
                f.write(unit.replace("/usr/bin/lockstep", os.path.abspath(a.lockstep)))
            r = subprocess.run(["systemd-analyze", "verify", "--man=no", inst], capture_output=True, text=True)
            assert r.returncode == 0 and not r.stderr.strip(), f"systemd-analyze verify: {r.returncode} {r.stderr}"
            print("ok: systemd-analyze verify")
        else:
            print("systemd-analyze not installed: verify not run")

        sock_path = os.path.join(tmp, "notify")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(sock_path)
        s.settimeout(30)
        key = os.path.join(tmp, "k.psk")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(os.urandom(32))
        env = dict(os.environ, NOTIFY_SOCKET=sock_path)
        p = subprocess.Popen([a.lockstep, "serve", "--tcp", "0", "--bind", "127.0.0.1", "--psk", key, "--psk-id", "d"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            ready = s.recv(4096).decode()
            listening = p.stdout.readline().strip()
            assert "READY=1" in ready.split("\n"), ready
            assert re.match(r"listening tcp=127\.0\.0\.1:\d+$", listening), listening
            assert f"STATUS={listening}" in ready.split("\n"), (ready, listening)
            p.send_signal(signal.SIGTERM)
            stopping = s.recv(4096).decode()
            assert "STOPPING=1" in stopping.split("\n"), stopping
            assert p.wait(timeout=30) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    print(f"ok: READY=1 with STATUS={listening}, STOPPING=1")


if __name__ == "__main__":
    main()
