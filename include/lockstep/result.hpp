// SPDX-License-Identifier: Apache-2.0
// lockstep — errors and results.
//
// Every fallible core function returns `Result<T>` (or `Status` = `Result<void>`).
// An error names what went wrong (`Err`), which family it belongs to (`Category`)
// and therefore which CLOSE reason code is sent to the peer (`close_reason`).
// The interface is a subset of `std::expected` so the type can be swapped later.
// spec: PROTOCOL.md §9 (CLOSE reason codes)
#pragma once

#include <cstdint>

#include "lockstep/export.h"
#include <type_traits>
#include <utility>

namespace lockstep {

// CLOSE reason codes, as sent on the wire (one byte). spec: PROTOCOL.md §9
enum class Reason : std::uint8_t {
    normal = 0x00,            // orderly close requested by the application
    timeout = 0x01,           // nothing received within the receive timer
    bad_mac = 0x02,           // a MAC or AEAD tag did not verify
    unexpected_message = 0x03,// message type not allowed in the current state
    bad_sequence = 0x04,      // sequence number or echoed number wrong
    expired = 0x05,           // ttl in the past (beyond the allowed clock skew)
    old_epoch = 0x06,         // record protected under an erased epoch key
    replay = 0x07,            // record number already seen
    decode_error = 0x08,      // malformed, truncated or oversized message
    downgrade = 0x09,         // negotiated choice is not the best mutual one
    bad_certificate = 0x0a,   // certificate malformed, wrong CA, role or validity
    bad_signature = 0x0b,     // transcript signature did not verify
    unknown_psk = 0x0c,       // PSK identity unknown or PSK required but absent
    no_common_parameters = 0x0d, // no shared version, suite or mode
    limit_exceeded = 0x0e,    // a counter hit its hard limit
    internal_error = 0x0f,    // local failure (RNG, provider)
    shutdown = 0x10,          // the peer is shutting down
    resend_exhausted = 0x11,  // three RESEND LAST without progress
    revoked = 0x12,           // the peer's identity was revoked (device registry)
};
inline constexpr Reason kLastReason = Reason::revoked;  // larger values are a decode error

LOCKSTEP_API const char* reason_name(Reason r) noexcept;

// Error families. `need_more` is not fatal: the caller supplies more bytes.
enum class Category : std::uint8_t {
    need_more,
    decode,
    peer,      // the peer misbehaved (or an attacker did)
    crypto,    // a primitive failed or rejected its input
    limit,
    usage,     // the caller used the API wrongly
    internal,
};

enum class Err : std::uint8_t {
    ok = 0,
    need_more,
    truncated,
    trailing_bytes,
    too_long,
    bad_value,
    bad_mac,
    bad_signature,
    bad_certificate,
    cert_expired,
    cert_wrong_role,
    cert_wrong_issuer,
    unexpected_message,
    bad_sequence,
    expired,
    old_epoch,
    replay,
    downgrade,
    unknown_psk,
    no_common_parameters,
    limit_exceeded,
    buffer_too_small,
    crypto_failure,
    rng_failure,
    invalid_argument,
    wrong_state,
    closed,
    timeout,
    resend_exhausted,
    internal,
    unsupported,  // the configured role or mode is not compiled into this build (lockstep/features.hpp)
};

LOCKSTEP_API const char* err_name(Err e) noexcept;
LOCKSTEP_API Category err_category(Err e) noexcept;
LOCKSTEP_API Reason err_reason(Err e) noexcept;

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>)  // NOLINT: implicit by design
        : err_(Err::ok), value_(std::move(value)) {}
    Result(Err e) noexcept : err_(e), value_() {}  // NOLINT: implicit by design

    bool has_value() const noexcept { return err_ == Err::ok; }
    explicit operator bool() const noexcept { return has_value(); }
    Err error() const noexcept { return err_; }
    T& value() & noexcept { return value_; }
    const T& value() const& noexcept { return value_; }
    T&& value() && noexcept { return std::move(value_); }
    T& operator*() & noexcept { return value_; }
    const T& operator*() const& noexcept { return value_; }
    T* operator->() noexcept { return &value_; }
    const T* operator->() const noexcept { return &value_; }

private:
    Err err_;
    T value_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() noexcept : err_(Err::ok) {}
    Result(Err e) noexcept : err_(e) {}  // NOLINT: implicit by design
    bool has_value() const noexcept { return err_ == Err::ok; }
    explicit operator bool() const noexcept { return has_value(); }
    Err error() const noexcept { return err_; }

private:
    Err err_;
};

using Status = Result<void>;

}  // namespace lockstep

// Propagate an error from an expression returning Result/Status.
#define LS_TRY(expr)                                   \
    do {                                               \
        auto ls_try_r_ = (expr);                       \
        if (!ls_try_r_) return ls_try_r_.error();      \
    } while (0)
