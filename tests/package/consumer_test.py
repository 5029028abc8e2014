#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The consumer's view: install this build into a temporary prefix, build
examples/ against the installed package through find_package(lockstep) and
through pkg-config, then run the C client (C API) against `lockstep serve` and
against the C++ example server (net API) on loopback, on ephemeral ports."""
from pkgrun import run
import argparse, os, re, shutil, subprocess, sys, tempfile


def start_server(cmd):
    """Starts a server that prints 'listening tcp=HOST:PORT' and returns (proc, port)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = p.stdout.readline()  # blocks until the server is ready (or exits)
    m = re.search(r"tcp=127\.0\.0\.1:(\d+)", line)
    if not m:
        p.kill()
        sys.exit(f"server did not start: {line!r} {p.stdout.read()}")
    return p, m.group(1)


def client(binary, port, key, ident, requests):
    r = subprocess.run([binary, "127.0.0.1", port, key, ident] + requests, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    if r.returncode != 0:
        sys.exit(f"{binary} exited {r.returncode}: {r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lockstep-consumer-") as tmp:
        prefix = os.path.join(tmp, "prefix")
        run(["cmake", "--install", a.build, "--prefix", prefix])
        for f in ["bin/lockstep", "include/lockstep/lockstep.h", "include/lockstep/version.hpp",
                  "include/lockstep/openssl/provider.hpp"]:
            assert os.path.isfile(os.path.join(prefix, f)), f"not installed: {f}"
        pcs = [os.path.join(d, f) for d, _, fs in os.walk(prefix) for f in fs if f == "lockstep.pc"]
        cfgs = [d for d, _, fs in os.walk(prefix) for f in fs if f == "lockstepConfig.cmake"]
        assert len(pcs) == 1 and len(cfgs) == 1, (pcs, cfgs)
        assert not any("src" in d.split(os.sep) for d, _, _ in os.walk(prefix)), "src/ was installed"

        # 1. find_package(lockstep), the installed tree only (no source include paths).
        b = os.path.join(tmp, "cmake-build")
        run(["cmake", "-S", os.path.join(a.source, "examples"), "-B", b, "-G", "Ninja",
             f"-DCMAKE_PREFIX_PATH={prefix}"])
        run(["cmake", "--build", b])

        # 2. pkg-config, the C client as strict C99.
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
        flags = run(["pkg-config", "--cflags", "--libs", "lockstep"], env=env).split()
        version = run(["pkg-config", "--modversion", "lockstep"], env=env).strip()
        cli_version = run([os.path.join(prefix, "bin/lockstep"), "--version"]).strip()
        assert cli_version == f"lockstep {version}", (cli_version, version)
        pc_client, pc_server = os.path.join(tmp, "pc_client"), os.path.join(tmp, "pc_server")
        run(["cc", "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror",
             os.path.join(a.source, "examples/psk_client.c"), "-o", pc_client] + flags)
        run(["c++", "-std=c++20", os.path.join(a.source, "examples/psk_server.cpp"), "-o", pc_server] + flags)

        key = os.path.join(tmp, "device.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(os.urandom(32))

        # 3. the C client against the installed `lockstep serve`, both builds of it.
        srv, port = start_server([os.path.join(prefix, "bin/lockstep"), "serve", "--tcp", "0", "--psk", key,
                                  "--psk-id", "device-1", "--source", "sensor:3"])
        try:
            for c in [os.path.join(b, "psk_client"), pc_client]:
                out = client(c, port, key, "device-1", ["m=2", "m=1"])
                readings = [l for l in out.splitlines() if l.startswith("t=")]
                assert len(readings) == 3, out  # two readings, then one
            # a wrong identity fails the handshake (the client must not claim success)
            r = subprocess.run([pc_client, "127.0.0.1", port, key, "someone-else"], capture_output=True, timeout=30)
            assert r.returncode != 0, "a client with an unknown identity succeeded"
        finally:
            srv.terminate()
            srv.wait(timeout=10)

        # 4. the C client against the C++ example server (net API), both builds.
        for s in [os.path.join(b, "psk_server"), pc_server]:
            srv, port = start_server([s, key, "device-1"])
            try:
                out = client(pc_client, port, key, "device-1", ["ping", "pong"])
                assert out.splitlines() == ["echo: ping", "echo: pong"], out
            finally:
                srv.terminate()
                srv.wait(timeout=10)
    print("ok: installed, built via find_package and pkg-config, clients and servers talk")


if __name__ == "__main__":
    main()
