#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The device registry end to end: the real `lockstep device ...`, `cert revoke` and
`serve --registry` over loopback (reuses cli_e2e.py's helpers).

  registry_e2e.py --lockstep build/tools/lockstep sqlite
  registry_e2e.py --lockstep build/tools/lockstep --pg-bin /usr/lib/postgresql/15/bin postgresql
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_e2e  # noqa: E402
from cli_e2e import Fail, Server, check, read, run_in_env, wait_for  # noqa: E402
import pg_cluster  # noqa: E402

STALENESS_MS = 400
CERT = ["--cert", "device.cert", "--key", "device.key", "--ca", "ca", "--server-name", "server.test"]


def cert_of(name):
    """A client certificate whose subject is a device's PSK identity (cert+psk binds the two)."""
    return ["--cert", f"{name}.cert", "--key", f"{name}.key", "--ca", "ca", "--server-name", "server.test"]


def exercise(env, url):
    """Every device command, then a server on the registry: revocation of new and live connections."""
    R = ["--registry", url]
    env.run("device", "add", *R, "--id", "dev-1", "--out", "dev-1.psk", expect=0)
    check(oct(os.stat(env.path("dev-1.psk")).st_mode & 0o777) == "0o600", "a new device PSK file is not 0600")
    env.run("psk", "gen", "--out", "wrap.key", "--bytes", "32", expect=0)
    env.run("device", "add", *R, "--id", "dev-2", "--out", "dev-2.psk", "--wrap-key", "wrap.key", expect=0)
    env.run("psk", "gen", "--out", "old-a.psk", "--id", "old-a", expect=0)
    env.run("psk", "gen", "--out", "old-b.psk", "--id", "old-b", expect=0)
    env.run("device", "import", *R, "old-a.psk", "old-b.psk", expect=0)
    env.run("device", "add", *R, "--id", "device-1", "--no-psk", expect=0)  # the certificate's subject
    for name in ("dev-1", "old-a"):
        env.run("cert", "issue", "--ca", "ca", "--role", "client", "--subject", name, "--out", name, expect=0)
    env.error(["device", "add", *R, "--id", "dev-1", "--out", "again.psk"], 1, "exists already")
    env.error(["device", "import", *R, "old-a.psk"], 2, "exists already")
    lst = env.run("device", "list", *R, expect=0).stdout
    check(re.search(r"^dev-1\tactive\tpsk=raw\t", lst, re.M) and re.search(r"^dev-2\tactive\tpsk=wrapped\t", lst, re.M)
          and re.search(r"^device-1\tactive\tpsk=none\t", lst, re.M) and "old-b" in lst, f"device list: {lst!r}")
    key_hex = re.search(r"key=(\w+)", read(env.path("dev-1.psk"))).group(1)
    check(key_hex not in lst + env.run("device", "show", *R, "dev-1", expect=0).stdout, "a PSK was printed")

    with Server(env, "--registry", url, "--wrap-key", "wrap.key", "--registry-staleness", str(STALENESS_MS),
                "--cert", "server.cert", "--key", "server.key", "--ca", "ca", "--mode", "cert+psk,psk") as s:
        for t in ("tcp", "udp"):
            for psk in ("dev-1.psk", "dev-2.psk", "old-b.psk"):
                env.run("request", s.addr(t), f"--{t}", "--psk", psk, "--mode", "psk", expect=0)
        env.run("request", s.tcp, *cert_of("dev-1"), "--mode", "cert+psk", "--psk", "dev-1.psk", expect=0)
        # cert+psk: the certificate's subject must be the PSK's identity (spec §7.4).
        env.error(["request", s.tcp, *CERT, "--mode", "cert+psk", "--psk", "dev-1.psk"], 4, "rejected our certificate")

        # A live connection of dev-1 (a request every 50 ms), then dev-1 revoked: closed with reason revoked.
        live_err = env.path("live.err")
        with open(live_err, "w") as e:
            live = subprocess.Popen(env.cmd("request", s.tcp, "--psk", "dev-1.psk", "--mode", "psk", "-n", "400",
                                            "--interval", "50"), cwd=env.tmp, stdout=subprocess.DEVNULL, stderr=e)
        try:
            time.sleep(0.3)
            check(live.poll() is None, f"the live client ended early: {read(live_err)!r}")
            env.run("device", "revoke", *R, "dev-1", expect=0)
            # Left alone the client would run 20 s and exit 0; the wait only guards a hang.
            rc = live.wait(timeout=60)
        finally:
            if live.poll() is None:
                live.kill()
                live.wait()
        check(rc != 0 and "reason revoked" in read(live_err), f"live dev-1: exit {rc}, {read(live_err)!r}")
        for t in ("tcp", "udp"):  # a new handshake of the revoked device is refused
            env.error(["request", s.addr(t), f"--{t}", "--psk", "dev-1.psk", "--mode", "psk", "--timeout", "3000"],
                      4 if t == "tcp" else 3, "authentication failed|no answer|timed out")
        env.run("request", s.udp, "--udp", "--psk", "dev-2.psk", "--mode", "psk", expect=0)  # the others go on

        # Rotation: the old PSK is refused within the bound, the new one works.
        env.run("device", "rotate-psk", *R, "dev-2", "--out", "dev-2b.psk", "--wrap-key", "wrap.key", expect=0)
        wait_for(lambda: env.run("request", s.tcp, "--psk", "dev-2.psk", "--mode", "psk").returncode == 4, 5,
                 "the rotated-out PSK to be refused")
        env.run("request", s.tcp, "--psk", "dev-2b.psk", "--mode", "psk", expect=0)

        # cert revoke: the client certificate is refused (bad_certificate) at the next handshake.
        env.run("request", s.tcp, *cert_of("old-a"), "--mode", "cert+psk", "--psk", "old-a.psk", expect=0)
        env.run("cert", "revoke", *R, "--cert", "old-a.cert", "--note", "lost", expect=0)
        env.error(["cert", "revoke", *R, "--cert", "old-a.cert"], 2, "denied already")
        wait_for(lambda: env.run("request", s.tcp, *cert_of("old-a"), "--mode", "cert+psk", "--psk",
                                 "old-a.psk").returncode == 4, 5, "the denied certificate to be refused")
        p = env.run("request", s.tcp, *cert_of("old-a"), "--mode", "cert+psk", "--psk", "old-a.psk", expect=4)
        check("bad_certificate" in p.stderr, f"denied certificate: {p.stderr!r}")
        env.run("request", s.tcp, "--psk", "old-a.psk", "--mode", "psk", expect=0)
    check(re.search(r", [1-9]\d* revoked$", read(s.out), re.M), f"server totals: {read(s.out)!r}")


def case_sqlite(env):
    url = "sqlite:" + env.path("fleet.db")
    exercise(env, url)
    os.chmod(env.path("fleet.db"), 0o644)
    env.error(["device", "list", "--registry", url], 2, "readable by others")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lockstep", required=True)
    ap.add_argument("--pg-bin", default="")
    ap.add_argument("backend", choices=["sqlite", "postgresql"])
    args = ap.parse_args()
    cli_e2e.SLOW = 1.0
    if args.backend == "sqlite":
        return 0 if run_in_env(args.lockstep, "registry.sqlite", case_sqlite) else 1
    with tempfile.TemporaryDirectory(prefix="lockstep-pg-") as tmp, pg_cluster.Cluster(args.pg_bin, tmp) as pg:
        return 0 if run_in_env(args.lockstep, "registry.postgresql", lambda env: exercise(env, pg.url)) else 1


if __name__ == "__main__":
    sys.exit(main())
