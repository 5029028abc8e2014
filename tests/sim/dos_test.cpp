// SPDX-License-Identifier: Apache-2.0
// Availability under attack, in simulation (spec: PROTOCOL.md §8.6, §6.6,
// §6.8, §11.12, §11.13): nothing that fails authentication has an effect;
// a blind sender cannot end a handshake or a session; the amplification
// limit holds; the cookie exchange completes.
#include <gtest/gtest.h>

#include <algorithm>

#include "../support/sim.hpp"

namespace lockstep::sim {
namespace {

Buf first_of(const Sim& sim, Dir d, std::uint8_t frame) {
    for (const auto& p : sim.wire_log)
        if (p.dir == d && p.bytes[0] == frame) return p.bytes;
    return {};
}

std::uint32_t be32(const Buf& b, std::size_t at) {
    return std::uint32_t{b[at]} << 24 | std::uint32_t{b[at + 1]} << 16 | std::uint32_t{b[at + 2]} << 8 | b[at + 3];
}

// The c0 a HELLO carries: 4 bytes after its lists, flags, kx and share/random.
std::uint32_t hello_seq(const Buf& h) {
    std::size_t at = 1;
    for (int i = 0; i < 3; ++i) at += 1 + h[at];                 // versions, suites, modes
    at += 2;                                                      // flags, kx
    const std::size_t k = std::size_t{h[at]} << 8 | h[at + 1];   // share length
    at += 2 + k + (k == 0 ? 16 : 0);
    return be32(h, at);
}

Buf clear_close(std::uint32_t ack) {
    return Buf{0x08, 0x02, 0, 0, 0, 1, static_cast<std::uint8_t>(ack >> 24), static_cast<std::uint8_t>(ack >> 16),
               static_cast<std::uint8_t>(ack >> 8), static_cast<std::uint8_t>(ack), 0x7f, 0xff, 0xff, 0xff};
}

// 1,000 records with the peer's address and epoch but a bad tag, in both
// directions during a datagram session: each is dropped, none draws a RESEND
// LAST or counts toward a limit, and the session completes.
TEST(Unauthenticated, ThousandBadTagRecordsChangeNothing) {
    Sim sim({.policy = Policy::tolerant});
    sim.build();
    ASSERT_TRUE(sim.handshake());
    ASSERT_EQ(sim.exchange(1), 1);
    Buf rec = first_of(sim, Dir::c2s, 0x17);
    ASSERT_FALSE(rec.empty());
    rec[1] = 1;  // the current epoch
    for (int i = 0; i < 500; ++i) {
        Buf forged = rec;
        forged[2] = static_cast<std::uint8_t>(i);   // another record number
        forged.back() ^= 0x01;                      // and a tag that does not verify
        sim.inject(Dir::c2s, forged, i % 7);
        sim.inject(Dir::s2c, forged, i % 5);
    }
    EXPECT_EQ(sim.exchange(12), 13);  // counts every response so far; through a re-key
    EXPECT_TRUE(sim.close_from_client());
    EXPECT_TRUE(sim.client().closed_event.acknowledged);
    EXPECT_EQ(sim.ce().stats().resend_lasts_sent + sim.se().stats().resend_lasts_sent, 0u);
    EXPECT_EQ(sim.ce().stats().dropped + sim.se().stats().dropped, 1000u);
}

// A blind clear CLOSE (it cannot know the random initial sequence number) is
// ignored in WAIT HELLO ACK and WAIT ACK; one that answers it is honoured.
TEST(ClearClose, OnlyAnAnswerToOurInitialSequenceNumberCounts) {
    for (Policy pol : {Policy::strict, Policy::tolerant}) {
        Sim sim({.policy = pol, .net = {.latency_ms = 50}});
        sim.build();
        sim.start();
        sim.inject(Dir::s2c, clear_close(0), 1);           // to the client in WAIT HELLO ACK
        sim.inject(Dir::s2c, clear_close(0x12345678), 2);
        sim.inject(Dir::c2s, clear_close(0), 60);          // to the server in WAIT ACK
        ASSERT_TRUE(sim.run_until([&] { return sim.client().handshakes == 1 && sim.server().handshakes == 1; }));
        EXPECT_EQ(sim.exchange(1), 1);
    }
    // The server refuses a HELLO with no common parameters: its clear CLOSE
    // answers c0, and the client acts on it.
    Sim sim;
    sim.server_cfg().suites = {Suite::chacha20poly1305};
    sim.client_cfg().suites = {Suite::aes256gcm};
    sim.build();
    sim.start();
    sim.run_until([&] { return sim.client().closed; });
    ASSERT_TRUE(sim.client().closed);
    EXPECT_TRUE(sim.client().closed_event.by_peer);
    EXPECT_EQ(sim.client().closed_event.reason, Reason::no_common_parameters);
}

// A forged HELLO ACK is dropped under the tolerant policy whatever is wrong
// with it (its ack, a choice outside the offer, the ttl flag, a certificate),
// and the genuine one still completes the handshake.
TEST(ForgedHelloAck, EveryUnauthenticatedFailureIsADrop) {
    // The genuine HELLO ACK of another connection, its `ack` set to our c0 and
    // one field changed each time.
    Sim donor({.policy = Policy::tolerant, .seed = 81});
    donor.build();
    ASSERT_TRUE(donor.handshake());
    const Buf genuine = first_of(donor, Dir::s2c, 0x02);
    ASSERT_FALSE(genuine.empty());
    struct Case {
        const char* name;
        std::function<void(Buf&)> change;
    } cases[] = {
        {"as is", [](Buf&) {}},
        {"suite outside the offer", [](Buf& b) { b[2] = 0x7f; }},
        {"ttl flag", [](Buf& b) { b[4] ^= 0x01; }},
        {"sealed part", [](Buf& b) { b.back() ^= 0x01; }},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Sim sim({.policy = Policy::tolerant, .seed = 82, .net = {.latency_ms = 50}});
        sim.build();
        sim.start();
        const Buf hello = first_of(sim, Dir::c2s, 0x01);
        ASSERT_FALSE(hello.empty());
        const std::uint32_t c0 = hello_seq(hello);
        Buf forged = genuine;
        // ack sits 4 bytes after seq, at the end of the clear part (C - 8).
        const std::size_t v = forged[5], s = forged[6 + v], m = forged[7 + v + s];
        const std::size_t k = std::size_t{forged[9 + v + s + m]} << 8 | forged[10 + v + s + m];
        const std::size_t ack_at = 15 + v + s + m + k + (k == 0 ? 16 : 0);
        for (int i = 0; i < 4; ++i) forged[ack_at + i] = static_cast<std::uint8_t>(c0 >> (24 - 8 * i));
        c.change(forged);
        sim.inject(Dir::s2c, forged, 1);
        ASSERT_TRUE(sim.run_until([&] { return sim.client().handshakes == 1 || sim.client().closed; }));
        EXPECT_EQ(sim.client().handshakes, 1);
        EXPECT_FALSE(sim.client().closed);
        EXPECT_GE(sim.ce().stats().dropped, 1u);
        EXPECT_EQ(sim.exchange(1), 1);
    }
}

// Once established, only the very HELLO ACK again (whole frame) makes the
// client resend what followed it; a copy with the right seq but other bytes
// is dropped.
TEST(ForgedHelloAck, DuplicateIsRecognisedByTheWholeFrame) {
    Sim sim({.policy = Policy::tolerant});
    sim.build();
    ASSERT_TRUE(sim.handshake());
    const Buf genuine = first_of(sim, Dir::s2c, 0x02);
    Buf forged = genuine;
    forged.back() ^= 0x01;
    const auto before = sim.ce().stats().retransmissions;
    sim.inject(Dir::s2c, forged);
    sim.run_until([] { return false; }, 100);
    EXPECT_EQ(sim.ce().stats().retransmissions, before);
    sim.inject(Dir::s2c, genuine);
    sim.run_until([] { return false; }, 100);
    EXPECT_EQ(sim.ce().stats().retransmissions, before + 1);
    EXPECT_EQ(sim.exchange(2), 2);
}

// Before the client proved its address, the server sends at most 3x what it
// received, retransmissions and clear CLOSE included.
TEST(Amplification, SilentAddressGetsAtMostThreeTimesItsBytes) {
    for (Mode m : {Mode::cert, Mode::psk}) {
        SCOPED_TRACE(mode_name(m));
        Sim sim({.mode = m, .policy = Policy::tolerant});
        sim.server_cfg().amplification_limit = 3;
        sim.hook = [](Dir d, Buf&) { return d == Dir::s2c ? Verdict::drop : Verdict::deliver; };
        sim.build();
        (void)sim.se().start(sim.now());
        const Buf hello = [&] {
            Sim ref({.mode = m});
            ref.build();
            ref.start();
            return first_of(ref, Dir::c2s, 0x01);
        }();
        for (int i = 0; i < 3; ++i) sim.inject(Dir::c2s, hello, i * 1500);
        sim.run_until([&] { return sim.server().closed; });
        const auto& st = sim.se().stats();
        EXPECT_GT(st.bytes_received, 0u);
        EXPECT_LE(st.bytes_sent, 3 * st.bytes_received);
        EXPECT_GT(st.amplification_held, 0u);
    }
}

// With the limit, a client that pads its HELLO is answered at once; one that
// does not still completes (each copy of its HELLO raises the allowance).
TEST(Amplification, PaddedHelloIsAnsweredAtOnce) {
    for (std::uint16_t pad : {std::uint16_t{0}, std::uint16_t{256}}) {
        SCOPED_TRACE(pad);
        Sim sim({.policy = Policy::tolerant});
        sim.server_cfg().amplification_limit = 3;
        sim.client_cfg().hello_pad_to = pad;
        sim.client_cfg().timers.resend_timeout = std::chrono::milliseconds(1000);
        sim.build();
        ASSERT_TRUE(sim.handshake());
        EXPECT_EQ(sim.se().stats().amplification_held > 0, pad == 0);
        EXPECT_EQ(sim.ce().stats().retransmissions > 0, pad == 0);
        EXPECT_EQ(sim.exchange(2), 2);
    }
}

// A retransmission the amplification limit holds back is not a resend: the
// server neither counts it toward resend_exhausted nor retries at once, and
// waits for the client's next copy of its HELLO (which raises the allowance).
TEST(Amplification, HeldRetransmissionsDoNotCount) {
    Sim sim({.policy = Policy::tolerant});
    sim.server_cfg().amplification_limit = 3;
    sim.server_cfg().timers.resend_timeout = std::chrono::milliseconds(200);
    sim.client_cfg().hello_pad_to = 0;  // its HELLO ACK does not fit at first
    sim.client_cfg().timers.resend_timeout = std::chrono::milliseconds(1500);
    sim.build();
    ASSERT_TRUE(sim.handshake()) << "server closed: " << sim.server().closed << " "
                                 << err_name(sim.server().closed_event.error) << ", held "
                                 << sim.se().stats().amplification_held;
    EXPECT_GT(sim.se().stats().amplification_held, 0u);
    EXPECT_LE(sim.se().stats().amplification_held, 10u);  // one per timer period, no spinning
    EXPECT_FALSE(sim.server().closed);
    EXPECT_EQ(sim.exchange(2), 2);
}

// A COOKIE answering our HELLO makes the client send it again at once behind
// the cookie; one answering another c0 is dropped.
TEST(Cookie, ClientAnswersOnlyACookieForItsHello) {
    Sim sim({.policy = Policy::tolerant});
    bool first = true;
    sim.hook = [&](Dir d, Buf& b) {
        if (d == Dir::c2s && b[0] == 0x01 && first) {  // the first HELLO never arrives
            first = false;
            return Verdict::drop;
        }
        return Verdict::deliver;
    };
    sim.build();
    sim.start();
    const std::uint32_t c0 = hello_seq(first_of(sim, Dir::c2s, 0x01));
    auto cookie = [](std::uint32_t ack) {
        Buf b{0x03, static_cast<std::uint8_t>(ack >> 24), static_cast<std::uint8_t>(ack >> 16),
              static_cast<std::uint8_t>(ack >> 8), static_cast<std::uint8_t>(ack), 4, 0xc0, 0x0c, 0x1e, 0x55};
        return b;
    };
    sim.inject(Dir::s2c, cookie(c0 + 1));
    sim.run_until([] { return false; }, 10);
    EXPECT_EQ(sim.ce().stats().retransmissions, 0u);
    sim.inject(Dir::s2c, cookie(c0));
    ASSERT_TRUE(sim.run_until([&] { return sim.client().handshakes == 1; }, 500));
    const Buf with_cookie = first_of(sim, Dir::c2s, 0x04);
    ASSERT_FALSE(with_cookie.empty());
    EXPECT_EQ(with_cookie[1], 4);  // the cookie, sent back as it came
    EXPECT_EQ(with_cookie[2], 0xc0);
    EXPECT_EQ(sim.exchange(1), 1);
}

}  // namespace
}  // namespace lockstep::sim
