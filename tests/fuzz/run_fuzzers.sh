#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target of a LOCKSTEP_FUZZ build for SECONDS each, one after
# the other, on its seed corpus; prints one summary line per target and fails if
# any target found a crash, leak, timeout, OOM or sanitizer report.
#   tests/fuzz/run_fuzzers.sh BUILD_DIR [SECONDS] [TARGET...]
# New inputs go to BUILD_DIR/tests/fuzz/fuzz-work/<target>, crashes to
# BUILD_DIR/tests/fuzz/fuzz-artifacts/<target>-crash-*, logs to .../fuzz-logs/.
set -u
build=${1:?usage: run_fuzzers.sh BUILD_DIR [SECONDS] [TARGET...]}
secs=${2:-60}
shift; [ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$build" && pwd)/tests/fuzz
targets=${*:-$(ls "$src/corpus")}
mkdir -p "$bin/fuzz-logs" "$bin/fuzz-artifacts"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1
failed=""
for t in $targets; do
  mkdir -p "$bin/fuzz-work/$t"
  log="$bin/fuzz-logs/$t.log"
  "$bin/fuzz_$t" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$bin/fuzz-artifacts/$t-" "$bin/fuzz-work/$t" "$src/corpus/$t" >"$log" 2>&1
  rc=$?
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  printf '%-14s rc=%-3s execs=%-9s exec/s=%-7s %s\n' "$t" "$rc" "${execs:-?}" "${speed:-?}" \
    "$(echo "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+')"
  if [ "$rc" -ne 0 ]; then
    failed="$failed $t"
    grep -E 'ERROR|SUMMARY|invariant|Test unit written|artifact' "$log" | head -n 20
  fi
done
if [ -n "$failed" ]; then
  echo "fuzz: FAILED:$failed (logs in $bin/fuzz-logs)"
  exit 1
fi
echo "fuzz: all targets clean"
