// SPDX-License-Identifier: Apache-2.0
// lockstep — the BearSSL provider on a host: entropy from the kernel's CSPRNG
// (getrandom(2)). A device build leaves this file out and passes its own
// entropy source (bearssl_provider.hpp).
#include <sys/random.h>

#include <cerrno>

#include "crypto/providers/bearssl/bearssl_provider.hpp"

namespace lockstep::crypto::bearssl {
namespace {

// Blocks only until the kernel's pool is initialised at boot; EINTR is retried.
bool system_entropy(void*, std::uint8_t* out, std::size_t len) noexcept {
    while (len > 0) {
        const ssize_t n = getrandom(out, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        out += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

BearSslProvider::BearSslProvider(Ed25519VerifyFn ed25519) noexcept
    : entropy_(system_entropy), entropy_ctx_(nullptr), ed25519_(ed25519) {}

}  // namespace lockstep::crypto::bearssl
