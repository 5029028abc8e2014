// SPDX-License-Identifier: Apache-2.0
// lockstep — the message-order tables. spec: PROTOCOL.md §8.2
//
// One row per allowed (role, state, received message). Every cell that is not
// listed rejects the message with Reason::unexpected_message. `to` is the state
// the handler normally moves to; handlers whose outcome depends on data (a
// re-key due, a stashed request) name the alternatives in `alt`. The engine
// dispatches every received message, clear HELLO and HELLO ACK included,
// through lookup() and checks the state its handler left (allowed_after).
// The spec's state tables and the Spin model are checked against this table.
#pragma once

#include <array>
#include <optional>

#include "lockstep/engine.hpp"
#include "lockstep/features.hpp"

namespace lockstep::handshake {

enum class Action : std::uint8_t {
    on_hello,              // server: initial HELLO
    on_hello_ack,          // client: initial HELLO ACK
    on_ack,                // server: initial ACK
    on_rekey_hello,        // client: re-key HELLO
    on_rekey_hello_ack,    // server: re-key HELLO ACK
    on_rekey_ack,          // client: re-key ACK
    on_data_request,       // server
    stash_request,         // server: a request crossing a re-key is kept and served after it
    on_data_response,      // client
    on_data_ack,           // server
    on_resend_last,        // both: retransmit what the peer lacks
    on_close,              // both: send CLOSE ACK, closed
    on_close_ack,          // both: closed
    on_closed_without_ack, // both: closed
    ignore,                // WAIT CLOSE ACK: what crossed our CLOSE is dropped (its seq still counts)
};
const char* action_name(Action a) noexcept;

struct Transition {
    Role role;
    State from;
    MsgType msg;
    Action action;
    State to;
    State alt;  // == to when there is no alternative
};

// The protocol's table, both roles. Kept in one place; tests walk every cell.
inline constexpr std::array<Transition, 46> kTransitions = {{
    Transition{Role::client, State::wait_hello_ack, MsgType::hello_ack, Action::on_hello_ack, State::idle, State::idle},
    Transition{Role::client, State::idle, MsgType::hello, Action::on_rekey_hello, State::rekey_wait_ack, State::rekey_wait_ack},
    Transition{Role::client, State::wait_response, MsgType::hello, Action::on_rekey_hello, State::rekey_wait_ack, State::rekey_wait_ack},
    Transition{Role::client, State::wait_response, MsgType::data_response, Action::on_data_response, State::idle, State::idle},
    Transition{Role::client, State::rekey_wait_ack, MsgType::ack, Action::on_rekey_ack, State::idle, State::wait_response},
    Transition{Role::server, State::start, MsgType::hello, Action::on_hello, State::wait_ack, State::wait_ack},
    Transition{Role::server, State::wait_ack, MsgType::ack, Action::on_ack, State::idle, State::idle},
    Transition{Role::server, State::idle, MsgType::data_request, Action::on_data_request, State::serving, State::serving},
    Transition{Role::server, State::wait_data_ack, MsgType::data_ack, Action::on_data_ack, State::idle, State::rekey_wait_hello_ack},
    Transition{Role::server, State::rekey_wait_hello_ack, MsgType::data_request, Action::stash_request, State::rekey_wait_hello_ack, State::rekey_wait_hello_ack},
    Transition{Role::server, State::rekey_wait_hello_ack, MsgType::hello_ack, Action::on_rekey_hello_ack, State::idle, State::serving},
    Transition{Role::client, State::idle, MsgType::resend_last, Action::on_resend_last, State::idle, State::idle},
    Transition{Role::client, State::idle, MsgType::close, Action::on_close, State::closed, State::closed},
    Transition{Role::client, State::idle, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    Transition{Role::client, State::wait_response, MsgType::resend_last, Action::on_resend_last, State::wait_response, State::wait_response},
    Transition{Role::client, State::wait_response, MsgType::close, Action::on_close, State::closed, State::closed},
    Transition{Role::client, State::wait_response, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    Transition{Role::client, State::rekey_wait_ack, MsgType::resend_last, Action::on_resend_last, State::rekey_wait_ack, State::rekey_wait_ack},
    Transition{Role::client, State::rekey_wait_ack, MsgType::close, Action::on_close, State::closed, State::closed},
    Transition{Role::client, State::rekey_wait_ack, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    Transition{Role::server, State::idle, MsgType::resend_last, Action::on_resend_last, State::idle, State::idle},
    Transition{Role::server, State::idle, MsgType::close, Action::on_close, State::closed, State::closed},
    Transition{Role::server, State::idle, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    Transition{Role::server, State::serving, MsgType::resend_last, Action::on_resend_last, State::serving, State::serving},
    Transition{Role::server, State::serving, MsgType::close, Action::on_close, State::closed, State::closed},
    Transition{Role::server, State::serving, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    Transition{Role::server, State::wait_data_ack, MsgType::resend_last, Action::on_resend_last, State::wait_data_ack, State::wait_data_ack},
    Transition{Role::server, State::wait_data_ack, MsgType::close, Action::on_close, State::closed, State::closed},
    Transition{Role::server, State::wait_data_ack, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    Transition{Role::server, State::rekey_wait_hello_ack, MsgType::resend_last, Action::on_resend_last, State::rekey_wait_hello_ack, State::rekey_wait_hello_ack},
    Transition{Role::server, State::rekey_wait_hello_ack, MsgType::close, Action::on_close, State::closed, State::closed},
    Transition{Role::server, State::rekey_wait_hello_ack, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    Transition{Role::client, State::wait_close_ack, MsgType::close_ack, Action::on_close_ack, State::closed, State::closed},
    Transition{Role::client, State::wait_close_ack, MsgType::close, Action::on_close, State::closed, State::closed},
    Transition{Role::client, State::wait_close_ack, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    Transition{Role::client, State::wait_close_ack, MsgType::data_response, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    Transition{Role::client, State::wait_close_ack, MsgType::resend_last, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    Transition{Role::client, State::wait_close_ack, MsgType::hello, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    Transition{Role::client, State::wait_close_ack, MsgType::ack, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    Transition{Role::server, State::wait_close_ack, MsgType::close_ack, Action::on_close_ack, State::closed, State::closed},
    Transition{Role::server, State::wait_close_ack, MsgType::close, Action::on_close, State::closed, State::closed},
    Transition{Role::server, State::wait_close_ack, MsgType::closed_without_ack, Action::on_closed_without_ack, State::closed, State::closed},
    Transition{Role::server, State::wait_close_ack, MsgType::data_request, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    Transition{Role::server, State::wait_close_ack, MsgType::data_ack, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    Transition{Role::server, State::wait_close_ack, MsgType::resend_last, Action::ignore, State::wait_close_ack, State::wait_close_ack},
    Transition{Role::server, State::wait_close_ack, MsgType::hello_ack, Action::ignore, State::wait_close_ack, State::wait_close_ack},
}};

// The rows of the given roles, in the order of kTransitions (a constant).
constexpr std::size_t count_rows(bool client, bool server) noexcept {
    std::size_t n = 0;
    for (const auto& t : kTransitions) n += (t.role == Role::client ? client : server) ? 1 : 0;
    return n;
}
template <bool Client, bool Server>
constexpr std::array<Transition, count_rows(Client, Server)> rows_of_roles() noexcept {
    std::array<Transition, count_rows(Client, Server)> out{};
    std::size_t i = 0;
    for (const auto& t : kTransitions)
        if (t.role == Role::client ? Client : Server) out[i++] = t;
    return out;
}

// The table this build runs: the rows of the compiled roles (lockstep/features.hpp).
// A message whose row was left out is rejected like any other empty cell.
inline constexpr auto kCompiledTransitions = rows_of_roles<features::kClientRole, features::kServerRole>();

// The states a row's handler may leave the connection in: its `to` or `alt`.
// One exception, the same in the Spin model (handle_row): on_data_ack also
// ends in SERVING when an early request kept under the tolerant policy is
// served at once (the table has room for one alternative). A fault that
// closes (CLOSED, WAIT CLOSE ACK) or a tolerant drop (the state unchanged) is
// judged by the engine, which checks every handler against this (spec §8.2).
constexpr bool allowed_after(const Transition& t, State s) noexcept {
    return s == t.to || s == t.alt || (t.action == Action::on_data_ack && s == State::serving);
}

// The actions that handle a clear frame (HELLO, HELLO ACK) rather than a record.
constexpr bool clear_frame_action(Action a) noexcept { return a == Action::on_hello || a == Action::on_hello_ack; }

// The row for (role, state, message) in kCompiledTransitions, if any.
std::optional<Transition> lookup(Role role, State from, MsgType msg) noexcept;

}  // namespace lockstep::handshake
