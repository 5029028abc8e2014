// SPDX-License-Identifier: Apache-2.0
// Messages that cross in flight, moved by hand between two engines so the
// interleaving is exact (found with the real transports, tests/e2e/net_test).
#include <gtest/gtest.h>

#include "../support/sim.hpp"

namespace lockstep::sim {
namespace {

using Msgs = std::vector<Buf>;

Msgs take(Engine& e) {
    Buf b(Engine::max_message_size(16384));
    Msgs v;
    for (;;) {
        auto n = e.poll_transmit(b);
        if (!n || *n == 0) return v;
        v.emplace_back(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(*n));
    }
}

void give(Engine& e, const Msgs& v, Now now) {
    for (const Buf& m : v) (void)e.receive(m, now);
}

std::optional<Event> closed_event(Engine& e) {
    Event ev;
    std::optional<Event> c;
    while (e.poll_event(ev))
        if (ev.kind == EventKind::closed) c = ev;
    return c;
}

// Strict policy, messages moved by hand: handshake plus one full exchange.
struct Pair {
    Sim sim;
    explicit Pair(std::uint32_t rekey_after_responses = 10) {
        sim.server_cfg().rekey.after_responses = rekey_after_responses;
        sim.build();
        const Now now = sim.now();
        EXPECT_TRUE(sim.se().start(now));
        EXPECT_TRUE(sim.ce().start(now));
        for (int i = 0; i < 3; ++i) {  // HELLO, HELLO ACK, ACK
            give(sim.se(), take(sim.ce()), now);
            give(sim.ce(), take(sim.se()), now);
        }
        EXPECT_TRUE(sim.ce().can_send_request());
        request();
        EXPECT_TRUE(sim.se().send_response(Sim::body(4), now));
        give(sim.ce(), take(sim.se()), now);  // DATA RESPONSE
        give(sim.se(), take(sim.ce()), now);  // DATA ACK
        EXPECT_EQ(sim.se().state(), rekey_after_responses == 1 ? State::rekey_wait_hello_ack : State::idle);
        drain();
    }
    void request() {
        EXPECT_TRUE(sim.ce().send_request(Sim::body(4), sim.now()));
        give(sim.se(), take(sim.ce()), sim.now());
        EXPECT_EQ(sim.se().state(), State::serving);
    }
    void drain() {
        Event ev;
        while (sim.se().poll_event(ev) || sim.ce().poll_event(ev)) {
        }
    }
};

// The server closes (Server::stop: Reason::shutdown) right after sending a DATA
// RESPONSE. Before the CLOSE arrives the client has sent its DATA ACK and its
// next DATA REQUEST. The CLOSE's ack names the previous DATA REQUEST (the
// server had not seen the DATA ACK yet), which is neither the client's tx_seq
// (the new request) nor tx_prev_seq (the DATA ACK), so the client rejects the
// CLOSE with bad_sequence; strict, it sends its own CLOSE, then rejects the
// server's CLOSE ACK too (its seq is past the refused CLOSE). Result: the
// client ends with reason normal/bad_sequence, unacknowledged, instead of
// "shutdown, acknowledged". Seen over TCP and UDP in most stop() runs while
// clients are busy (net_test Shutdown.StopMidExchange...).
TEST(Crossing, CloseAfterResponseCrossingDataAckAndNextRequest) {
    Pair p;
    Sim& s = p.sim;
    p.request();
    ASSERT_TRUE(s.se().send_response(Sim::body(4), s.now()));
    const Msgs response = take(s.se());
    ASSERT_TRUE(s.se().close(s.now(), Reason::shutdown));
    const Msgs close = take(s.se());
    give(s.ce(), response, s.now());
    (void)take(s.ce());  // DATA ACK, in flight
    ASSERT_TRUE(s.ce().send_request(Sim::body(4), s.now()));
    (void)take(s.ce());  // DATA REQUEST, in flight
    give(s.ce(), close, s.now());
    auto c = closed_event(s.ce());
    ASSERT_TRUE(c) << "client rejected the CLOSE: " << err_name(s.ce().last_error());
    EXPECT_EQ(c->reason, Reason::shutdown);
    EXPECT_TRUE(c->acknowledged);
}


// The server closes (Server::stop: Reason::shutdown) while its re-key HELLO is
// in flight. The client answers the HELLO with HELLO ACK, then accepts the
// CLOSE and sends CLOSE ACK (it reports "shutdown, acknowledged"). The server,
// in WAIT CLOSE ACK, rejects the HELLO ACK (a reply whose ack names the HELLO,
// not the CLOSE: bad_sequence, fatal under strict) and then the CLOSE ACK (its
// seq is past the refused HELLO ACK: bad_sequence). The server side never
// closes cleanly; it ends at close_timeout (or the server's shutdown grace).
// Seen in net_test Shutdown.StopMidExchange... with 4 busy clients (TCP and UDP).
TEST(Crossing, CloseCrossingTheRekeyHelloAckIsAcknowledged) {
    Pair p(1);  // the server re-keys after every response: its HELLO is queued now
    Sim& s = p.sim;
    const Msgs hello = take(s.se());
    ASSERT_EQ(hello.size(), 1u);
    ASSERT_TRUE(s.se().close(s.now(), Reason::shutdown));
    const Msgs close = take(s.se());
    give(s.ce(), hello, s.now());
    const Msgs hello_ack = take(s.ce());
    give(s.ce(), close, s.now());
    const Msgs close_ack = take(s.ce());
    auto c = closed_event(s.ce());
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->acknowledged);
    give(s.se(), hello_ack, s.now());
    give(s.se(), close_ack, s.now());
    EXPECT_TRUE(s.se().is_closed()) << state_name(s.se().state()) << ", last_error " << err_name(s.se().last_error());
}

}  // namespace
}  // namespace lockstep::sim
