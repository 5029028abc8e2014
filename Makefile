# SPDX-License-Identifier: Apache-2.0
# lockstep — the two commands (README) and friends.
#   make demo   install what is missing, build, run the demo
#   make test   install what is missing, build, run every test (CTest)
#   make bench  build and run the benchmarks
#   make deb    build the Debian package ($(BUILD)/deb/lockstep_VERSION_ARCH.deb)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

APT_PACKAGES := build-essential cmake ninja-build pkg-config libssl-dev openssl \
  libsodium-dev libbearssl-dev dpkg-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libfmt-dev libtomlplusplus-dev \
  nlohmann-json3-dev python3 clang-14 libclang-rt-14-dev valgrind spin \
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm \
  libsqlite3-dev libpq-dev postgresql libcurl4-openssl-dev nginx libnginx-mod-stream \
  libsystemd-dev systemd man-db curl tshark lua-luaossl

.PHONY: all deps configure build demo test bench clean deb

all: build

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# make test: the whole suite twice — a normal build (incl. the CLI end-to-end tests
# under valgrind memcheck, the Spin model and the Cortex-M4 build on qemu), then a
# clang build with ASan+UBSan (every C++ test again, plus a bounded libFuzzer run
# of every fuzz target): see test-sanitize.
test: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCKSTEP_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory test-sanitize

# The package: library, headers, CMake and pkg-config files, the CLI, lockstep(1),
# the bash completion and lockstep-serve@.service (cmake/install.cmake, CPack DEB).
deb: configure
	cmake --build $(BUILD) -j $(JOBS) --target lockstep lockstep_lib lockstep_openssl_lib lockstep_sodium_lib lockstep_net_lib
	cd $(BUILD) && cpack -G DEB
	@ls $(BUILD)/deb/*.deb

demo: build
	$(BUILD)/tools/lockstep demo

BENCH_PROGRAMS := bench_handshake bench_rekey bench_record bench_wire bench_memory bench_loopback bench_concurrency bench_registry bench_dos

bench: deps
	@# Release build in build-bench (not $(BUILD)); QUICK=1: 2 runs, smaller sizes (< 2 min). docs/PERFORMANCE.md
	cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOCKSTEP_BENCH=ON $(CMAKE_FLAGS)
	cmake --build build-bench -j $(JOBS) --target $(BENCH_PROGRAMS)
	mkdir -p $(BUILD)/bench && rm -f $(BUILD)/bench/summary.json
	set -e; for b in $(BENCH_PROGRAMS); do \
	  build-bench/bench/$$b $(if $(QUICK),--quick,) --json $(BUILD)/bench/summary.json; done
	build-bench/bench/bench_concurrency --udp $(if $(QUICK),--quick,) --json $(BUILD)/bench/summary.json
	@echo "summary: $(BUILD)/bench/summary.json"

# Sanitizers and fuzzing (tests/fuzz/CMakeLists.txt), one clang-14 build in $(SAN_BUILD):
# everything compiled with ASan+UBSan, plus the libFuzzer targets.
#   make test-sanitize   every test of the suite under ASan+UBSan (LeakSanitizer on), and
#                        each fuzz target replaying its seeds and fuzzing FUZZ_SMOKE_SECONDS;
#                        not the Spin model or the Cortex-M4 build (no C++ of ours runs
#                        there natively) nor memcheck (valgrind and ASan exclude each other)
#   make fuzz            the same build; replay the seeds, then run each target FUZZ_SECONDS
SAN_BUILD ?= build-san
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: fuzz test-sanitize san-build

san-build: deps
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(SAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DLOCKSTEP_WERROR=ON -DLOCKSTEP_SANITIZE=address,undefined -DLOCKSTEP_FUZZ=ON \
	  -DLOCKSTEP_FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) -DLOCKSTEP_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(SAN_BUILD) -j $(JOBS)

test-sanitize: san-build
	cd $(SAN_BUILD) && $(SAN_ENV) ctest --output-on-failure -j $(JOBS) -LE '^(mcu|model)$$'

fuzz: san-build
	cd $(SAN_BUILD) && ctest -L fuzz -R _replay --output-on-failure
	tests/fuzz/run_fuzzers.sh $(SAN_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
