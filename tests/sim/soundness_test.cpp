// Protocol soundness: the client checks which server it reached; psk-only
// secrets are per connection; re-keys heal; a psk re-key needs the PSK.
// spec: PROTOCOL.md §7.4, §5.1, §5.6, §11
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>

#include "../support/sim.hpp"
#include "keys/keys.hpp"

namespace lockstep::sim {
namespace {

bool sent_type(const Endpoint& ep, MsgType t) {
    return std::any_of(ep.sent.begin(), ep.sent.end(), [&](const TraceEntry& e) { return e.type == t; });
}

// A server certificate of the right CA but another subject is refused before
// the client's certificate and signature (its ACK) leave.
TEST(ServerIdentity, WrongNameIsRefusedBeforeTheClientsIdentityLeaves) {
    for (Mode m : {Mode::cert, Mode::cert_psk}) {
        SCOPED_TRACE(mode_name(m));
        static constexpr std::string_view kOther[] = {"other.test", "server.tes"};
        Sim sim({.mode = m});
        sim.client_cfg().server_names = kOther;
        sim.build();
        sim.start();
        sim.run_until([&] { return sim.client().closed; });
        ASSERT_TRUE(sim.client().closed);
        EXPECT_EQ(sim.client().closed_event.error, Err::bad_certificate);
        EXPECT_FALSE(sent_type(sim.client(), MsgType::ack));  // nothing of the client's identity on the wire
        for (const Packet& p : sim.wire_log) EXPECT_NE(p.bytes.at(0), 0x17) << "a record left the client";
        EXPECT_EQ(sim.server().handshakes, 0);
    }
}

TEST(ServerIdentity, TheExpectedNameIsAcceptedAndAnyOfSeveral) {
    static constexpr std::string_view kNames[] = {"other.test", "server.test"};
    Sim sim;
    sim.client_cfg().server_names = kNames;
    sim.build();
    ASSERT_TRUE(sim.handshake());
    EXPECT_EQ(sim.exchange(1), 1);
}

// Required by default: a client offering a cert mode without names does not
// start, and does not stay in START; the loud opt-out works.
TEST(ServerIdentity, RequiredUnlessTheInsecureOptOutIsSet) {
    Sim sim;
    sim.client_cfg().server_names = {};
    sim.build();
    EXPECT_FALSE(sim.ce().start(sim.now()));
    EXPECT_EQ(sim.ce().state(), State::closed);
    EXPECT_TRUE(sim.ce().poll_transmit(std::span<std::uint8_t>{}).has_value());

    Sim ok;
    ok.client_cfg().server_names = {};
    ok.client_cfg().insecure_accept_any_server_name = true;
    ok.build();
    EXPECT_TRUE(ok.handshake());
}

}  // namespace
}  // namespace lockstep::sim
