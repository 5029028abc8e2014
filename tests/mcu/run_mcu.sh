#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# tests/mcu driver (called by CTest, see CMakeLists.txt). Nothing is skipped:
# a missing cross toolchain or qemu is a FAILURE with the package names to
# install (`make test` installs them through the Makefile's APT_PACKAGES).
#   run_mcu.sh build  <src-root> <build-dir> <generator>   configure + build (-j1) + size report
#   run_mcu.sh qemu   <elf> <expect-regex>                  run on qemu mps2-an386, bounded
#   run_mcu.sh noheap <build-dir>                          the allocation probe must fail to link
#   run_mcu.sh report <build-dir>                          print the size report
set -u
PKGS="gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm"
QEMU_TIMEOUT=${LOCKSTEP_MCU_QEMU_TIMEOUT:-60}

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 && continue
    echo "FAIL: '$tool' not found. Install (Debian): apt-get install -y --no-install-recommends $PKGS" >&2
    echo "      ('make test' does this when they are in the Makefile's APT_PACKAGES)" >&2
    exit 1
  done
}

cmd=$1; shift
case "$cmd" in
build)
  need arm-none-eabi-g++ arm-none-eabi-size arm-none-eabi-nm
  src=$1 bin=$2 gen=$3
  cmake -S "$src/mcu" -B "$bin" -G "$gen" -DCMAKE_TOOLCHAIN_FILE="$src/mcu/toolchain-arm-none-eabi.cmake" || exit 1
  cmake --build "$bin" -j 1 || exit 1
  ;;
qemu)
  need qemu-system-arm timeout
  elf=$1 expect=$2
  [ -f "$elf" ] || { echo "FAIL: $elf not built (run the mcu_build test first)" >&2; exit 1; }
  out=$(timeout "$QEMU_TIMEOUT" qemu-system-arm -M mps2-an386 -nographic -monitor none -serial null \
          -semihosting-config enable=on,target=native -kernel "$elf" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  [ $rc -eq 124 ] && { echo "FAIL: qemu timed out after ${QEMU_TIMEOUT}s" >&2; exit 1; }
  [ $rc -ne 0 ] && { echo "FAIL: target exit status $rc" >&2; exit 1; }
  printf '%s\n' "$out" | grep -Eq "$expect" || { echo "FAIL: output lacks /$expect/" >&2; exit 1; }
  echo "OK: exit status 0, /$expect/ seen"
  ;;
noheap)
  bin=$1
  out=$(cmake --build "$bin" --target lockstep_mcu_alloc_probe -j 1 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep -E "undefined reference|error" | head -5
  if [ $rc -eq 0 ]; then echo "FAIL: an image calling operator new / malloc LINKED (heap is reachable)" >&2; exit 1; fi
  for sym in __wrap__Znwj __wrap_malloc; do
    printf '%s\n' "$out" | grep -q "undefined reference to \`$sym'" ||
      { echo "FAIL: the link failed, but not with 'undefined reference to $sym'" >&2; exit 1; }
  done
  echo "OK: operator new and malloc are link errors on the target"
  ;;
report)
  cat "$1/footprint.md" || exit 1
  ;;
*) echo "usage: $0 build|qemu|noheap|report ..." >&2; exit 2 ;;
esac
