// SPDX-License-Identifier: Apache-2.0
#include "lockstep/result.hpp"

namespace lockstep {

const char* reason_name(Reason r) noexcept {
    switch (r) {
        case Reason::normal: return "normal";
        case Reason::timeout: return "timeout";
        case Reason::bad_mac: return "bad_mac";
        case Reason::unexpected_message: return "unexpected_message";
        case Reason::bad_sequence: return "bad_sequence";
        case Reason::expired: return "expired";
        case Reason::old_epoch: return "old_epoch";
        case Reason::replay: return "replay";
        case Reason::decode_error: return "decode_error";
        case Reason::downgrade: return "downgrade";
        case Reason::bad_certificate: return "bad_certificate";
        case Reason::bad_signature: return "bad_signature";
        case Reason::unknown_psk: return "unknown_psk";
        case Reason::no_common_parameters: return "no_common_parameters";
        case Reason::limit_exceeded: return "limit_exceeded";
        case Reason::internal_error: return "internal_error";
        case Reason::shutdown: return "shutdown";
        case Reason::resend_exhausted: return "resend_exhausted";
        case Reason::revoked: return "revoked";
    }
    return "unknown";
}

const char* err_name(Err e) noexcept {
    switch (e) {
        case Err::ok: return "ok";
        case Err::need_more: return "need_more";
        case Err::truncated: return "truncated";
        case Err::trailing_bytes: return "trailing_bytes";
        case Err::too_long: return "too_long";
        case Err::bad_value: return "bad_value";
        case Err::bad_mac: return "bad_mac";
        case Err::bad_signature: return "bad_signature";
        case Err::bad_certificate: return "bad_certificate";
        case Err::cert_expired: return "cert_expired";
        case Err::cert_wrong_role: return "cert_wrong_role";
        case Err::cert_wrong_issuer: return "cert_wrong_issuer";
        case Err::unexpected_message: return "unexpected_message";
        case Err::bad_sequence: return "bad_sequence";
        case Err::expired: return "expired";
        case Err::old_epoch: return "old_epoch";
        case Err::replay: return "replay";
        case Err::downgrade: return "downgrade";
        case Err::unknown_psk: return "unknown_psk";
        case Err::no_common_parameters: return "no_common_parameters";
        case Err::limit_exceeded: return "limit_exceeded";
        case Err::buffer_too_small: return "buffer_too_small";
        case Err::crypto_failure: return "crypto_failure";
        case Err::rng_failure: return "rng_failure";
        case Err::invalid_argument: return "invalid_argument";
        case Err::wrong_state: return "wrong_state";
        case Err::closed: return "closed";
        case Err::timeout: return "timeout";
        case Err::resend_exhausted: return "resend_exhausted";
        case Err::internal: return "internal";
        case Err::unsupported: return "unsupported";
    }
    return "unknown";
}

Category err_category(Err e) noexcept {
    switch (e) {
        case Err::need_more: return Category::need_more;
        case Err::truncated:
        case Err::trailing_bytes:
        case Err::too_long:
        case Err::bad_value: return Category::decode;
        case Err::bad_mac:
        case Err::bad_signature:
        case Err::bad_certificate:
        case Err::cert_expired:
        case Err::cert_wrong_role:
        case Err::cert_wrong_issuer:
        case Err::unexpected_message:
        case Err::bad_sequence:
        case Err::expired:
        case Err::old_epoch:
        case Err::replay:
        case Err::downgrade:
        case Err::unknown_psk:
        case Err::no_common_parameters:
        case Err::timeout:
        case Err::resend_exhausted: return Category::peer;
        case Err::crypto_failure: return Category::crypto;
        case Err::limit_exceeded: return Category::limit;
        case Err::buffer_too_small:
        case Err::invalid_argument:
        case Err::wrong_state:
        case Err::closed:
        case Err::unsupported: return Category::usage;
        case Err::ok:
        case Err::rng_failure:
        case Err::internal: return Category::internal;
    }
    return Category::internal;
}

Reason err_reason(Err e) noexcept {
    switch (e) {
        case Err::truncated:
        case Err::trailing_bytes:
        case Err::too_long:
        case Err::bad_value: return Reason::decode_error;
        case Err::bad_mac: return Reason::bad_mac;
        case Err::bad_signature: return Reason::bad_signature;
        case Err::bad_certificate:
        case Err::cert_expired:
        case Err::cert_wrong_role:
        case Err::cert_wrong_issuer: return Reason::bad_certificate;
        case Err::unexpected_message: return Reason::unexpected_message;
        case Err::bad_sequence: return Reason::bad_sequence;
        case Err::expired: return Reason::expired;
        case Err::old_epoch: return Reason::old_epoch;
        case Err::replay: return Reason::replay;
        case Err::downgrade: return Reason::downgrade;
        case Err::unknown_psk: return Reason::unknown_psk;
        case Err::no_common_parameters: return Reason::no_common_parameters;
        case Err::limit_exceeded: return Reason::limit_exceeded;
        case Err::timeout: return Reason::timeout;
        case Err::resend_exhausted: return Reason::resend_exhausted;
        case Err::closed: return Reason::normal;
        default: return Reason::internal_error;
    }
}

}  // namespace lockstep
