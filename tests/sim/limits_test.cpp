// SPDX-License-Identifier: Apache-2.0
// Limits that fire: per-key record, byte and failed-authentication limits
// (the server re-keys at half, either side closes at a limit), the ttl window
// (a far-future ttl is refused), the relative ttl's lifetime before it could
// wrap, and no fallback to a smaller offer.
// spec: PROTOCOL.md §3.6, §6.7, §8.3, §11.6
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "../support/sim.hpp"
#include "record/record.hpp"

namespace lockstep::sim {
namespace {

bool has_fault(const Endpoint& ep, Err e) { return std::find(ep.faults.begin(), ep.faults.end(), e) != ep.faults.end(); }

TEST(KeyLimits, TheSuitesOwnAndLowerConfiguredOnes) {
    const auto gcm = record::key_limits(Suite::aes256gcm, {});
    EXPECT_EQ(gcm.records, std::uint64_t{1} << 24);
    EXPECT_EQ(gcm.bytes, std::uint64_t{1} << 38);
    EXPECT_EQ(record::key_limits(Suite::aes256gcm_hmac_sha512, {}).records, gcm.records);
    const auto chacha = record::key_limits(Suite::chacha20poly1305, {});
    EXPECT_EQ(chacha.records, record::kRnHardLimit);
    for (Suite s : {Suite::aes256gcm, Suite::chacha20poly1305, Suite::aes256gcm_hmac_sha512})
        EXPECT_EQ(record::key_limits(s, {}).failed_opens, 0xffffffffu);
    // Lower values apply, higher ones do not raise the suite's.
    const auto low = record::key_limits(Suite::aes256gcm, {.records_log2 = 4, .bytes_log2 = 40});
    EXPECT_EQ(low.records, 16u);
    EXPECT_EQ(low.bytes, gcm.bytes);
}

TEST(KeyLimits, RecordLimitForcesARekeyInEverySuite) {
    for (Suite s : {Suite::aes256gcm, Suite::chacha20poly1305, Suite::aes256gcm_hmac_sha512}) {
        SCOPED_TRACE(suite_name(s));
        Sim sim({.suite = s});
        for (Config* c : {&sim.client_cfg(), &sim.server_cfg()}) {
            c->suites = {s};
            c->rekey.after_responses = 0;  // only the limit re-keys
            c->key_limits.records_log2 = 4;  // 16
        }
        sim.build();
        ASSERT_TRUE(sim.handshake());
        EXPECT_EQ(sim.exchange(20), 20);
        EXPECT_GE(sim.server().rekeys, 2);
        EXPECT_FALSE(sim.client().closed);
    }
}

TEST(KeyLimits, ByteLimitForcesARekey) {
    Sim sim;
    for (Config* c : {&sim.client_cfg(), &sim.server_cfg()}) {
        c->rekey.after_responses = 0;
        c->key_limits.bytes_log2 = 12;  // 4096
    }
    sim.build();
    ASSERT_TRUE(sim.handshake());
    EXPECT_EQ(sim.exchange(20, 200), 20);  // ~500 bytes per exchange: > 8 epochs' worth
    EXPECT_GE(sim.server().rekeys, 2);
}

// No re-key comes (the server's limits are the suite's): the client stops at
// its own limit and closes with limit_exceeded, which the server learns.
TEST(KeyLimits, WithoutARekeyTheSenderClosesAtItsLimit) {
    Sim sim;
    sim.server_cfg().rekey.after_responses = 0;
    sim.client_cfg().key_limits.records_log2 = 3;  // 8
    sim.build();
    ASSERT_TRUE(sim.handshake());
    EXPECT_LT(sim.exchange(10), 10);
    sim.run_until([&] { return sim.client().closed && sim.server().closed; });
    ASSERT_TRUE(sim.client().closed);
    EXPECT_EQ(sim.client().closed_event.error, Err::limit_exceeded);
    ASSERT_TRUE(sim.server().closed);
    EXPECT_EQ(sim.server().closed_event.reason, Reason::limit_exceeded);
    EXPECT_TRUE(sim.server().closed_event.by_peer);
}

// At a suite's record limit only a closing message may still be sealed (the
// reserve); the sealer itself refuses past the reserve, so a nonce never repeats.
TEST(KeyLimits, TheCloseReserveEndsBeforeTheNonceSpace) {
    crypto::openssl::OpenSslProvider p;
    record::DirectionKeys k;
    ASSERT_TRUE(record::derive(p, Suite::chacha20poly1305, 1, Buf(32, 0x77), k));
    const auto l = record::key_limits(Suite::chacha20poly1305, {});
    k.next_rn = static_cast<std::uint32_t>(l.records);
    auto data = record::may_seal(k, l, 0, 64, false);
    ASSERT_FALSE(data);
    EXPECT_EQ(data.error(), Err::limit_exceeded);
    EXPECT_TRUE(record::may_seal(k, l, 0, 64, true));
    const Buf inner(24, 0x01);
    Buf rec(128);
    EXPECT_TRUE(record::seal_record(p, k, inner, rec));  // the reserve's first record
    k.next_rn = static_cast<std::uint32_t>(record::kRnHardLimit + record::kCloseReserveRecords);
    EXPECT_FALSE(record::may_seal(k, l, 0, 64, true));
    auto past = record::seal_record(p, k, inner, rec);
    ASSERT_FALSE(past);
    EXPECT_EQ(past.error(), Err::limit_exceeded);
}

// A record with a valid header and a wrong tag, as anyone can send.
Buf forgery(std::uint8_t epoch, std::uint32_t rn) {
    crypto::openssl::OpenSslProvider p;
    record::DirectionKeys k;
    const Buf secret(32, 0x77);
    EXPECT_TRUE(record::derive(p, Suite::aes256gcm, epoch, secret, k));
    k.next_rn = rn;
    const Buf inner(24, 0x01);
    Buf rec(128);
    auto n = record::seal_record(p, k, inner, rec);
    EXPECT_TRUE(n);
    rec.resize(*n);
    return rec;
}

// Forgeries are dropped (tolerant policy), but counted per receive key: at
// half the integrity limit the server re-keys (a new key, a new count) ...
TEST(KeyLimits, ForgeriesPastHalfTheIntegrityLimitMakeTheServerRekey) {
    Sim sim({.policy = Policy::tolerant});
    sim.server_cfg().rekey.after_responses = 0;
    sim.server_cfg().key_limits.failed_opens_log2 = 3;  // 8: re-key at 4
    sim.build();
    ASSERT_TRUE(sim.handshake());
    ASSERT_EQ(sim.exchange(1), 1);
    for (std::uint32_t i = 0; i < 6; ++i) sim.inject(Dir::c2s, forgery(1, 30 + i));
    sim.run_until([] { return false; }, 50);
    EXPECT_FALSE(sim.server().closed);
    EXPECT_EQ(sim.exchange(3), 4);
    EXPECT_EQ(sim.server().rekeys, 1);
    EXPECT_FALSE(sim.server().closed);
}

// ... and a receiver that cannot re-key closes at the limit rather than let
// one key face more forgeries than its suite allows.
TEST(KeyLimits, ForgeriesUpToTheIntegrityLimitCloseTheClient) {
    Sim sim({.policy = Policy::tolerant});
    sim.client_cfg().key_limits.failed_opens_log2 = 2;  // 4
    sim.build();
    ASSERT_TRUE(sim.handshake());
    ASSERT_EQ(sim.exchange(1), 1);
    for (std::uint32_t i = 0; i < 3; ++i) sim.inject(Dir::s2c, forgery(1, 30 + i));
    sim.run_until([] { return false; }, 50);
    EXPECT_FALSE(sim.client().closed);  // below the limit: dropped, nothing else
    sim.inject(Dir::s2c, forgery(1, 40));
    sim.run_until([&] { return sim.client().closed; });
    ASSERT_TRUE(sim.client().closed);
    EXPECT_EQ(sim.client().closed_event.error, Err::limit_exceeded);
}

class Log final : public InsecureKeyLog {
public:
    std::multimap<std::string, Buf> items;
    void on_secret(const char* label, std::uint32_t, std::span<const std::uint8_t> v) noexcept override {
        items.emplace(label, Buf(v.begin(), v.end()));
    }
};

// A DATA REQUEST under the client's key with a chosen ttl (a stolen key, or a
// client whose clock is far ahead).
Buf request_with_ttl(Sim& sim, const Log& log, std::uint32_t ttl, std::uint32_t rn) {
    wire::Inner m;
    m.type = MsgType::data_request;
    const TraceEntry& last = sim.server().received.back();  // the DATA ACK: seq advanced by its nonce (R5)
    m.seq = last.seq + 1 + (last.has_nonce ? last.nonce : 0);
    m.ack = sim.server().sent.back().seq;
    m.ttl = ttl;
    static const Buf body = {'t', 't', 'l'};
    m.body = body;
    return seal_with_secret(log.items.find("c ap traffic")->second, 1, rn, m);
}

TEST(Ttl, AFarFutureTtlIsRefused) {
    for (std::int64_t ahead_s : {std::int64_t{20}, std::int64_t{3600}}) {
        SCOPED_TRACE(ahead_s);
        Log log;
        Sim sim;
        sim.client_cfg().insecure_key_log = &log;
        sim.build();
        ASSERT_TRUE(sim.handshake());
        ASSERT_EQ(sim.exchange(1), 1);
        sim.run_until([] { return false; }, 50);  // the DATA ACK arrives
        const int requests = sim.server().requests;
        const auto ttl = static_cast<std::uint32_t>(sim.now().wall.seconds() + ahead_s);
        sim.inject(Dir::c2s, request_with_ttl(sim, log, ttl, 40));
        sim.run_until([] { return false; }, 50);
        if (ahead_s == 20) {  // within ttl_lifetime: the crafted request is genuine
            EXPECT_EQ(sim.server().requests, requests + 1);
        } else {  // an hour ahead: beyond kMaxTtlLifetime + clock_skew
            EXPECT_EQ(sim.server().requests, requests);
            EXPECT_TRUE(has_fault(sim.server(), Err::expired));
            EXPECT_EQ(sim.server().closed_event.error, Err::expired);
        }
    }
}

TEST(Ttl, ALifetimeBeyondTheMaximumIsRefusedAtConstruction) {
    Sim sim;
    sim.client_cfg().timers.ttl_lifetime = kMaxTtlLifetime + milliseconds(1);
    sim.build();
    EXPECT_EQ(sim.ce().state(), State::closed);
    EXPECT_FALSE(sim.ce().start(sim.now()));
}

// A relative-ttl connection ends (limit_exceeded) at 2^31 ms of age, long
// before its u32 ttl could wrap; until then it serves.
TEST(Ttl, ARelativeTtlConnectionEndsBeforeTheTtlWraps) {
    Sim sim({.ttl = TtlMode::relative});
    for (Config* c : {&sim.client_cfg(), &sim.server_cfg()}) c->timers.receive_timeout = milliseconds(40LL * 86'400'000);
    sim.build();
    ASSERT_TRUE(sim.handshake());
    ASSERT_EQ(sim.exchange(1), 1);
    sim.run_until([] { return false; }, 50);  // the DATA ACK arrives
    sim.advance((std::int64_t{1} << 31) - 60'000);
    ASSERT_EQ(sim.exchange(1), 2) << "client closed " << sim.client().closed << " err "
                                   << static_cast<int>(sim.client().closed_event.error) << " server faults "
                                   << (sim.server().faults.empty() ? -1 : static_cast<int>(sim.server().faults[0])) << " reason " << static_cast<int>(sim.client().closed_event.reason) << " client faults " << sim.client().faults.size();
    sim.run_until([] { return false; }, 50);
    sim.advance(60'000);
    EXPECT_EQ(sim.exchange(1), 2);
    sim.run_until([&] { return sim.server().closed; });
    ASSERT_TRUE(sim.server().closed);
    EXPECT_EQ(sim.server().closed_event.error, Err::limit_exceeded);
}

// A body over the receiver's max_data is fatal (too_long) under both
// policies (spec §8.6 step 3), not a recoverable fault on datagrams.
TEST(MaxData, AnOverLongBodyIsFatalUnderEveryPolicy) {
    for (Policy pol : {Policy::strict, Policy::tolerant}) {
        SCOPED_TRACE(static_cast<int>(pol));
        Sim sim({.policy = pol});
        sim.server_cfg().max_data = 1000;
        sim.client_cfg().max_data = 2000;
        sim.build();
        ASSERT_TRUE(sim.handshake());
        EXPECT_EQ(sim.exchange(1, 1500), 0);
        sim.run_until([&] { return sim.server().closed; });
        ASSERT_TRUE(sim.server().closed);
        EXPECT_EQ(sim.server().closed_event.error, Err::too_long);
        EXPECT_EQ(sim.server().requests, 0);
    }
}

// No fallback (spec §3.6): a failed handshake is final; the engine does not
// retry with a smaller offer, and a closed engine cannot be restarted.
TEST(NoFallback, AFailedHandshakeIsFinal) {
    Sim sim({.mode = Mode::psk});
    sim.server_cfg().modes = {Mode::psk_only};
    sim.build();
    sim.start();
    sim.run_until([&] { return sim.client().closed; });
    ASSERT_TRUE(sim.client().closed);
    int hellos = 0;
    for (const Packet& p : sim.wire_log) hellos += p.dir == Dir::c2s && p.bytes.at(0) == 0x01;
    EXPECT_EQ(hellos, 1);
    EXPECT_FALSE(sim.ce().start(sim.now()));
}

// The received RESEND LAST count (2 * max_resends, up to 510) is wider than a
// byte: with max_resends 200 the 400 in a row a peer may send (here forged
// with its stolen key, acknowledging what we hold) are all taken, silently,
// and the 401st closes with resend_exhausted.
TEST(ResendLimit, ReceivedResendLastsCountPast255AndStopAtTwiceTheLimit) {
    Log log;
    Sim sim({.policy = Policy::tolerant});
    for (Config* c : {&sim.client_cfg(), &sim.server_cfg()}) c->timers.max_resends = 200;
    sim.client_cfg().insecure_key_log = &log;
    sim.build();
    ASSERT_TRUE(sim.handshake());
    ASSERT_EQ(sim.exchange(1), 1);
    sim.run_until([] { return false; }, 50);
    ASSERT_EQ(sim.se().state(), State::idle);
    const Stats before = sim.se().stats();
    wire::Inner m;
    m.type = MsgType::resend_last;
    m.seq = sim.server().received.back().seq;  // nothing of the client's missing
    m.ack = sim.server().sent.back().seq;      // nothing of the server's missing
    m.ttl = sim.server().received.back().ttl;
    ASSERT_EQ(log.items.count("c ap traffic"), 1u);
    const Buf secret = log.items.find("c ap traffic")->second;
    auto send = [&](std::uint32_t from, std::uint32_t n) {
        for (std::uint32_t i = 0; i < n; ++i) sim.inject(Dir::c2s, seal_with_secret(secret, 1, 1000 + from + i, m));
        sim.run_until([] { return false; }, 1);
    };
    send(0, 300);
    EXPECT_FALSE(sim.server().closed);
    EXPECT_FALSE(has_fault(sim.server(), Err::resend_exhausted));
    send(300, 100);  // 400 = 2 * max_resends
    EXPECT_FALSE(sim.server().closed);
    EXPECT_FALSE(has_fault(sim.server(), Err::resend_exhausted));
    EXPECT_EQ(sim.se().state(), State::idle);
    EXPECT_EQ(sim.se().stats().resend_lasts_sent, before.resend_lasts_sent);
    EXPECT_EQ(sim.se().stats().retransmissions, before.retransmissions);
    send(400, 1);
    EXPECT_TRUE(has_fault(sim.server(), Err::resend_exhausted));
    EXPECT_NE(sim.se().state(), State::idle);
}

}  // namespace
}  // namespace lockstep::sim
