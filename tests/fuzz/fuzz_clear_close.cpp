// SPDX-License-Identifier: Apache-2.0
// Fuzz target: wire::decode_clear_close (unauthenticated CLOSE before keys exist).
#include "fuzz_check.hpp"
#include "wire/wire.hpp"

using namespace lockstep;
using namespace lockstep::fuzz;

LOCKSTEP_FUZZ_ENTRY(clear_close) {
    const ConstBytes in{data, size};
    auto c = wire::decode_clear_close(in);
    if (!c) return 0;
    require(c->reason <= kLastReason, "clear close reason out of range");
    require_reencodes([&](Writer& w) { wire::encode_clear_close(*c, w); }, in, "clear close does not re-encode");
    return 0;
}
