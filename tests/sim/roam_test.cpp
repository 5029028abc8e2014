// SPDX-License-Identifier: Apache-2.0
// Roaming over datagrams, the engine's side (spec: PROTOCOL.md §6.9): the
// connection ids both ends derive, how they follow a re-key, and the rules
// for a message from a new address — only a record that opens moves the
// connection; the new address is unproved (the amplification limit holds)
// until an authenticated message acknowledges one sent to it.
#include <gtest/gtest.h>

#include "../support/sim.hpp"

namespace lockstep::sim {
namespace {

using Ids = std::array<ConnectionId, 2>;

// A datagram server: tolerant, with the amplification limit.
void build_tolerant(Sim& sim) {
    sim.server_cfg().amplification_limit = 3;
    sim.client_cfg().hello_pad_to = 256;  // answered at once (spec §6.8)
    sim.build();
}

Buf take(Engine& e) {
    Buf out(Engine::max_message_size(16384));
    auto n = e.poll_transmit(out);
    out.resize(n ? *n : 0);
    return out;
}

// The server's request event (the body), after a message it received.
bool got_request(Engine& e) {
    Event ev;
    bool got = false;
    while (e.poll_event(ev)) got = got || ev.kind == EventKind::request;
    return got;
}

TEST(Roam, BothEndsDeriveTheSameIdAndANewOneAtEveryRekey) {
    Sim sim({.policy = Policy::tolerant});
    build_tolerant(sim);
    Ids c{}, s{};
    EXPECT_EQ(sim.ce().connection_ids(c), 0u);  // no id before epoch 1
    ASSERT_TRUE(sim.handshake());
    ASSERT_EQ(sim.ce().connection_ids(c), 1u);
    ASSERT_GE(sim.se().connection_ids(s), 1u);
    EXPECT_EQ(c[0], s[0]);
    const ConnectionId first = c[0];
    ASSERT_EQ(sim.exchange(12), 12);  // a re-key after 10 responses
    ASSERT_GE(sim.se().epoch(), 2u);
    ASSERT_EQ(sim.ce().connection_ids(c), 1u);
    const std::size_t n = sim.se().connection_ids(s);
    ASSERT_GE(n, 1u);
    EXPECT_EQ(c[0], s[0]);  // the server's current receive epoch is the client's sending one
    EXPECT_NE(c[0], first);
    for (std::size_t i = 0; i < n; ++i) EXPECT_NE(s[i], ConnectionId{});
}

TEST(Roam, OnlyAnAuthenticatedRecordMovesAndTheNewAddressIsLimitedUntilProved) {
    Sim sim({.policy = Policy::tolerant});
    build_tolerant(sim);
    ASSERT_TRUE(sim.handshake());
    ASSERT_EQ(sim.exchange(2), 2);
    ASSERT_TRUE(sim.run_until([&] { return sim.se().state() == State::idle; }));  // the last DATA ACK in
    ASSERT_TRUE(sim.se().address_validated());
    const Buf body(8, 0x11);
    ASSERT_TRUE(sim.ce().send_request(body, sim.now()));
    const Buf req = take(sim.ce());
    ASSERT_FALSE(req.empty());

    // A garbled copy from a new address: dropped, nothing moves or changes.
    Buf bad = req;
    bad[bad.size() - 1] ^= 1;
    bool moved = true;
    const auto dropped = sim.se().stats().dropped;
    (void)sim.se().receive_moved(bad, sim.now(), moved);
    EXPECT_FALSE(moved);
    EXPECT_EQ(sim.se().stats().dropped, dropped + 1);
    EXPECT_TRUE(sim.se().address_validated());
    EXPECT_FALSE(got_request(sim.se()));

    // The real record from the new address: the connection moves; unproved.
    (void)sim.se().receive_moved(req, sim.now(), moved);
    EXPECT_TRUE(moved);
    EXPECT_FALSE(sim.se().address_validated());
    ASSERT_TRUE(got_request(sim.se())) << state_name(sim.se().state()) << " " << err_name(sim.se().last_drop());
    // A replay of it, from yet another address, moves nothing.
    (void)sim.se().receive_moved(req, sim.now(), moved);
    EXPECT_FALSE(moved);

    // A response larger than 3x what came from the new address is held back.
    const auto held = sim.se().stats().amplification_held;
    ASSERT_TRUE(sim.se().send_response(Buf(3 * req.size(), 0x22), sim.now()));
    EXPECT_TRUE(take(sim.se()).empty());
    EXPECT_EQ(sim.se().stats().amplification_held, held + 1);

    // Each RESEND LAST from the new address raises the allowance; the response
    // goes once it fits, and the client's DATA ACK of it proves the address.
    Buf resp;
    for (int i = 0; i < 10 && resp.empty(); ++i) {
        Buf rl;  // the client's next retransmission (RESEND LAST or its request), at its timer
        for (int t = 0; t < 100 && rl.empty(); ++t) {
            sim.advance(100);
            ASSERT_TRUE(sim.ce().on_timeout(sim.now()));
            rl = take(sim.ce());
        }
        ASSERT_FALSE(rl.empty());
        (void)sim.se().receive(rl, sim.now());
        EXPECT_FALSE(sim.se().address_validated());  // it acknowledges nothing sent after the move
        resp = take(sim.se());
    }
    ASSERT_FALSE(resp.empty());
    ASSERT_TRUE(sim.ce().receive(resp, sim.now()));
    Event ev;
    bool answered = false;
    while (sim.ce().poll_event(ev)) answered = answered || ev.kind == EventKind::response;
    EXPECT_TRUE(answered);
    const Buf data_ack = take(sim.ce());
    ASSERT_FALSE(data_ack.empty());
    (void)sim.se().receive(data_ack, sim.now());
    EXPECT_TRUE(sim.se().address_validated());
}

}  // namespace
}  // namespace lockstep::sim
