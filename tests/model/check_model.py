#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Model-check tests/model/lockstep.pml with Spin: one pan run per check.

Each check is a channel scenario (policy, loss, duplication, reordering,
corruption, early timers) and a property. A check fails when pan reports an
error (assertion violated, invalid end state, acceptance cycle), when the
search is incomplete (memory or time), or, for a coverage check, when the
expected witness is NOT found. For every failure the trail is replayed and the
scenario printed as a message sequence.

Usage: check_model.py [--work DIR] [--only NAME[,NAME]] [--list] [--extra]
Environment: SPIN (default: spin on PATH), CC (default: cc).
Exit status: 0 when every check passed, 1 otherwise, 2 when a tool is missing.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "lockstep.pml")

# Channel scenarios: the -D knobs of lockstep.pml.
TCP = "-DTOLERANT=0 -DREORDER=0 -DLOSS=0 -DDUPS=0 -DCORRUPT=0"
STRICT_UDP = "-DTOLERANT=0 -DREORDER=2 -DLOSS=2 -DDUPS=1 -DCORRUPT=1 -DEARLY=2"
UDP = "-DTOLERANT=1"

# Property switches: everything the safety runs check except RESEND LAST (its own runs).
SAFE = "-DPROP_RL=0 -DPROP_CLOSE=1 -DPROP_REKEY=1 -DPROP_REQ=1 -DPROP_ROW=1"
ONLY_RL = "-DPROP_RL=1 -DPROP_CLOSE=0 -DPROP_REKEY=0 -DPROP_REQ=0 -DPROP_ROW=0"

# name, what it shows, -D knobs, kind: "safety" | "ltl:<name>" | "cover"
CHECKS = [
    # -- strict policy over a stream (TCP): FIFO, nothing lost; timers may race messages
    ("tcp.safety", "no deadlock; CLOSE x(1+3) then CLOSED WITHOUT ACK; re-key after N; no request lost",
     f"{TCP} -DEARLY=3 {SAFE}", "safety"),
    ("tcp.resend", "at most 3 RESEND LAST in a row (strict sends none)", f"{TCP} -DEARLY=3 {ONLY_RL}", "safety"),
    ("tcp.terminates", "every run ends with both sides CLOSED", f"{TCP} -DEARLY=3 {SAFE}", "ltl:terminates"),
    ("tcp.completes", "slow timers: all requests answered, re-keyed, clean close",
     f"{TCP} -DEARLY=0 {SAFE}", "ltl:completes"),
    ("tcp.crossing", "coverage: a request crossing the re-key is answered (a witness must exist)",
     f"{TCP} -DEARLY=0 {SAFE} -DCOVER=1", "cover"),
    # -- strict policy over a datagram channel: every fault closes
    ("strict-udp.safety", "as tcp.safety with loss 2, dup 1, reorder 2, corrupt 1, early 2",
     f"{STRICT_UDP} {SAFE}", "safety"),
    ("strict-udp.terminates", "every run ends with both sides CLOSED", f"{STRICT_UDP} {SAFE}", "ltl:terminates"),
    # -- a body over the receiver's max_data (spec §8.6 step 3): fatal under both policies
    ("tcp-big.terminates", "one data body over max_data: the receiver closes, both sides end CLOSED",
     f"{TCP} -DEARLY=1 -DBIG=1 {SAFE}", "ltl:terminates"),
    ("udp-big.safety", "one data body over max_data, loss 1, dup 1 (tolerant): still closes, nothing lost",
     f"{UDP} -DLOSS=1 -DDUPS=1 -DREORDER=0 -DEARLY=0 -DBIG=1 {SAFE}", "safety"),
    # -- tolerant policy over datagrams: one run per combination of faults
    ("udp-loss.safety", "loss 3", f"{UDP} -DLOSS=3 -DDUPS=0 -DREORDER=0 -DEARLY=0 {SAFE}", "safety"),
    ("udp-loss-reorder.safety", "loss 2, reorder 2", f"{UDP} -DLOSS=2 -DDUPS=0 -DREORDER=2 -DEARLY=0 {SAFE}", "safety"),
    ("udp-loss-dup.safety", "loss 2, dup 1", f"{UDP} -DLOSS=2 -DDUPS=1 -DREORDER=0 -DEARLY=0 {SAFE}", "safety"),
    ("udp-loss-early.safety", "loss 2, early timer 1", f"{UDP} -DLOSS=2 -DDUPS=0 -DREORDER=0 -DEARLY=1 {SAFE}", "safety"),
    ("udp-reorder-dup-corrupt.safety", "reorder 2, dup 1, corrupt 1",
     f"{UDP} -DLOSS=0 -DDUPS=1 -DREORDER=2 -DCORRUPT=1 -DEARLY=0 {SAFE}", "safety"),
    ("udp-mixed.safety", "loss 1, dup 1, reorder 2", f"{UDP} -DLOSS=1 -DDUPS=1 -DREORDER=2 -DEARLY=0 {SAFE}", "safety"),
    ("udp-mixed-early.safety", "dup 1, reorder 1, early timer 1",
     f"{UDP} -DLOSS=0 -DDUPS=1 -DREORDER=1 -DEARLY=1 {SAFE}", "safety"),
    ("udp-loss-dup.terminates", "every run ends with both sides CLOSED (loss 2, dup 1)",
     f"{UDP} -DLOSS=2 -DDUPS=1 -DREORDER=0 -DEARLY=0 {SAFE}", "ltl:terminates"),
    ("udp-loss-reorder.terminates", "every run ends with both sides CLOSED (loss 2, reorder 2)",
     f"{UDP} -DLOSS=2 -DDUPS=0 -DREORDER=2 -DEARLY=0 {SAFE}", "ltl:terminates"),
    ("udp.resend", "at most 3 RESEND LAST in a row (loss 2)",
     f"{UDP} -DLOSS=2 -DDUPS=0 -DREORDER=0 -DEARLY=0 {ONLY_RL}", "safety"),
    ("udp-reorder-early.resend", "at most 3 RESEND LAST in a row (reorder 2, early timer 1)",
     f"{UDP} -DLOSS=0 -DDUPS=0 -DREORDER=2 -DEARLY=1 {ONLY_RL}", "safety"),
]

# Not run by CTest: robustness beyond the properties (see README.md).
EXTRA = [
    ("udp-dup.completes", "one duplicate, slow timers: every request answered, clean close",
     f"{UDP} -DLOSS=0 -DDUPS=1 -DREORDER=0 -DEARLY=0 {SAFE}", "ltl:completes"),
    ("udp-reorder.completes", "one reordering, slow timers: every request answered, clean close",
     f"{UDP} -DLOSS=0 -DDUPS=0 -DREORDER=1 -DEARLY=0 {SAFE}", "ltl:completes"),
]

PAN_TIMEOUT_S = 120
MEMLIM_MB = 2048

# Which property an assertion belongs to, for the summary line.
ASSERT_NAMES = [
    (r"g_rl_row", "more than 3 RESEND LAST in a row"),
    (r"g_close_tx", "CLOSE count / CLOSED WITHOUT ACK"),
    (r"g_acked|g_c_resp", "re-key not exactly after N acknowledged responses"),
    (r"g_delivered|g_s_delivered|g_c_out|REQ_SAFE|rx_next\[1\]<=g_req_seq", "DATA REQUEST lost or misanswered"),
    (r"g_crossed", "coverage witness"),
    (r"row_fault", "handler ended outside the row's to/alt state"),
]


def tool(env, default):
    name = os.environ.get(env) or default
    path = name if os.path.sep in name else shutil.which(name)
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def run(cmd, cwd, timeout=None):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout


def assertion_name(text):
    for pat, name in ASSERT_NAMES:
        if re.search(pat, text):
            return name
    return "model assertion"


def replay(spin, wd, defines):
    """The counterexample as a message sequence (MSC lines of the model)."""
    try:
        _, out = run([spin, "-t", *defines, "lockstep.pml"], wd, timeout=120)
    except subprocess.TimeoutExpired:
        return ["    (replay timed out)"]
    lines = []
    for ln in out.splitlines():
        s = ln.strip()
        if s.startswith("MSC:"):
            lines.append("    " + s[4:].rstrip())
        elif "assertion violated" in s or "START OF CYCLE" in s or "invalid end state" in s:
            lines.append("    >>> " + s)
    return lines


def check(spin, cc, work, name, what, knobs, kind):
    wd = os.path.join(work, name)
    shutil.rmtree(wd, ignore_errors=True)
    os.makedirs(wd)
    shutil.copy(MODEL, os.path.join(wd, "lockstep.pml"))
    defines = knobs.split()
    t0 = time.time()
    rc, out = run([spin, "-a", *defines, "lockstep.pml"], wd, timeout=120)
    if rc != 0 or not os.path.exists(os.path.join(wd, "pan.c")):
        return False, f"spin -a failed:\n{out}", []
    cflags = ["-O2", f"-DMEMLIM={MEMLIM_MB}", "-DCOLLAPSE"]
    pan_args = ["-m200000", "-w25"]
    if kind.startswith("ltl:"):
        pan_args += ["-a", "-N", kind[4:]]
    else:
        cflags += ["-DSAFETY", "-DNOCLAIM"]
    rc, out = run([cc, *cflags, "-o", "pan", "pan.c"], wd, timeout=300)
    if rc != 0:
        return False, f"cc failed:\n{out}", []
    try:
        rc, out = run(["./pan", *pan_args], wd, timeout=PAN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False, f"pan ran longer than {PAN_TIMEOUT_S} s", []
    with open(os.path.join(wd, "pan.out"), "w") as f:
        f.write(out)
    m = re.search(r"errors: (\d+)", out)
    errors = int(m.group(1)) if m else -1
    states = re.search(r"(\d+) states, stored", out)
    elapsed = re.search(r"elapsed time ([\d.e+]+) seconds", out)
    stats = (f"{int(states.group(1)):>9} states, pan {float(elapsed.group(1)):6.2f} s, "
             f"total {time.time() - t0:5.1f} s") if states and elapsed else "no statistics"
    violated = re.search(r"pan:\d+: (.*)", out)
    detail = violated.group(1).strip() if violated else ""
    incomplete = "Search not completed" in out and errors == 0

    if kind == "cover":
        if errors >= 1 and "g_crossed" in detail:
            return True, f"witness found ({stats})", []
        return False, f"no witness: the scenario is unreachable, the model is vacuous ({stats})", []
    if errors == 0 and not incomplete and m:
        return True, stats, []
    if incomplete:
        return False, f"search incomplete (memory or depth): {stats}", []
    if errors < 0:
        return False, f"pan output not understood, see {wd}/pan.out", []
    if "assertion" in detail:
        detail = f"{assertion_name(detail)}: {detail}"
    elif "acceptance cycle" in detail:
        detail = f"a run that never ends as required ({detail})"
    return False, f"{detail} ({stats})", replay(spin, wd, defines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(os.getcwd(), "spin-work"), help="scratch directory")
    ap.add_argument("--only", help="comma-separated check names")
    ap.add_argument("--list", action="store_true", help="list the checks and exit")
    ap.add_argument("--extra", action="store_true", help="also run the robustness checks (not in CTest)")
    args = ap.parse_args()

    checks = CHECKS + (EXTRA if args.extra else [])
    if args.only:
        wanted = set(args.only.split(","))
        checks = [c for c in CHECKS + EXTRA if c[0] in wanted]
        if not checks:
            print(f"no check named {args.only}; see --list", file=sys.stderr)
            return 2
    if args.list:
        for name, what, knobs, kind in CHECKS + EXTRA:
            print(f"{name:34} {kind:16} {what}\n{'':34} {knobs}")
        return 0

    spin = tool("SPIN", "spin")
    cc = tool("CC", "cc")
    if not spin:
        print("model_spin: Spin not found. Install the Debian package 'spin' (make deps does) "
              "or set SPIN=/path/to/spin.", file=sys.stderr)
        return 2
    if not cc:
        print("model_spin: no C compiler (cc) to build Spin's verifier; set CC.", file=sys.stderr)
        return 2
    os.makedirs(args.work, exist_ok=True)

    failed = 0
    for name, what, knobs, kind in checks:
        ok, summary, trail = check(spin, cc, args.work, name, what, knobs, kind)
        print(f"{'PASS' if ok else 'FAIL'}  {name:32} {what}: {summary}", flush=True)
        if not ok:
            failed += 1
            for ln in trail[-80:]:
                print(ln)
    print(f"model_spin: {len(checks) - failed}/{len(checks)} checks passed "
          f"(model {os.path.relpath(MODEL)}, work {args.work})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
