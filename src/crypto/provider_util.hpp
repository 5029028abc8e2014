// SPDX-License-Identifier: Apache-2.0
// lockstep — helpers every provider shares: the size rule of crypto.hpp and
// non-null pointers for empty inputs (C libraries want them), the
// AEAD aliasing rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "lockstep/crypto.hpp"

namespace lockstep::crypto {

// An output span must be exactly `want` bytes: shorter is Err::buffer_too_small,
// longer Err::invalid_argument.
inline Status check_out(std::size_t have, std::size_t want) noexcept {
    if (have < want) return Err::buffer_too_small;
    if (have > want) return Err::invalid_argument;
    return {};
}

// A valid pointer for every span, also an empty one.
inline const unsigned char* nonnull(ConstBytes b) noexcept {
    static const std::uint8_t kEmpty[1] = {0};
    return b.empty() ? kEmpty : b.data();
}

// AEAD in place means exactly in place: an output partly overlapping the input is refused.
inline bool alias_ok(ConstBytes in, Bytes out) noexcept {
    if (in.empty() || out.empty() || in.data() == out.data()) return true;
    const std::less<const std::uint8_t*> lt;
    return !(lt(in.data(), out.data() + out.size()) && lt(out.data(), in.data() + in.size()));
}

}  // namespace lockstep::crypto
