// SPDX-License-Identifier: Apache-2.0
// lockstep fuzzing — helpers for the decoder targets: the entry point macro and
// the checks every decoder's result must pass (spans inside the input, the
// encoder reproducing the input byte for byte: the wire format is canonical).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/bytes.hpp"
#include "fuzz_support.hpp"

// libFuzzer calls LLVMFuzzerTestOneInput. The corpus replay test (any compiler)
// links every target into one binary, so there each entry point has its own name.
#ifdef LOCKSTEP_FUZZ_REPLAY
#define LOCKSTEP_FUZZ_ENTRY(name) extern "C" int lockstep_fuzz_##name(const std::uint8_t* data, std::size_t size)
#else
#define LOCKSTEP_FUZZ_ENTRY(name) extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
#endif

namespace lockstep::fuzz {

inline void require(bool ok, const char* what) {
    if (!ok) violation(what);
}

// A decoded view must lie inside the input it was decoded from.
inline void require_within(ConstBytes part, ConstBytes whole, const char* what) {
    if (part.empty()) return;
    const auto p = reinterpret_cast<std::uintptr_t>(part.data());
    const auto w = reinterpret_cast<std::uintptr_t>(whole.data());
    require(p >= w && p + part.size() <= w + whole.size(), what);
}

inline bool same(ConstBytes a, ConstBytes b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// Re-encodes with `encode(Writer&)` and requires the result to equal `expect`.
template <class F>
void require_reencodes(F encode, ConstBytes expect, const char* what) {
    static std::uint8_t buf[2 * 20000];
    Writer w(buf);
    encode(w);
    require(w.ok(), what);
    require(same(w.written(), expect), what);
}

}  // namespace lockstep::fuzz
