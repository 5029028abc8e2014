// SPDX-License-Identifier: Apache-2.0
#include "handshake/table.hpp"

namespace lockstep::handshake {

std::optional<Transition> lookup(Role role, State from, MsgType msg) noexcept {
    for (const auto& t : kCompiledTransitions)
        if (t.role == role && t.from == from && t.msg == msg) return t;
    return std::nullopt;
}

const char* action_name(Action a) noexcept {
    switch (a) {
        case Action::on_hello: return "on_hello";
        case Action::on_hello_ack: return "on_hello_ack";
        case Action::on_ack: return "on_ack";
        case Action::on_rekey_hello: return "on_rekey_hello";
        case Action::on_rekey_hello_ack: return "on_rekey_hello_ack";
        case Action::on_rekey_ack: return "on_rekey_ack";
        case Action::on_data_request: return "on_data_request";
        case Action::stash_request: return "stash_request";
        case Action::on_data_response: return "on_data_response";
        case Action::on_data_ack: return "on_data_ack";
        case Action::on_resend_last: return "on_resend_last";
        case Action::on_close: return "on_close";
        case Action::on_close_ack: return "on_close_ack";
        case Action::on_closed_without_ack: return "on_closed_without_ack";
        case Action::ignore: return "ignore";
    }
    return "unknown";
}

}  // namespace lockstep::handshake
