// SPDX-License-Identifier: Apache-2.0
// lockstep — the handshake layer's entry points: the initial handshake
// (handshake.cpp) and the re-key (rekey.cpp), called by the session layer's
// dispatch through the transition table (table.hpp). Each handler works on
// the connection through Link (link.hpp) only.
//
// Errors: a handler returns the fault of the message (decode, MAC, signature,
// sequence, ...) and leaves what to do with it to the caller (the policy
// table, src/session); errors of our own side are returned the same way.
#pragma once

#include "handshake/auth.hpp"
#include "handshake/link.hpp"

namespace lockstep::handshake {

// Client: checks the configuration, builds and sends HELLO (WAIT HELLO ACK).
Status client_start(Link& e, const Now& now) noexcept;
// The clear frames are handled compute-then-commit: each check works on
// locals (transcript, keys, the choice), and the connection's state is
// written at one point, once the message passed every check that could drop
// it (spec §8.5: the tolerant policy drops an unauthenticated HELLO / HELLO
// ACK; a dropped one changed nothing). peer_seq: the message's seq once it is
// known, for the clear CLOSE that answers a fatal refusal (spec §6.6).
// Server: a clear HELLO; answers HELLO ACK (WAIT ACK).
Status on_hello(Link& e, ConstBytes msg, const Now& now, std::uint32_t& peer_seq) noexcept;
// Client: a clear HELLO ACK; answers ACK and enters epoch 1 (IDLE).
Status on_hello_ack(Link& e, ConstBytes msg, const Now& now, std::uint32_t& peer_seq) noexcept;
// Server: the ACK (epoch 0 record); enters epoch 1 (IDLE). A refused ACK
// still enters epoch 1, so the CLOSE that follows is one the client can open.
Status on_ack(Link& e, const wire::Inner& m, const Now& now) noexcept;

// Server: a re-key is due (spec §5.6: responses, bytes, time, record numbers).
bool rekey_due(Link& e, const Now& now) noexcept;
// Server: sends the re-key HELLO (REKEY WAIT HELLO ACK).
Status start_rekey(Link& e, const Now& now) noexcept;
Status on_rekey_hello(Link& e, const wire::Inner& m, const Now& now) noexcept;      // client
Status on_rekey_hello_ack(Link& e, const wire::Inner& m, const Now& now) noexcept;  // server
Status on_rekey_ack(Link& e, const wire::Inner& m, const Now& now) noexcept;        // client

// The peer's certificate key, remembered from the initial handshake.
PeerKey peer_key(const Link& e) noexcept;

// The best mutual choice under the published rule (spec §5.5): the highest
// common version; the first of the client's suites the server supports; the
// first of the client's modes the server supports whose inputs were offered.
struct Choice {
    std::uint8_t version = 0;
    Suite suite = Suite::aes256gcm;
    Mode mode = Mode::cert;
};
Result<Choice> negotiate(const wire::IdList& c_versions, const wire::IdList& c_suites, const wire::IdList& c_modes,
                         const wire::IdList& s_versions, const wire::IdList& s_suites, const wire::IdList& s_modes,
                         bool psk_offered, bool share_offered) noexcept;

}  // namespace lockstep::handshake
