#include "handshake/table.hpp"

namespace lockstep::handshake {

using T = Transition;

const std::array<Transition, 46> kTransitions = {{
    T{Role::client, State::wait_hello_ack, MsgType::hello_ack, Action::on_hello_ack, State::idle, State::idle},
    T{Role::client, State::idle, MsgType::hello, Action::on_rekey_hello, State::rekey_wait_ack, State::rekey_wait_ack},
    T{Role::client, State::wait_response, MsgType::hello, Action::on_rekey_hello, State::rekey_wait_ack, State::rekey_wait_ack},
    T{Role::client, State::wait_response, MsgType::data_response, Action::on_data_response, State::idle, State::idle},
    T{Role::client, State::rekey_wait_ack, MsgType::ack, Action::on_rekey_ack, State::idle, State::wait_response},
    T{Role::server, State::start, MsgType::hello, Action::on_hello, State::wait_ack, State::wait_ack},
    T{Role::server, State::wait_ack, MsgType::ack, Action::on_ack, State::idle, State::idle},
    T{Role::server, State::idle, MsgType::data_request, Action::on_data_request, State::serving, State::serving},
    T{Role::server, State::wait_data_ack, MsgType::data_ack, Action::on_data_ack, State::idle, State::rekey_wait_hello_ack},
    T{Role::server, State::rekey_wait_hello_ack, MsgType::data_request, Action::stash_request, State::rekey_wait_hello_ack, State::rekey_wait_hello_ack},
    T{Role::server, State::rekey_wait_hello_ack, MsgType::hello_ack, Action::on_rekey_hello_ack, State::idle, State::serving},
    T{Role::client, State::idle, MsgType::resend_last, Action::on_resend_last, State::idle, State::idle},
    T{Role::client, State::idle, MsgType::close, Action::on_close, State::closed, State::closed},
    T{Role::client, State::idle, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    T{Role::client, State::wait_response, MsgType::resend_last, Action::on_resend_last, State::wait_response, State::wait_response},
    T{Role::client, State::wait_response, MsgType::close, Action::on_close, State::closed, State::closed},
    T{Role::client, State::wait_response, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    T{Role::client, State::rekey_wait_ack, MsgType::resend_last, Action::on_resend_last, State::rekey_wait_ack, State::rekey_wait_ack},
    T{Role::client, State::rekey_wait_ack, MsgType::close, Action::on_close, State::closed, State::closed},
    T{Role::client, State::rekey_wait_ack, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    T{Role::server, State::idle, MsgType::resend_last, Action::on_resend_last, State::idle, State::idle},
    T{Role::server, State::idle, MsgType::close, Action::on_close, State::closed, State::closed},
    T{Role::server, State::idle, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    T{Role::server, State::serving, MsgType::resend_last, Action::on_resend_last, State::serving, State::serving},
    T{Role::server, State::serving, MsgType::close, Action::on_close, State::closed, State::closed},
    T{Role::server, State::serving, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    T{Role::server, State::wait_data_ack, MsgType::resend_last, Action::on_resend_last, State::wait_data_ack, State::wait_data_ack},
    T{Role::server, State::wait_data_ack, MsgType::close, Action::on_close, State::closed, State::closed},
    T{Role::server, State::wait_data_ack, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    T{Role::server, State::rekey_wait_hello_ack, MsgType::resend_last, Action::on_resend_last, State::rekey_wait_hello_ack, State::rekey_wait_hello_ack},
    T{Role::server, State::rekey_wait_hello_ack, MsgType::close, Action::on_close, State::closed, State::closed},
    T{Role::server, State::rekey_wait_hello_ack, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    T{Role::client, State::wait_close_ack, MsgType::close_ack, Action::on_close_ack, State::closed, State::closed},
    T{Role::client, State::wait_close_ack, MsgType::close, Action::on_close, State::closed, State::closed},
    T{Role::client, State::wait_close_ack, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    T{Role::client, State::wait_close_ack, MsgType::data_response, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    T{Role::client, State::wait_close_ack, MsgType::resend_last, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    T{Role::client, State::wait_close_ack, MsgType::hello, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    T{Role::client, State::wait_close_ack, MsgType::ack, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    T{Role::server, State::wait_close_ack, MsgType::close_ack, Action::on_close_ack, State::closed, State::closed},
    T{Role::server, State::wait_close_ack, MsgType::close, Action::on_close, State::closed, State::closed},
    T{Role::server, State::wait_close_ack, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    T{Role::server, State::wait_close_ack, MsgType::data_request, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    T{Role::server, State::wait_close_ack, MsgType::data_ack, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    T{Role::server, State::wait_close_ack, MsgType::resend_last, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    T{Role::server, State::wait_close_ack, MsgType::hello_ack, Action::ignore, State::wait_close_ack, State::wait_close_ack},
}};

std::optional<Transition> lookup(Role role, State from, MsgType msg) noexcept {
    for (const auto& t : kTransitions)
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
