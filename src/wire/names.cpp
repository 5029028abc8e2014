// SPDX-License-Identifier: Apache-2.0
#include "lockstep/types.hpp"

namespace lockstep {

const char* msg_type_name(MsgType t) noexcept {
    switch (t) {
        case MsgType::hello: return "hello";
        case MsgType::hello_ack: return "hello ack";
        case MsgType::ack: return "ack";
        case MsgType::data_request: return "data request";
        case MsgType::data_response: return "data response";
        case MsgType::data_ack: return "data ack";
        case MsgType::resend_last: return "resend last";
        case MsgType::close: return "close";
        case MsgType::close_ack: return "close ack";
        case MsgType::closed_without_ack: return "closed without ack";
    }
    return "unknown";
}

const char* mode_name(Mode m) noexcept {
    switch (m) {
        case Mode::cert: return "cert";
        case Mode::psk: return "psk";
        case Mode::cert_psk: return "cert+psk";
        case Mode::psk_only: return "psk-only";
    }
    return "unknown";
}

const char* suite_name(Suite s) noexcept {
    switch (s) {
        case Suite::aes256gcm: return "aes256gcm";
        case Suite::chacha20poly1305: return "chacha20poly1305";
        case Suite::aes256gcm_hmac_sha512: return "aes256gcm-hmac-sha512";
    }
    return "unknown";
}

}  // namespace lockstep
