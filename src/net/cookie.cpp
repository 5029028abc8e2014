// SPDX-License-Identifier: Apache-2.0
// lockstep server — stateless cookies (see cookie.hpp). spec: PROTOCOL.md §6.8
#include "net/cookie.hpp"

#include <netinet/in.h>

#include <cstring>

#include "common/bytes.hpp"

namespace lockstep::net::detail {

namespace {

std::int64_t seconds(Instant now) noexcept { return now.since_origin.count() / 1000; }

// family (1) || address (4 or 16) || port (2)
std::size_t address_bytes(const Address& a, std::uint8_t (&out)[19]) noexcept {
    out[0] = static_cast<std::uint8_t>(a.ss.ss_family);
    std::size_t n = 1;
    if (a.ss.ss_family == AF_INET6) {
        std::memcpy(out + 1, &reinterpret_cast<const sockaddr_in6*>(&a.ss)->sin6_addr, 16);
        n += 16;
    } else {
        std::memcpy(out + 1, &reinterpret_cast<const sockaddr_in*>(&a.ss)->sin_addr, 4);
        n += 4;
    }
    store_be16(out + n, a.port());
    return n + 2;
}

}  // namespace

CookieJar::~CookieJar() {
    secure_wipe(current_.key.data(), current_.key.size());
    secure_wipe(previous_.key.data(), previous_.key.size());
}

Status CookieJar::rotate(std::int64_t now_s) {
    if (current_.since >= 0 && now_s < current_.since + kRotation.count()) return {};
    previous_ = current_;
    LS_TRY(p_.random(current_.key));
    current_.since = now_s;
    return {};
}

Status CookieJar::mac(const Secret& s, std::uint32_t t, const Address& from, std::span<const std::uint8_t> hello,
                      std::span<std::uint8_t, kLen - 4> out) {
    std::uint8_t msg[4 + 19 + 32];
    store_be32(msg, t);
    std::uint8_t addr[19];
    const std::size_t alen = address_bytes(from, addr);
    std::memcpy(msg + 4, addr, alen);
    LS_TRY(p_.hash(crypto::Hash::sha256, hello, {}, {msg + 4 + alen, 32}));
    std::uint8_t full[32];
    LS_TRY(p_.hmac(crypto::Hash::sha256, s.key, {msg, 4 + alen + 32}, {}, full));
    std::memcpy(out.data(), full, out.size());
    return {};
}

Result<std::array<std::uint8_t, CookieJar::kLen>> CookieJar::make(const Address& from,
                                                                  std::span<const std::uint8_t> hello, Instant now) {
    const std::int64_t now_s = seconds(now);
    LS_TRY(rotate(now_s));
    std::array<std::uint8_t, kLen> c{};
    const auto t = static_cast<std::uint32_t>(now_s);
    store_be32(c.data(), t);
    LS_TRY(mac(current_, t, from, hello, std::span<std::uint8_t, kLen - 4>(c.data() + 4, kLen - 4)));
    return c;
}

bool CookieJar::verify(const Address& from, std::span<const std::uint8_t> hello, std::span<const std::uint8_t> cookie,
                       Instant now) {
    if (cookie.size() != kLen) return false;
    const std::int64_t now_s = seconds(now);
    const std::int64_t t = load_be32(cookie.data());
    if (t > now_s || now_s - t > kLifetime.count()) return false;
    const Secret* s = nullptr;
    if (current_.since >= 0 && t >= current_.since) s = &current_;
    else if (previous_.since >= 0 && t >= previous_.since) s = &previous_;
    if (s == nullptr) return false;
    std::uint8_t expect[kLen - 4];
    if (!mac(*s, static_cast<std::uint32_t>(t), from, hello, expect)) return false;
    return ct_equal(expect, cookie.subspan(4));
}

}  // namespace lockstep::net::detail
