#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fails when an #include in src/ or include/lockstep/ points up the layers.

The layers, lowest first (README.md, "Layers"): a file in one layer may
include headers of its own layer, of the layers below it and the public API
(include/lockstep/), never one above it or a sibling of the same rank. The
public headers include only each other. A folder under src/ missing from the
list fails too, so a new layer must be placed in it.

  check_layers.py <repo root>          check the tree (exit 1 on a violation)
  check_layers.py --self-test          the checker finds planted violations
"""
import os
import re
import sys
import tempfile

# rank of each src/ folder; a file may include folders of a lower rank or its own folder
LAYERS = {
    "common": 0,
    "crypto": 1,
    "wire": 2,
    "keys": 3,
    "record": 4,
    "handshake": 5,
    "session": 6,
    "registry": 7,
    "net": 7,
    "capi": 8,
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def violations(root):
    out = []
    src = os.path.join(root, "src")
    pub = os.path.join(root, "include", "lockstep")
    for folder in sorted(os.listdir(src)):
        path = os.path.join(src, folder)
        if not os.path.isdir(path):
            continue
        if folder not in LAYERS:
            out.append(f"src/{folder}: not in the layer list of {os.path.basename(__file__)}")
            continue
        for dirpath, _, files in os.walk(path):
            for name in sorted(files):
                if not name.endswith((".hpp", ".cpp", ".h", ".c")):
                    continue
                file = os.path.join(dirpath, name)
                rel = os.path.relpath(file, root)
                with open(file, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for inc in INCLUDE.findall(text):
                    top = inc.split("/", 1)[0]
                    if "/" not in inc or top == "lockstep" or top == folder:
                        continue  # same folder, public API
                    if top not in LAYERS:
                        continue  # not a project header (e.g. a generated or third-party one)
                    if LAYERS[top] >= LAYERS[folder]:
                        out.append(f"{rel}: includes \"{inc}\" ({top}, rank {LAYERS[top]}) "
                                   f"from {folder} (rank {LAYERS[folder]}): points up or sideways")
    for dirpath, _, names in sorted(os.walk(pub)):
        for name in sorted(names):
            file = os.path.join(dirpath, name)
            rel = os.path.relpath(file, os.path.join(root, "include"))
            with open(file, encoding="utf-8", errors="replace") as f:
                for inc in INCLUDE.findall(f.read()):
                    if not inc.startswith("lockstep/"):
                        out.append(f"include/{rel}: includes \"{inc}\": the public API includes only itself")
    return out


def self_test():
    with tempfile.TemporaryDirectory() as root:
        def put(rel, text):
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        put("include/lockstep/engine.hpp", '#include "lockstep/types.hpp"\n')
        put("src/wire/wire.hpp", '#include "common/bytes.hpp"\n#include "lockstep/types.hpp"\n')
        put("src/session/conn.hpp", '#include "handshake/link.hpp"\n#include "session/x.hpp"\n')
        if violations(root):
            print("self-test: a clean tree was flagged:", violations(root))
            return 1
        put("src/handshake/rekey.cpp", '#include "session/conn.hpp"\n')    # up
        put("src/net/io.cpp", '  #  include "registry/registry.hpp"\n')  # sideways
        put("include/lockstep/net.hpp", '#include "net/io.hpp"\n')         # public -> private
        put("src/newlayer/x.cpp", "\n")                                    # unplaced folder
        found = violations(root)
        if len(found) != 4:
            print("self-test: expected 4 violations, found", len(found), found)
            return 1
    print("self-test: PASS (4 planted violations found, clean tree passes)")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    found = violations(root)
    for v in found:
        print(v)
    if found:
        print(f"FAIL: {len(found)} include(s) against the layering")
        return 1
    print("layering: PASS (every include points down)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
