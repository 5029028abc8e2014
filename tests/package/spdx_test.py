#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every source file of the tree carries the license identifier in its first
lines (after a #! line): `SPDX-License-Identifier: Apache-2.0`. Source files:
C, C++, Python, shell, CMake, the templates in cmake/, the linker script, the
Spin model, the Lua dissector and the Makefile. Lists the files with `git
ls-files` when the tree is a git checkout, else walks it."""
import os, re, subprocess, sys

SOURCE = re.compile(r"(\.(cpp|hpp|h|c|py|sh|cmake|in|ld|pml|lua)|/CMakeLists\.txt|^CMakeLists\.txt|^Makefile)$")
SKIP = ("build", ".git")
TAG = "SPDX-License-Identifier: Apache-2.0"


def files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, text=True, check=True).stdout.split("\n")
        return [f for f in out if f and SOURCE.search(f) and os.path.isfile(os.path.join(root, f))]
    except (OSError, subprocess.CalledProcessError):
        found = []
        for d, dirs, fs in os.walk(root):
            dirs[:] = [x for x in dirs if not x.startswith(SKIP)]
            for f in fs:
                rel = os.path.relpath(os.path.join(d, f), root)
                if SOURCE.search(rel):
                    found.append(rel)
        return found


def main():
    root = sys.argv[1]
    names = files(root)
    missing = []
    for rel in names:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(3)]
        if head and head[0].startswith("#!"):
            head = head[1:]
        if not any(TAG in line for line in head[:2]):
            missing.append(rel)
    if len(names) < 100:
        sys.exit(f"only {len(names)} source files found under {root}: wrong directory?")
    if missing:
        sys.exit("no '" + TAG + "' in the first lines of:\n  " + "\n  ".join(missing))
    print(f"ok: {len(names)} source files carry {TAG}")


if __name__ == "__main__":
    main()
