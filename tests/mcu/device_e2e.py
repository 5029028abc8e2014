#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The device client on qemu against `lockstep serve` over UDP.

   device_e2e.py <lockstep> <qemu-system-arm> <device.elf> <mode>

Runs, in a fresh temporary folder:
  * a 32-byte PSK (0600) and a 32-byte entropy seed from the host's CSPRNG,
    read by the device through semihosting (lockstep-device.psk / .seed);
  * mode cert+psk: a CA, a server certificate ("server.test") and the device's
    ("device-1") from `lockstep ca init` / `cert issue`; the device reads its
    certificate, the CA certificate and its Ed25519 seed (from the PKCS#8 key
    file) as lockstep-device.cert / .ca / .key;
  * `lockstep serve --udp 0 --psk ... --mode <mode> --trace` on loopback;
  * the relay: a TCP listener that qemu's UART0 connects to (-serial tcp:...),
    carrying length-framed messages (2-byte big-endian length, bytes), each
    forwarded as one UDP datagram to the server, and back;
  * qemu-system-arm -M mps2-an386 with the device image.
Checks: the device reports 25 responses, 2 re-keys and an acknowledged close
(exit status 0), and the server's trace shows three HELLOs in the connection
(the client's first and the server's two re-keys; distinct sequence numbers).
RAM (docs/FOOTPRINT.md, the device clients): .data + .bss without the stack
region (arm-none-eabi-size -A) + the stack high-water mark the device prints,
within 8 KiB for the psk and psk-only clients; printed for every mode.
"""
import base64
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 60
RAM_BUDGET = {"psk": 8192, "psk-only": 8192}  # bytes; cert+psk is only reported


def ram_used(elf, out):
    """.data + .bss (the .stack region excluded) + the printed stack high-water mark."""
    m = re.search(r"stack high-water (\d+) bytes", out)
    if not m:
        fail("the device did not print its stack high-water mark")
    sizes = subprocess.run(["arm-none-eabi-size", "-A", elf], capture_output=True, text=True)
    if sizes.returncode != 0:
        fail("arm-none-eabi-size -A failed: " + sizes.stderr.strip())
    sec = {f[0]: int(f[1]) for f in (line.split() for line in sizes.stdout.splitlines()) if len(f) >= 2 and f[1].isdigit()}
    return sec.get(".data", 0), sec.get(".bss", 0), int(m.group(1))


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


# An Ed25519 PKCS#8 private key (RFC 8410) is this DER prefix and the 32-byte seed.
ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


def write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data)
    os.close(fd)


def cert_credentials(lockstep, tmp):
    """CA, server and device certificates; returns the server's serve flags."""
    def run(*args):
        r = subprocess.run([lockstep, *args], cwd=tmp, capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"lockstep {' '.join(args)}: {r.stderr.strip()}")
    run("ca", "init", "--out", "ca")
    run("cert", "issue", "--ca", "ca", "--role", "server", "--subject", "server.test", "--out", "server")
    run("cert", "issue", "--ca", "ca", "--role", "client", "--subject", "device-1", "--out", "device")
    pem = open(os.path.join(tmp, "device.key")).read().split("-----")[2]
    der = base64.b64decode("".join(pem.split()))
    if len(der) != 48 or not der.startswith(ED25519_PKCS8_PREFIX):
        fail("device.key is not an Ed25519 PKCS#8 key")
    write_private(os.path.join(tmp, "lockstep-device.key"), der[16:])
    for src, dst in (("device.cert", "lockstep-device.cert"), (os.path.join("ca", "ca.cert"), "lockstep-device.ca")):
        with open(os.path.join(tmp, src), "rb") as f, open(os.path.join(tmp, dst), "wb") as g:
            g.write(f.read())
    return ["--cert", "server.cert", "--key", "server.key", "--ca", "ca"]


def main():
    if len(sys.argv) != 5:
        fail("usage: device_e2e.py <lockstep> <qemu-system-arm> <device.elf> <mode>")
    lockstep, qemu, elf, mode = sys.argv[1:]
    lockstep = os.path.abspath(lockstep) if os.sep in lockstep else lockstep
    if not os.path.isfile(elf):
        fail(f"{elf} not built (run the mcu_build test first)")
    with tempfile.TemporaryDirectory(prefix="lockstep-device-") as tmp:
        psk = os.path.join(tmp, "lockstep-device.psk")
        write_private(psk, os.urandom(32))
        write_private(os.path.join(tmp, "lockstep-device.seed"), os.urandom(32))
        certs = cert_credentials(lockstep, tmp) if mode.startswith("cert") else []

        server = subprocess.Popen(
            [lockstep, "serve", "--udp", "0", "--bind", "127.0.0.1", "--psk", psk, "--psk-id", "device-1",
             "--mode", mode, "--source", "sensor:5", "--trace", *certs],
            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        qemu_p = None
        stalled = None
        try:
            m = None
            head = ""
            while not m:  # warnings (psk-only is not forward secret) come first
                line = server.stdout.readline()
                if not line:
                    fail(f"server did not start: {head!r}")
                head += line
                m = re.search(r"listening .*udp=([0-9.]+):(\d+)", line)
            server_addr = (m.group(1), int(m.group(2)))

            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.connect(server_addr)

            qemu_p = subprocess.Popen(
                [qemu, "-M", "mps2-an386", "-nographic", "-monitor", "none",
                 "-serial", f"tcp:127.0.0.1:{listener.getsockname()[1]}",
                 "-semihosting-config", "enable=on,target=native", "-kernel", os.path.abspath(elf)],
                cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            listener.settimeout(TIMEOUT_S)
            uart, _ = listener.accept()
            deadline = time.monotonic() + TIMEOUT_S
            buf = b""
            frames = [0, 0]
            log = []
            t0 = time.monotonic()
            while qemu_p.poll() is None:
                if time.monotonic() > deadline:
                    stalled = f"no end after {TIMEOUT_S} s"
                    break
                ready, _, _ = select.select([uart, udp], [], [], 0.2)
                if uart in ready:
                    chunk = uart.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                    while len(buf) >= 2 and len(buf) >= 2 + (buf[0] << 8 | buf[1]):
                        n = buf[0] << 8 | buf[1]
                        udp.send(buf[2:2 + n])
                        frames[0] += 1
                        log.append(f"{time.monotonic() - t0:7.3f} device->server {n} B {buf[2:2 + min(n, 16)].hex()}")
                        buf = buf[2 + n:]
                if udp in ready:
                    try:
                        dgram = udp.recv(65535)
                    except ConnectionRefusedError:
                        continue
                    uart.sendall(len(dgram).to_bytes(2, "big") + dgram)
                    frames[1] += 1
                    log.append(f"{time.monotonic() - t0:7.3f} server->device {len(dgram)} B {dgram[:16].hex()}")
            if stalled:
                qemu_p.kill()
            try:
                rc = qemu_p.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                fail("qemu did not exit")
            out = qemu_p.stdout.read()
            print(out, end="")
            print(f"relay: {frames[0]} datagrams device->server, {frames[1]} server->device")
        finally:
            if qemu_p and qemu_p.poll() is None:
                qemu_p.kill()
            server.terminate()
            try:
                trace, _ = server.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                trace, _ = server.communicate()
        print("server trace:\n" + trace)
        print("relay log:\n" + "\n".join(log))
        if stalled:
            fail(stalled)
        # Distinct HELLOs (by sequence number): in cert+psk the HELLO ACK is more than
        # three times the HELLO, so the server answers the first HELLO with a COOKIE
        # (amplification limit, PROTOCOL.md §6.8) and its trace shows that HELLO twice.
        hellos = len(set(re.findall(r"\] (?:rcv|snd) hello +seq=(0x[0-9a-f]+)", trace)))
        if rc != 0:
            fail(f"device exit status {rc}")
        if not re.search(r"responses 25, re-keys 2, closed reason 0 acknowledged", out):
            fail("the device did not report 25 responses, 2 re-keys and an acknowledged close")
        if hellos != 3:
            fail(f"the server's trace shows {hellos} HELLO(s), not 3 (initial + two re-keys)")
        data, bss, stack = ram_used(elf, out)
        total = data + bss + stack
        budget = RAM_BUDGET.get(mode)
        print(f"RAM: {data} + {bss} + {stack} (stack) = {total} bytes" + (f", budget {budget}" if budget else ""))
        if budget and total > budget:
            fail(f"RAM {total} bytes over the {budget}-byte budget")
        print(f"OK: {mode}: 25 responses, 3 HELLOs in the server's trace, clean close")


if __name__ == "__main__":
    main()
