// SPDX-License-Identifier: Apache-2.0
#include "lockstep/crypto.hpp"

namespace lockstep::crypto {

bool sig_alg_known(std::uint8_t v) noexcept {
    return v == static_cast<std::uint8_t>(SigAlg::ed25519) ||
           v == static_cast<std::uint8_t>(SigAlg::rsa_pss_2048_sha256) ||
           v == static_cast<std::uint8_t>(SigAlg::rsa_pss_3072_sha256);
}

}  // namespace lockstep::crypto
