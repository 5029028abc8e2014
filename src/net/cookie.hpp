// SPDX-License-Identifier: Apache-2.0
// lockstep server — stateless cookies for UDP address proof (spec: PROTOCOL.md §6.8).
//
// How this works: a cookie is 24 bytes, t (u32, seconds on the server's
// monotonic clock) || the first 20 bytes of HMAC-SHA-256(secret, t || address
// || SHA-256(HELLO)). The secret is 32 random bytes from the provider, replaced
// every kRotation; the previous one is kept so a cookie made just before a
// rotation still verifies. A cookie verifies for kLifetime after it was made,
// from the address it was made for, in front of the HELLO it was made for.
// Nothing is stored per client.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>

#include "lockstep/crypto.hpp"
#include "net/io.hpp"

namespace lockstep::net::detail {

class CookieJar {
public:
    static constexpr std::size_t kLen = 24;
    static constexpr std::chrono::seconds kRotation{120}, kLifetime{60};
    explicit CookieJar(crypto::Provider& p) noexcept : p_(p) {}
    ~CookieJar();
    CookieJar(const CookieJar&) = delete;
    CookieJar& operator=(const CookieJar&) = delete;
    // The cookie for a HELLO from `from` (rotates the secret when due).
    Result<std::array<std::uint8_t, kLen>> make(const Address& from, std::span<const std::uint8_t> hello, Instant now);
    bool verify(const Address& from, std::span<const std::uint8_t> hello, std::span<const std::uint8_t> cookie,
                Instant now);

private:
    struct Secret {
        std::array<std::uint8_t, 32> key{};
        std::int64_t since = -1;  // seconds; -1: none yet
    };
    Status rotate(std::int64_t now_s);
    Status mac(const Secret& s, std::uint32_t t, const Address& from, std::span<const std::uint8_t> hello,
               std::span<std::uint8_t, kLen - 4> out);
    crypto::Provider& p_;
    Secret current_, previous_;
};

}  // namespace lockstep::net::detail
