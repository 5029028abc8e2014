// SPDX-License-Identifier: Apache-2.0
// lockstep — protocol enumerations and time types shared by the public API and the core.
// spec: PROTOCOL.md §3 (identifiers)
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>

#include "lockstep/export.h"

namespace lockstep {

inline constexpr std::uint8_t kVersion1 = 1;

// A connection id of the datagram framing: 8 bytes derived from the client's
// traffic secret of an epoch (spec: PROTOCOL.md §6.9).
inline constexpr std::size_t kConnectionIdLen = 8;
using ConnectionId = std::array<std::uint8_t, kConnectionIdLen>;

// The ten message types of the seed (R1), numbered as on the wire.
enum class MsgType : std::uint8_t {
    hello = 1,
    hello_ack = 2,
    ack = 3,
    data_request = 4,
    data_response = 5,
    data_ack = 6,
    resend_last = 7,
    close = 8,
    close_ack = 9,
    closed_without_ack = 10,
};
inline constexpr int kMsgTypeCount = 11;  // index 0 unused
// The seed's spelling ("hello ack", "data request", ...).
LOCKSTEP_API const char* msg_type_name(MsgType t) noexcept;

enum class Role : std::uint8_t { client, server };

// Authentication modes. spec: PROTOCOL.md §5.1
enum class Mode : std::uint8_t {
    cert = 1,      // CA-certified keys + ECDHE
    psk = 2,       // pre-shared secret + ECDHE
    cert_psk = 3,  // both
    psk_only = 4,  // pre-shared secret only: NO forward secrecy, no asymmetric crypto
};
LOCKSTEP_API const char* mode_name(Mode m) noexcept;
constexpr bool mode_uses_cert(Mode m) noexcept { return m == Mode::cert || m == Mode::cert_psk; }
constexpr bool mode_uses_psk(Mode m) noexcept { return m != Mode::cert; }
constexpr bool mode_uses_ecdhe(Mode m) noexcept { return m != Mode::psk_only; }

// Record protection suites. spec: PROTOCOL.md §4.2
enum class Suite : std::uint8_t {
    aes256gcm = 1,
    chacha20poly1305 = 2,
    aes256gcm_hmac_sha512 = 3,  // the seed's AES-GCM + HMAC-SHA512 encrypt-then-MAC
};
LOCKSTEP_API const char* suite_name(Suite s) noexcept;

// Key-exchange slot (agile: a hybrid KEM may take another value later).
enum class Kx : std::uint8_t { none = 0, x25519 = 1 };

// Certificate roles.
enum class CertRole : std::uint8_t { ca = 1, server = 2, client = 3 };

// Strict: any fault closes. Tolerant: RESEND LAST up to max_resends first (R8).
// transport_default: the transport decides (src/net: strict on TCP, tolerant on
// UDP); an Engine given it directly runs strict.
enum class Policy : std::uint8_t { strict, tolerant, transport_default };

// ttl: absolute Unix seconds (default) or milliseconds since connection start
// for devices without a real-time clock (R7).
enum class TtlMode : std::uint8_t { absolute, relative };

// Time. Monotonic time and wall-clock time are different types, so one cannot be passed for the other.
// Both are plain values handed in by the caller; the core never reads a clock.
struct Instant {
    std::chrono::milliseconds since_origin{0};
    friend constexpr bool operator==(Instant, Instant) = default;
    friend constexpr auto operator<=>(Instant a, Instant b) { return a.since_origin <=> b.since_origin; }
    // Saturating: a deadline of now + milliseconds::max() is "never", not a wrap.
    constexpr Instant operator+(std::chrono::milliseconds d) const {
        using Rep = std::chrono::milliseconds::rep;
        const Rep a = since_origin.count(), b = d.count();
        if (b > 0 && a > std::numeric_limits<Rep>::max() - b) return Instant{std::chrono::milliseconds::max()};
        if (b < 0 && a < std::numeric_limits<Rep>::min() - b) return Instant{std::chrono::milliseconds::min()};
        return Instant{since_origin + d};
    }
};
// Whole seconds in `ms` milliseconds, truncated toward zero like
// std::chrono::duration_cast, but without a 64-bit division (on a 32-bit
// microcontroller that is a libgcc routine of about 1 KB): the magnitude is
// divided by 1000 one 16-bit digit at a time, in 32-bit arithmetic.
constexpr std::int64_t whole_seconds(std::chrono::milliseconds ms) noexcept {
    const std::int64_t v = ms.count();
    const std::uint64_t mag = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    std::uint64_t q = 0;
    std::uint32_t r = 0;  // < 1000, so r << 16 | digit fits in 32 bits
    for (int shift = 48; shift >= 0; shift -= 16) {
        const std::uint32_t cur = (r << 16) | static_cast<std::uint32_t>((mag >> shift) & 0xffff);
        q = (q << 16) | (cur / 1000);
        r = cur % 1000;
    }
    return v < 0 ? -static_cast<std::int64_t>(q) : static_cast<std::int64_t>(q);
}

struct UnixTime {
    std::chrono::milliseconds since_epoch{0};
    constexpr std::int64_t seconds() const { return whole_seconds(since_epoch); }
};
struct Now {
    Instant mono;
    UnixTime wall;
};

}  // namespace lockstep
