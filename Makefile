# lockstep — the two commands (README) and friends.
#   make demo   install what is missing, build, run the demo
#   make test   install what is missing, build, run every test (CTest)
#   make bench  build and run the benchmarks
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

APT_PACKAGES := build-essential cmake ninja-build pkg-config libssl-dev openssl \
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libfmt-dev libtomlplusplus-dev \
  nlohmann-json3-dev python3 clang-14 libclang-rt-14-dev valgrind spin \
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm

.PHONY: all deps configure build demo test bench clean

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

test: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCKSTEP_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	$(BUILD)/tools/lockstep demo

BENCH_PROGRAMS := bench_handshake bench_rekey bench_record bench_wire bench_memory bench_loopback bench_concurrency

bench: build
	@# Release build in build-bench (not $(BUILD)); QUICK=1: 2 runs, smaller sizes (< 2 min). docs/PERFORMANCE.md
	cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOCKSTEP_BENCH=ON $(CMAKE_FLAGS)
	cmake --build build-bench -j $(JOBS) --target $(BENCH_PROGRAMS)
	mkdir -p $(BUILD)/bench && rm -f $(BUILD)/bench/summary.json
	set -e; for b in $(BENCH_PROGRAMS); do \
	  build-bench/bench/$$b $(if $(QUICK),--quick,) --json $(BUILD)/bench/summary.json; done
	@echo "summary: $(BUILD)/bench/summary.json"

# Sanitizers and fuzzing (tests/fuzz/CMakeLists.txt).
#   make test-sanitize   the whole CTest suite under ASan+UBSan (g++) in $(ASAN_BUILD)
#   make fuzz            libFuzzer targets (clang-14, ASan+UBSan) in $(FUZZ_BUILD): replay
#                        the seed corpora, then run each target FUZZ_SECONDS (default 60)
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: fuzz test-sanitize

test-sanitize: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCKSTEP_WERROR=ON \
	  -DLOCKSTEP_SANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DLOCKSTEP_FUZZ=ON $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) --target lockstep_fuzz -j $(JOBS)
	cd $(FUZZ_BUILD) && ctest -L fuzz -R _replay --output-on-failure
	tests/fuzz/run_fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD)
