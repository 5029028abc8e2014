// SPDX-License-Identifier: Apache-2.0
// lockstep — helpers every provider shares: the size rule of crypto.hpp and
// non-null pointers for empty inputs (C libraries want them).
#pragma once

#include <cstddef>
#include <cstdint>

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

}  // namespace lockstep::crypto
