#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""lockstep mcu size report.

arm-none-eabi-size for every layer library (all their code, before linking)
and for every image, plus each library's share of each image after
--gc-sections, read from the GNU ld map file (<image>.map next to the .elf).
Also checks that no allocator is defined in any image (no heap).
Writes Markdown to --out and prints it.
"""
import argparse
import os
import re
import subprocess
import sys

TEXT_SECTIONS = {".isr_vector", ".text", ".ARM.exidx", ".rodata"}
DATA_SECTIONS = {".data"}
BSS_SECTIONS = {".bss"}
HEAP_SYMBOLS = ["malloc", "free", "calloc", "realloc", "_malloc_r", "_free_r", "_sbrk", "_sbrk_r",
                "_Znwj", "_Znaj", "_ZnwjRKSt9nothrow_t", "_ZnajRKSt9nothrow_t"]
ENGINE_LAYERS = ["common", "wire", "keys", "record", "handshake+session"]
# handshake+session is built once per feature set ("handshake+session (client+psk build)");
# each image links one of them.
ENGINE_VARIANT = "handshake+session"


def is_engine_layer(name):
    return name in ENGINE_LAYERS or name.startswith(ENGINE_VARIANT + " (")

TARGETS = {"client role + psk only": 8 * 1024, "everything": 16 * 1024}


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def size_totals(size_tool, path):
    out = run([size_tool, "-t", path]).strip().splitlines()
    f = out[-1].split()
    return int(f[0]), int(f[1]), int(f[2])


def map_shares(map_path, libs):
    """{bucket: [text, data, bss]} for one image, from its link map."""
    by_archive = {os.path.basename(p): name for name, p in libs}
    shares = {}
    out_sec = None
    end = 0
    in_map = False
    pending = None  # a long input-section name on its own line
    sec_re = re.compile(r"^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$")
    for raw in open(map_path, encoding="utf-8", errors="replace"):
        line = raw.rstrip("\n")
        if line.startswith("Linker script and memory map"):
            in_map = True
            continue
        if not in_map:
            continue
        if line.startswith("."):  # output section header
            out_sec = line.split()[0]
            end = 0
            continue
        if line.startswith(" *fill*"):
            continue
        m = re.match(r"^ (\.\S+|COMMON)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$", line)
        if m:
            addr, size, origin = int(m.group(2), 16), int(m.group(3), 16), m.group(4)
        elif re.match(r"^ (\.\S+|COMMON)$", line):
            pending = True
            continue
        elif pending and sec_re.match(line):
            m2 = sec_re.match(line)
            addr, size, origin = int(m2.group(1), 16), int(m2.group(2), 16), m2.group(3)
            pending = None
        else:
            pending = None
            continue
        pending = None
        if size == 0 or out_sec is None:
            continue
        # Merged string sections (SHF_MERGE) overlap their predecessors: count new bytes only.
        if addr + size <= end:
            continue
        if addr < end:
            size = addr + size - end
        end = addr + size if addr >= end else end + size
        kind = 0 if out_sec in TEXT_SECTIONS else 1 if out_sec in DATA_SECTIONS else 2 if out_sec in BSS_SECTIONS else None
        if kind is None:
            continue
        am = re.match(r"^(.*\.a)\((.*)\)$", origin)
        if am:
            base = os.path.basename(am.group(1))
            bucket = by_archive.get(base) or ("toolchain: " + base)
        else:
            bucket = "image main: " + os.path.basename(origin).replace(".cpp.obj", ".cpp")
        shares.setdefault(bucket, [0, 0, 0])[kind] += size
    return shares


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", required=True)
    ap.add_argument("--nm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lib", action="append", default=[])
    ap.add_argument("--image", action="append", default=[])
    a = ap.parse_args()
    libs = [tuple(x.split("=", 1)) for x in a.lib]
    images = [tuple(x.split("=", 1)) for x in a.image]
    md = []
    ok = True

    md.append("### Layer libraries (all code of each library, `arm-none-eabi-size -t lib.a`)\n")
    md.append("| library | text | data | bss |")
    md.append("|---|---:|---:|---:|")
    totals = {}  # engine variant -> [text, data, bss] of common..that variant
    below = [0, 0, 0]
    for name, path in libs:
        t, d, b = size_totals(a.size, path)
        md.append(f"| {name} | {t} | {d} | {b} |")
        if name in ENGINE_LAYERS and name != ENGINE_VARIANT:
            below = [below[0] + t, below[1] + d, below[2] + b]
        elif is_engine_layer(name):
            totals[name] = [t, d, b]
    for name, (t, d, b) in totals.items():
        md.append(f"| **engine total (common..{name})** | **{below[0] + t}** | **{below[1] + d}** | **{below[2] + b}** |")
    md.append("")

    for iname, path in images:
        t, d, b = size_totals(a.size, path)
        shares = map_shares(path[:-4] + ".map", libs)
        md.append(f"### Image: {iname} (`{os.path.basename(path)}`, after --gc-sections)\n")
        md.append(f"`arm-none-eabi-size`: text={t} data={d} bss={b} "
                  f"(bss includes the 32 KiB stack region and the .bss buffers: engines, workspaces)\n")
        md.append("| part of the image | text | data | bss |")
        md.append("|---|---:|---:|---:|")
        eng = [0, 0, 0]
        for name, _ in libs:
            s = shares.get(name, [0, 0, 0])
            if name not in ENGINE_LAYERS and is_engine_layer(name) and s == [0, 0, 0]:
                continue  # an engine variant this image does not link
            if name == ENGINE_VARIANT and s == [0, 0, 0] and any(
                    is_engine_layer(n) and n != ENGINE_VARIANT and shares.get(n) for n, _ in libs):
                continue
            md.append(f"| {name} | {s[0]} | {s[1]} | {s[2]} |")
            if is_engine_layer(name):
                eng = [x + y for x, y in zip(eng, s)]
        for bucket in sorted(k for k in shares if k not in dict(libs)):
            s = shares[bucket]
            md.append(f"| {bucket} | {s[0]} | {s[1]} | {s[2]} |")
        md.append(f"| **engine (common..handshake+session)** | **{eng[0]}** | **{eng[1]}** | **{eng[2]}** |")
        for key, limit in TARGETS.items():
            if iname.startswith(key):
                verdict = "MET" if eng[0] <= limit else "MISSED"
                md.append(f"\nTarget: engine text <= {limit} bytes ({limit // 1024} KiB): **{verdict}** "
                          f"({eng[0]} bytes, {eng[0] / 1024:.1f} KiB; provider primitives excluded)")
        defined = {l.split()[-1] for l in run([a.nm, "--defined-only", path]).splitlines() if l.strip()}
        bad = [s for s in HEAP_SYMBOLS if s in defined]
        if bad:
            ok = False
            md.append(f"\n**HEAP CHECK FAILED**: allocator symbols defined: {', '.join(bad)}")
        else:
            md.append("\nNo heap: none of " + ", ".join(HEAP_SYMBOLS) + " is defined in the image.")
        md.append("")

    text = "\n".join(md) + "\n"
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
