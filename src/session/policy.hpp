// SPDX-License-Identifier: Apache-2.0
// lockstep — what a fault of a received message does under each policy: one
// table, read by the engine (Conn::fault, Conn::drop, Conn::handshake_step)
// and checked against PROTOCOL.md §8.5 by tests/unit/policy_test.cpp.
// spec: PROTOCOL.md §8.5, §8.6
//
// Strict: every fault closes (CLOSE(reason), or a clear CLOSE before keys).
// Tolerant: by where the message failed (Stage) and the error, per kTolerant.
#pragma once

#include <array>
#include <cstdint>

#include "lockstep/config.hpp"
#include "lockstep/result.hpp"

namespace lockstep::session {

// Where a received message failed.
enum class Stage : std::uint8_t {
    unauthenticated,  // nothing authenticated it: a record that does not open, an empty message,
                      // an unknown frame byte, a clear frame in a state that does not take it
    hello_frame,      // a clear HELLO (server in START) or HELLO ACK (client in WAIT HELLO ACK)
    record,           // the record opened; the engine's checks of its plaintext refused it
                      // (decode, ttl, sequence, place). Handler faults are always fatal.
};

enum class Outcome : std::uint8_t {
    fatal,          // CLOSE(reason) / clear CLOSE, closed
    drop,           // dropped silently: no answer, no counter, no state change
    drop_unproved,  // hello_frame: dropped while a client has not verified finished_s, else fatal
    resend_last,    // record: RESEND LAST when established (at most max_resends), else dropped
};

struct FaultRule {
    Err err;
    Outcome hello_frame;
    Outcome record;
};

inline constexpr int kErrCount = static_cast<int>(Err::unsupported) + 1;

// The tolerant policy, one row per Err in enum order. (Stage::unauthenticated is drop for every error.)
inline constexpr std::array<FaultRule, kErrCount> kTolerant = {{
    {Err::ok, Outcome::fatal, Outcome::fatal},
    {Err::need_more, Outcome::drop_unproved, Outcome::fatal},
    {Err::truncated, Outcome::drop, Outcome::resend_last},
    {Err::trailing_bytes, Outcome::drop, Outcome::resend_last},
    {Err::too_long, Outcome::drop, Outcome::resend_last},
    {Err::bad_value, Outcome::drop, Outcome::resend_last},
    {Err::bad_mac, Outcome::drop, Outcome::fatal},
    {Err::bad_signature, Outcome::drop_unproved, Outcome::fatal},
    {Err::bad_certificate, Outcome::drop_unproved, Outcome::fatal},
    {Err::cert_expired, Outcome::drop_unproved, Outcome::fatal},
    {Err::cert_wrong_role, Outcome::drop_unproved, Outcome::fatal},
    {Err::cert_wrong_issuer, Outcome::drop_unproved, Outcome::fatal},
    {Err::unexpected_message, Outcome::drop_unproved, Outcome::resend_last},
    {Err::bad_sequence, Outcome::drop, Outcome::resend_last},
    {Err::expired, Outcome::drop, Outcome::resend_last},
    {Err::old_epoch, Outcome::drop_unproved, Outcome::fatal},
    {Err::replay, Outcome::drop_unproved, Outcome::drop},
    {Err::downgrade, Outcome::drop_unproved, Outcome::fatal},
    {Err::unknown_psk, Outcome::drop, Outcome::fatal},  // silent like a wrong MAC: no probing for identities
    {Err::no_common_parameters, Outcome::drop_unproved, Outcome::fatal},
    {Err::limit_exceeded, Outcome::drop_unproved, Outcome::fatal},
    // Failures of our own side (configuration, provider), never the message's: fatal.
    {Err::buffer_too_small, Outcome::fatal, Outcome::fatal},
    {Err::crypto_failure, Outcome::fatal, Outcome::fatal},
    {Err::rng_failure, Outcome::fatal, Outcome::fatal},
    {Err::invalid_argument, Outcome::fatal, Outcome::fatal},
    {Err::wrong_state, Outcome::drop_unproved, Outcome::fatal},
    {Err::closed, Outcome::drop_unproved, Outcome::fatal},
    {Err::timeout, Outcome::drop_unproved, Outcome::fatal},
    {Err::resend_exhausted, Outcome::drop_unproved, Outcome::fatal},
    {Err::internal, Outcome::fatal, Outcome::fatal},
    {Err::unsupported, Outcome::fatal, Outcome::fatal},
}};

constexpr bool rows_in_enum_order() noexcept {
    for (int i = 0; i < kErrCount; ++i)
        if (static_cast<int>(kTolerant[static_cast<std::size_t>(i)].err) != i) return false;
    return true;
}
static_assert(rows_in_enum_order(), "kTolerant: one row per Err, in enum order");

// What a fault does: the one place the engine asks.
constexpr Outcome outcome(Policy p, Stage s, Err e) noexcept {
    if (p != Policy::tolerant) return Outcome::fatal;
    if (s == Stage::unauthenticated) return Outcome::drop;
    const auto i = static_cast<std::size_t>(e);
    if (i >= kTolerant.size()) return Outcome::fatal;
    return s == Stage::hello_frame ? kTolerant[i].hello_frame : kTolerant[i].record;
}

}  // namespace lockstep::session
