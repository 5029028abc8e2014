# SPDX-License-Identifier: Apache-2.0
"""run(): the one way the package tests run a command (its output, or exit with it)."""
import subprocess, sys


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(cmd)}\n{r.stdout}")
    return r.stdout
