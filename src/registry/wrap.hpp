// SPDX-License-Identifier: Apache-2.0
// lockstep — PSKs wrapped for storage in the registry: AES-256-GCM (through the
// OpenSSL provider) under a 32-byte wrap key that only the servers and the
// operator's CLI read from a file (mode 0600). A stolen database alone then
// gives no PSK.
//
// Blob (bytes):  0x01 | key id (8) | nonce (12) | ciphertext (= PSK length) | tag (16)
//   key id = the first 8 bytes of SHA-256("lockstep psk wrap key" || wrap key): a
//            blob wrapped under another key is reported as such, not as corrupt
//   aad    = "lockstep psk wrap v1" || 0x00 || device id  (a blob moved to another
//            device id does not open)
// spec: docs/DEPLOYMENT.md (the registry)
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "lockstep/crypto.hpp"

namespace lockstep::registry {

inline constexpr std::size_t kWrapKeyLen = 32;
inline constexpr std::uint8_t kWrapVersion = 0x01;
inline constexpr std::size_t kWrapOverhead = 1 + 8 + 12 + crypto::kAeadTagLen;

// RegistryError on a provider failure.
std::vector<std::uint8_t> wrap_psk(crypto::Provider& p, std::span<const std::uint8_t> wrap_key,
                                   std::string_view device_id, std::span<const std::uint8_t> psk);
// Writes the PSK into `out` (resized); RegistryError naming the cause: another
// wrap key, a malformed blob, or a tag that does not verify.
void unwrap_psk(crypto::Provider& p, std::span<const std::uint8_t> wrap_key, std::string_view device_id,
                std::span<const std::uint8_t> blob, std::vector<std::uint8_t>& out);

}  // namespace lockstep::registry
