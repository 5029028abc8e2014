// SPDX-License-Identifier: Apache-2.0
// lockstep — the libsodium provider on a host: sodium_init() and the OS CSPRNG
// (randombytes_buf). A device build leaves this file out and passes its own
// entropy source (sodium_provider.hpp).
#include <sodium/core.h>
#include <sodium/randombytes.h>

#include "crypto/providers/sodium/sodium_provider.hpp"

namespace lockstep::crypto::sodium {
namespace {

// sodium_init() is idempotent and thread-safe; -1 means libsodium cannot run
// (no entropy source): the provider then refuses to draw random bytes.
bool system_entropy(void*, std::uint8_t* out, std::size_t len) noexcept {
    if (sodium_init() < 0) return false;
    randombytes_buf(out, len);
    return true;
}

}  // namespace

SodiumProvider::SodiumProvider() noexcept : entropy_(system_entropy), entropy_ctx_(nullptr) {
    // Picks libsodium's fastest code for this CPU (and enables AES-256-GCM where
    // it runs). A failure shows again, as rng_failure, on the first draw.
    if (sodium_init() < 0) entropy_ = nullptr;
}

}  // namespace lockstep::crypto::sodium
