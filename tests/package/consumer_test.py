#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The consumer's view: install this build into a temporary prefix, build
examples/ against the installed package through find_package(lockstep) and
through pkg-config, then run the C client (C API) against `lockstep serve` and
against the C++ example server (net API) on loopback, on ephemeral ports.

--shared: the same for shared libraries. --build is then a directory of its own
where the libraries are configured with BUILD_SHARED_LIBS=ON (no tool, tests or
benchmarks; --cmake-arg passes the parent build's options, e.g. its ccache
launcher) and built (incrementally when it exists); the installed .so files
must carry their SONAME and export the public API only, and `lockstep serve`
is the one given with --lockstep."""
from pkgrun import run
import argparse, os, re, shutil, subprocess, sys, tempfile


def start_server(cmd, env=None):
    """Starts a server that prints 'listening tcp=HOST:PORT' and returns (proc, port)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    line = p.stdout.readline()  # blocks until the server is ready (or exits)
    m = re.search(r"tcp=127\.0\.0\.1:(\d+)", line)
    if not m:
        p.kill()
        sys.exit(f"server did not start: {line!r} {p.stdout.read()}")
    return p, m.group(1)


def client(binary, port, key, ident, requests, env):
    r = subprocess.run([binary, "127.0.0.1", port, key, ident] + requests, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30, env=env)
    if r.returncode != 0:
        sys.exit(f"{binary} exited {r.returncode}: {r.stderr}")
    return r.stdout


def check_shared_libs(prefix):
    """The installed shared libraries: versioned with their SONAME, no static archive,
    and only the public API exported (hidden visibility: no engine or record internals,
    only the few wire functions liblockstep-net needs, src/CMakeLists.txt)."""
    libs = {f: d for d, _, fs in os.walk(prefix) for f in fs if f.startswith("liblockstep")}
    assert not [f for f in libs if f.endswith(".a")], f"static archives installed: {sorted(libs)}"
    for name in ["liblockstep", "liblockstep-openssl", "liblockstep-net"]:
        real = [f for f in libs if re.fullmatch(re.escape(name) + r"\.so\.\d+\.\d+\.\d+", f)]
        assert len(real) == 1, (name, sorted(libs))
        path = os.path.join(libs[real[0]], real[0])
        soname = re.search(r"SONAME\s+(\S+)", run(["objdump", "-p", path])).group(1)
        assert soname in libs and re.fullmatch(re.escape(name) + r"\.so\.\d+\.\d+", soname), (soname, sorted(libs))
        exported = run(["nm", "-D", "-C", "--defined-only", path])
        for internal in ["decode_hello_ack", "lockstep::record::", "lockstep::keys::", "lockstep::handshake::"]:
            assert internal not in exported, f"{real[0]} exports {internal}"
    return libs[real[0]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--shared", action="store_true", help="configure and build shared libraries in --build first")
    ap.add_argument("--lockstep", help="the CLI to serve with (default: the installed one)")
    ap.add_argument("--cmake-arg", action="append", default=[], help="passed to the --shared configure step")
    a = ap.parse_args()
    if a.shared:
        run(["cmake", "-S", a.source, "-B", a.build, "-G", "Ninja", "-DBUILD_SHARED_LIBS=ON", "-DLOCKSTEP_TOOLS=OFF",
             "-DLOCKSTEP_TESTS=OFF", "-DLOCKSTEP_BENCH=OFF", "-DLOCKSTEP_INSTALL=ON"] + a.cmake_arg)
        run(["cmake", "--build", a.build])
    with tempfile.TemporaryDirectory(prefix="lockstep-consumer-") as tmp:
        prefix = os.path.join(tmp, "prefix")
        run(["cmake", "--install", a.build, "--prefix", prefix])
        for f in ["include/lockstep/lockstep.h", "include/lockstep/version.hpp",
                  "include/lockstep/openssl/provider.hpp"] + ([] if a.shared else ["bin/lockstep"]):
            assert os.path.isfile(os.path.join(prefix, f)), f"not installed: {f}"
        env = dict(os.environ)
        if a.shared:
            libdir = check_shared_libs(prefix)
            env["LD_LIBRARY_PATH"] = libdir  # for the pkg-config builds (CMake's carry an RPATH)
        lockstep = a.lockstep or os.path.join(prefix, "bin/lockstep")
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
        pc_env = dict(env, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
        flags = run(["pkg-config", "--cflags", "--libs", "lockstep"], env=pc_env).split()
        version = run(["pkg-config", "--modversion", "lockstep"], env=pc_env).strip()
        cli_version = run([lockstep, "--version"]).strip()
        assert cli_version == f"lockstep {version}", (cli_version, version)
        pc_client, pc_server = os.path.join(tmp, "pc_client"), os.path.join(tmp, "pc_server")
        run(["cc", "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror",
             os.path.join(a.source, "examples/psk_client.c"), "-o", pc_client] + flags)
        run(["c++", "-std=c++20", os.path.join(a.source, "examples/psk_server.cpp"), "-o", pc_server] + flags)
        if a.shared:  # every example runs on the installed shared libraries
            for exe, lib in [(os.path.join(b, "psk_client"), "liblockstep-openssl.so"), (pc_client, "liblockstep.so"),
                             (os.path.join(b, "psk_server"), "liblockstep-net.so"), (pc_server, "liblockstep-net.so")]:
                deps = run(["ldd", exe], env=env)
                assert re.search(re.escape(lib) + r"\.\S* => " + re.escape(prefix), deps), (exe, deps)

        key = os.path.join(tmp, "device.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(os.urandom(32))

        # 3. the C client against the installed `lockstep serve`, both builds of it.
        srv, port = start_server([lockstep, "serve", "--tcp", "0", "--psk", key,
                                  "--psk-id", "device-1", "--source", "sensor:3"])
        try:
            for c in [os.path.join(b, "psk_client"), pc_client]:
                out = client(c, port, key, "device-1", ["m=2", "m=1"], env)
                readings = [l for l in out.splitlines() if l.startswith("t=")]
                assert len(readings) == 3, out  # two readings, then one
            # a wrong identity fails the handshake (the client must not claim success)
            r = subprocess.run([pc_client, "127.0.0.1", port, key, "someone-else"], capture_output=True, timeout=30,
                               env=env)
            assert r.returncode != 0, "a client with an unknown identity succeeded"
        finally:
            srv.terminate()
            srv.wait(timeout=10)

        # 4. the C client against the C++ example server (net API), both builds.
        for s in [os.path.join(b, "psk_server"), pc_server]:
            srv, port = start_server([s, key, "device-1"], env)
            try:
                out = client(pc_client, port, key, "device-1", ["ping", "pong"], env)
                assert out.splitlines() == ["echo: ping", "echo: pong"], out
            finally:
                srv.terminate()
                srv.wait(timeout=10)
    print("ok: installed, built via find_package and pkg-config, clients and servers talk")


if __name__ == "__main__":
    main()
