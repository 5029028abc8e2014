// SPDX-License-Identifier: Apache-2.0
// lockstep — wrapped PSKs (see wrap.hpp). No primitive here: the provider does the AEAD.
#include "registry/wrap.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "registry/registry.hpp"

namespace lockstep::registry {

namespace {

constexpr std::string_view kKeyIdLabel = "lockstep psk wrap key";
constexpr std::string_view kAadLabel = "lockstep psk wrap v1";
constexpr std::size_t kKeyId = 8, kNonce = 12;

std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::array<std::uint8_t, kKeyId> wrap_key_id(crypto::Provider& p, std::span<const std::uint8_t> key) {
    std::array<std::uint8_t, 32> h{};
    if (!p.hash(crypto::Hash::sha256, bytes_of(kKeyIdLabel), key, h)) throw RegistryError("PSK wrap: hash failed");
    std::array<std::uint8_t, kKeyId> id{};
    std::copy_n(h.begin(), kKeyId, id.begin());
    return id;
}

std::vector<std::uint8_t> aad_for(std::string_view device_id) {
    std::vector<std::uint8_t> aad(kAadLabel.begin(), kAadLabel.end());
    aad.push_back(0);
    aad.insert(aad.end(), device_id.begin(), device_id.end());
    return aad;
}

void check_key(std::span<const std::uint8_t> key) {
    if (key.size() != kWrapKeyLen) throw RegistryError("PSK wrap key must be 32 bytes");
}

}  // namespace

std::vector<std::uint8_t> wrap_psk(crypto::Provider& p, std::span<const std::uint8_t> wrap_key,
                                   std::string_view device_id, std::span<const std::uint8_t> psk) {
    check_key(wrap_key);
    std::vector<std::uint8_t> out(kWrapOverhead + psk.size());
    out[0] = kWrapVersion;
    const auto id = wrap_key_id(p, wrap_key);
    std::copy(id.begin(), id.end(), out.begin() + 1);
    const std::span<std::uint8_t> nonce(out.data() + 1 + kKeyId, kNonce);
    if (!p.random(nonce)) throw RegistryError("PSK wrap: no randomness");
    const auto aad = aad_for(device_id);
    if (!p.aead_seal(crypto::Aead::aes_gcm, wrap_key, nonce, aad, psk,
                     std::span(out).subspan(1 + kKeyId + kNonce)))
        throw RegistryError("PSK wrap: seal failed");
    return out;
}

void unwrap_psk(crypto::Provider& p, std::span<const std::uint8_t> wrap_key, std::string_view device_id,
                std::span<const std::uint8_t> blob, std::vector<std::uint8_t>& out) {
    check_key(wrap_key);
    if (blob.size() <= kWrapOverhead || blob[0] != kWrapVersion)
        throw RegistryError("wrapped PSK of device '" + std::string(device_id) + "' is malformed");
    const auto id = wrap_key_id(p, wrap_key);
    if (!std::equal(id.begin(), id.end(), blob.begin() + 1))
        throw RegistryError("wrapped PSK of device '" + std::string(device_id) + "' was wrapped under another key");
    out.assign(blob.size() - kWrapOverhead, 0);
    const auto aad = aad_for(device_id);
    if (!p.aead_open(crypto::Aead::aes_gcm, wrap_key, blob.subspan(1 + kKeyId, kNonce), aad,
                     blob.subspan(1 + kKeyId + kNonce), out))
        throw RegistryError("wrapped PSK of device '" + std::string(device_id) + "' does not open (altered?)");
}

}  // namespace lockstep::registry
