// SPDX-License-Identifier: Apache-2.0
// R13: the seed's negative test cases, one test each, named after the case,
// run with the stream policy (strict: CLOSE) and the datagram policy
// (tolerant: RESEND LAST first, CLOSE after three in a row).
#include <gtest/gtest.h>

#include "../support/sim.hpp"

namespace lockstep::sim {
namespace {

bool sent_type(const Endpoint& ep, MsgType t) {
    for (const auto& e : ep.sent)
        if (e.type == t) return true;
    return false;
}
int sent_count(const Endpoint& ep, MsgType t) {
    int n = 0;
    for (const auto& e : ep.sent) n += e.type == t;
    return n;
}
Reason sent_close_reason(const Endpoint& ep) {
    for (const auto& e : ep.sent)
        if (e.type == MsgType::close) return e.reason;
    return Reason::normal;
}

class SeedCases : public ::testing::TestWithParam<Policy> {
protected:
    Sim::Options opts(Mode m = Mode::cert) { return {.mode = m, .policy = GetParam()}; }
    bool tolerant() const { return GetParam() == Policy::tolerant; }
};

// "messages in an incorrect order ... expected response: CLOSE"
TEST_P(SeedCases, WrongOrderCloses) {
    Sim sim(opts());
    sim.build();
    ASSERT_TRUE(sim.handshake());
    ASSERT_EQ(sim.exchange(1), 1);
    // The client's first message (HELLO) again, in the middle of the data phase.
    Buf hello;
    for (const auto& p : sim.wire_log)
        if (p.dir == Dir::c2s) {
            hello = p.bytes;
            break;
        }
    // A HELLO to an established server is out of order; the server answers CLOSE.
    sim.inject(Dir::c2s, hello);
    sim.run_until([&] { return sim.server().closed || !sim.server().faults.empty(); }, 1000);
    ASSERT_FALSE(sim.server().faults.empty());
    EXPECT_EQ(sim.server().faults.front(), Err::unexpected_message);
    if (!tolerant()) {
        EXPECT_EQ(sent_close_reason(sim.server()), Reason::unexpected_message);
        sim.run_until([&] { return sim.server().closed; });
        EXPECT_TRUE(sim.server().closed);
    } else {
        // Tolerant: a clear frame is unauthenticated, so it is dropped without effect.
        EXPECT_FALSE(sent_type(sim.server(), MsgType::resend_last));
        EXPECT_EQ(sim.exchange(1), 2);
    }
}

// "A Client could send an initial HELLO, but send no ACK in response to the returned HELLO ACK."
TEST_P(SeedCases, NoAckAfterHelloAckCloses) {
    Sim sim(opts());
    sim.build();
    sim.hook = [&](Dir d, Buf& b) {
        return d == Dir::c2s && b[0] == 0x17 && sim.server().handshakes == 0 ? Verdict::drop : Verdict::deliver;
    };
    sim.start();
    const auto t0 = sim.now_ms();
    sim.run_until([&] { return sim.server().closed; });
    ASSERT_TRUE(sim.server().closed);
    EXPECT_EQ(sim.server().closed_event.reason, tolerant() ? Reason::resend_exhausted : Reason::timeout);
    EXPECT_TRUE(sent_type(sim.server(), MsgType::close));
    if (!tolerant()) EXPECT_EQ(sim.now_ms() - t0, 45'000 + 5);
    else EXPECT_EQ(sent_count(sim.server(), MsgType::hello_ack), 1 + 3);  // HELLO ACK resent 3 times
}

// "A Server could not respond to an initial HELLO."
TEST_P(SeedCases, NoReplyToHelloCloses) {
    Sim sim(opts());
    sim.build();
    sim.hook = [](Dir d, Buf&) { return d == Dir::c2s ? Verdict::drop : Verdict::deliver; };
    sim.start();
    const auto t0 = sim.now_ms();
    sim.run_until([&] { return sim.client().closed; });
    ASSERT_TRUE(sim.client().closed);
    EXPECT_TRUE(sent_type(sim.client(), MsgType::close));
    if (!tolerant()) {
        EXPECT_EQ(sim.client().closed_event.reason, Reason::timeout);
        EXPECT_EQ(sim.now_ms() - t0, 45'000);
    } else {
        EXPECT_EQ(sim.client().closed_event.reason, Reason::resend_exhausted);
        EXPECT_EQ(sent_count(sim.client(), MsgType::hello), 4);
    }
}

// "A Client or Server could send a message encrypted under an old session key."
TEST_P(SeedCases, OldSessionKeyCloses) {
    Sim sim(opts());
    sim.build();
    ASSERT_TRUE(sim.handshake());
    ASSERT_EQ(sim.exchange(12), 12);  // a re-key after 10, then two in epoch 2
    ASSERT_EQ(sim.client().rekeys, 1);
    Buf old;
    for (const auto& p : sim.wire_log)
        if (p.dir == Dir::c2s && p.bytes[0] == 0x17 && p.bytes[1] == 1) old = p.bytes;
    ASSERT_FALSE(old.empty());
    sim.inject(Dir::c2s, old);
    sim.run_until([&] { return !sim.server().faults.empty(); }, 1000);
    ASSERT_FALSE(sim.server().faults.empty());
    EXPECT_EQ(sim.server().faults.front(), Err::old_epoch);
    if (!tolerant()) EXPECT_EQ(sent_close_reason(sim.server()), Reason::old_epoch);
    else EXPECT_FALSE(sent_type(sim.server(), MsgType::resend_last));  // did not open: dropped without effect
}

// "A Client or Server could send a message with an incorrect sequence number."
TEST_P(SeedCases, WrongSequenceNumberCloses) {
    Sim sim(opts());
    sim.build();
    ASSERT_TRUE(sim.handshake());
    // Lose the client's DATA ACK: its next DATA REQUEST then carries a sequence
    // number the server does not expect (the DATA ACK's nonce advanced it).
    bool dropped = false;
    sim.hook = [&](Dir d, Buf&) {
        if (!dropped && d == Dir::c2s && sim.client().sent.back().type == MsgType::data_ack) {
            dropped = true;
            return Verdict::drop;
        }
        return Verdict::deliver;
    };
    ASSERT_TRUE(sim.ce().send_request(Sim::body(4), sim.now()));
    sim.run_until([&] { return dropped; }, 1000);
    ASSERT_TRUE(dropped);
    sim.hook = nullptr;
    ASSERT_TRUE(sim.ce().send_request(Sim::body(4), sim.now()));
    if (!tolerant()) {
        sim.run_until([&] { return sim.server().closed; }, 1000);
        EXPECT_EQ(sent_close_reason(sim.server()), Reason::bad_sequence);
        EXPECT_EQ(sim.server().faults.front(), Err::bad_sequence);
    } else {
        // Tolerant: the request is kept, RESEND LAST recovers the lost DATA ACK.
        ASSERT_TRUE(sim.run_until([&] { return sim.client().responses == 2; }));
        EXPECT_FALSE(sim.server().closed);
        EXPECT_TRUE(sent_type(sim.server(), MsgType::resend_last));
    }
}

// "A Client or Server could not respond after receiving a CLOSE message." -> CLOSED WITHOUT ACK
TEST_P(SeedCases, NoReplyToCloseSendsClosedWithoutAck) {
    Sim sim(opts());
    sim.build();
    ASSERT_TRUE(sim.handshake());
    // The server gets the CLOSE but its CLOSE ACK never arrives.
    sim.hook = [](Dir d, Buf&) { return d == Dir::s2c ? Verdict::drop : Verdict::deliver; };
    const auto t0 = sim.now_ms();
    ASSERT_TRUE(sim.ce().close(sim.now()));
    sim.run_until([&] { return sim.client().closed; });
    ASSERT_TRUE(sim.client().closed);
    EXPECT_FALSE(sim.client().closed_event.acknowledged);
    EXPECT_EQ(sent_count(sim.client(), MsgType::close), 4);  // CLOSE and 3 retries
    EXPECT_EQ(sim.client().sent.back().type, MsgType::closed_without_ack);
    EXPECT_EQ(sim.now_ms() - t0, 4 * 45'000);
}

// "A Client or Server could send a message with an incorrect MAC."
TEST_P(SeedCases, BadMacCloses) {
    Sim sim(opts());
    sim.build();
    ASSERT_TRUE(sim.handshake());
    bool flipped = false;
    sim.hook = [&](Dir d, Buf& b) {
        if (!flipped && d == Dir::c2s) {
            b[b.size() - 1] ^= 0x01;  // last tag byte
            flipped = true;
        }
        return Verdict::deliver;
    };
    ASSERT_TRUE(sim.ce().send_request(Sim::body(4), sim.now()));
    sim.run_until([&] { return !sim.server().faults.empty(); }, 1000);
    ASSERT_FALSE(sim.server().faults.empty());
    EXPECT_EQ(sim.server().faults.front(), Err::bad_mac);
    if (!tolerant()) {
        EXPECT_EQ(sent_close_reason(sim.server()), Reason::bad_mac);
    } else {
        // Tolerant: a record that does not open is dropped without effect; the
        // client's reply timer resends the request.
        EXPECT_FALSE(sent_type(sim.server(), MsgType::resend_last));
        ASSERT_TRUE(sim.run_until([&] { return sim.client().responses == 1; }));  // recovered
    }
}

INSTANTIATE_TEST_SUITE_P(StreamAndDatagram, SeedCases, ::testing::Values(Policy::strict, Policy::tolerant),
                         [](const ::testing::TestParamInfo<Policy>& p) { return p.param == Policy::strict ? "Stream" : "Datagram"; });

}  // namespace
}  // namespace lockstep::sim
