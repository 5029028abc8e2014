// SPDX-License-Identifier: Apache-2.0
// Fuzz target: two engines (client and server) on the insecure provider with
// accept_any_tag, driven by a script of deliveries (in order, mutated, dropped,
// duplicated, reordered, replayed, truncated, raw), timer events, wall-clock
// skew and application calls; invariants checked after every step.
// Script format: tests/fuzz/fuzz_support.hpp.
#include "fuzz_check.hpp"

LOCKSTEP_FUZZ_ENTRY(engine) {
    lockstep::fuzz::run_engine_script(data, size);
    return 0;
}
