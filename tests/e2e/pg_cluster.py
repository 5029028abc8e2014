# SPDX-License-Identifier: Apache-2.0
"""A throw-away PostgreSQL cluster for tests: initdb in a temporary folder, a free
loopback port, trust authentication for a user `lockstep`, stopped (and its
files removed with the folder) on exit. PostgreSQL refuses to run as root, so
under root the cluster runs as `nobody` (runuser)."""
import os
import shutil
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, bin_dir, tmp):
        self.bin = bin_dir or self._find_bin()
        self.data = os.path.join(tmp, "pgdata")
        self.port = free_port()
        self.url = f"postgresql://lockstep@127.0.0.1:{self.port}/postgres"
        self.as_user = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "nobody", "--"]
            os.chmod(tmp, 0o777)
        self.log = os.path.join(tmp, "pg.log")

    @staticmethod
    def _find_bin():
        base = "/usr/lib/postgresql"
        for v in sorted(os.listdir(base), key=lambda x: int(x) if x.isdigit() else 0, reverse=True):
            if os.path.exists(os.path.join(base, v, "bin", "initdb")):
                return os.path.join(base, v, "bin")
        raise RuntimeError("no PostgreSQL server binaries (Debian package postgresql)")

    def _run(self, *args):
        subprocess.run([*self.as_user, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)

    def __enter__(self):
        self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "lockstep", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        opts = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' -c fsync=off"
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", opts, "-w", "-t", "30",
                  "start")
        deadline = time.monotonic() + 30
        while subprocess.run([os.path.join(self.bin, "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             stdout=subprocess.DEVNULL).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the PostgreSQL cluster did not start")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        subprocess.run([*self.as_user, os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w",
                        "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(self.data, ignore_errors=True)
