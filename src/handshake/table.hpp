// lockstep — the message-order tables (R12). spec: PROTOCOL.md §8.2
//
// One row per allowed (role, state, received message). Every cell that is not
// listed rejects the message with Reason::unexpected_message. `to` is the state
// the handler normally moves to; handlers whose outcome depends on data (a
// re-key due, a stashed request) name the alternatives in `alt`.
// The spec's state tables and the Spin model are checked against this table.
#pragma once

#include <array>
#include <optional>

#include "lockstep/engine.hpp"

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

// The table. Kept in one place; tests walk every cell.
extern const std::array<Transition, 46> kTransitions;

std::optional<Transition> lookup(Role role, State from, MsgType msg) noexcept;

}  // namespace lockstep::handshake
