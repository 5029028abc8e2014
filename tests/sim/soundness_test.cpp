// SPDX-License-Identifier: Apache-2.0
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
#include "record/record.hpp"

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

class Log final : public InsecureKeyLog {
public:
    std::multimap<std::string, Buf> items;
    void on_secret(const char* label, std::uint32_t, std::span<const std::uint8_t> v) noexcept override {
        items.emplace(label, Buf(v.begin(), v.end()));
    }
    Buf first(const std::string& label) const {
        auto it = items.find(label);
        return it == items.end() ? Buf{} : it->second;
    }
};

// One psk-only connection (handshake, a re-key) with the client's key log.
Log psk_only_connection(std::uint64_t seed) {
    Log log;
    Sim sim({.mode = Mode::psk_only, .seed = seed});
    sim.client_cfg().insecure_key_log = &log;
    sim.server_cfg().rekey.after_responses = 1;
    sim.build();
    EXPECT_TRUE(sim.handshake());
    EXPECT_EQ(sim.exchange(2), 2);
    EXPECT_GE(sim.client().rekeys, 1);
    return log;
}

// Two psk-only connections under one PSK share no secret below the PSK: the
// key log (or a memory dump) of one opens nothing of the other (spec §5.1, §11.11).
TEST(PskOnly, OneConnectionsSecretsDoNotOpenAnother) {
    const Log a = psk_only_connection(11), b = psk_only_connection(12);
    for (const char* label : {"handshake secret", "master secret", "rekey master secret", "c hs traffic",
                              "c ap traffic", "rekey c ap traffic"}) {
        SCOPED_TRACE(label);
        ASSERT_FALSE(a.first(label).empty());
        EXPECT_NE(a.first(label), b.first(label));
    }
}

// A psk-mode re-key mixes a PSK-derived key in: master(n) and the re-key's
// ECDHE output (all a man in the middle who stole master(n) could have) do
// not give master(n+1); with the PSK they do (spec §5.6).
TEST(PskRekey, MasterNWithoutThePskIsNotEnough) {
    for (Mode m : {Mode::psk, Mode::cert_psk}) {
        SCOPED_TRACE(mode_name(m));
        Log log;
        Sim sim({.mode = m});
        sim.client_cfg().insecure_key_log = &log;
        sim.server_cfg().rekey.after_responses = 1;
        sim.build();
        ASSERT_TRUE(sim.handshake());
        ASSERT_EQ(sim.exchange(2), 2);
        ASSERT_GE(sim.client().rekeys, 1);
        const Buf m1 = log.first("master secret"), ecdhe = log.first("rekey ecdhe"),
                  m2 = log.first("rekey master secret");
        ASSERT_EQ(m1.size(), 32u);
        ASSERT_EQ(ecdhe.size(), 32u);
        crypto::openssl::OpenSslProvider p;
        auto without = [&](ConstBytes ikm) {
            keys::MasterSecret ms;
            std::memcpy(ms.s.data(), m1.data(), 32);
            auto next = keys::next_epoch(p, std::move(ms), ikm);
            EXPECT_TRUE(next);
            return Buf(next->s.data(), next->s.data() + 32);
        };
        EXPECT_NE(without(ecdhe), m2);  // the attacker's guess fails
        auto early = keys::early_secret(p, test_psk());
        ASSERT_TRUE(early);
        keys::Secret32 rk;
        ASSERT_TRUE(keys::expand_label(p, early->s.span(), "rekey psk", {}, rk.span()));
        Buf ikm = ecdhe;
        ikm.insert(ikm.end(), rk.data(), rk.data() + 32);
        EXPECT_EQ(without(ikm), m2);  // the PSK holder's succeeds
    }
}

// A tolerant pair with the client's key log on, the server re-keying after
// every response, one exchange done.
class HealingRekey : public ::testing::Test {
protected:
    void SetUp() override {
        sim.client_cfg().insecure_key_log = &log;
        sim.server_cfg().rekey.after_responses = 1;
        sim.build();
        ASSERT_TRUE(sim.handshake());
        ASSERT_EQ(sim.exchange(1), 1);
    }
    // An attacker's request under the stolen epoch-1 client key c_ap(1), numbered
    // as the server expects, as record number rn.
    Buf stolen_key_request(std::uint32_t rn) {
        wire::Inner m;
        m.type = MsgType::data_request;
        m.seq = sim.server().received.back().seq + 1;
        m.ack = sim.server().sent.back().seq;
        m.ttl = sim.server().received.back().ttl;
        const Buf evil = {'o', 'p', 'e', 'n'};
        m.body = evil;
        return seal_with_secret(log.first("c ap traffic"), 1, rn, m);
    }
    Log log;
    Sim sim{{.policy = Policy::tolerant}};
};

// Healing: after a re-key the epoch-n client key (stolen) cannot inject a
// request, even while the client's first epoch n+1 record is held back.
TEST_F(HealingRekey, AnInjectedEpochNRequestAfterTheRekeyIsRefused) {
    bool hold = false;
    sim.hook = [&](Dir d, Buf&) { return hold && d == Dir::c2s ? Verdict::drop : Verdict::deliver; };
    sim.run_until([&] {
        hold = sim.server().rekeys == 1;
        return hold;
    });
    ASSERT_EQ(sim.server().rekeys, 1);
    const int requests = sim.server().requests;

    const Buf rec = stolen_key_request(40);
    ASSERT_FALSE(rec.empty());
    sim.inject(Dir::c2s, rec);
    sim.run_until([] { return false; }, 100);
    EXPECT_EQ(sim.server().requests, requests);
    EXPECT_NE(std::find(sim.server().faults.begin(), sim.server().faults.end(), Err::old_epoch),
              sim.server().faults.end());
    // A second try finds the key gone.
    sim.inject(Dir::c2s, rec);
    sim.run_until([] { return false; }, 100);
    EXPECT_EQ(sim.server().requests, requests);
}

// Healing, the one exception: the request outstanding at the re-key (sealed
// just before the client's re-key HELLO ACK) is held back. The HELLO ACK that
// overtakes it is out of sequence (dropped, not fatal); the client re-sends
// both and the server serves the request once and switches. The held original
// arriving after the switch is the one record the previous key still opens
// (record number below the HELLO ACK's): a late copy, executed no second time.
// The next previous-key record (a stolen key's) finds the key gone.
TEST_F(HealingRekey, TheRequestOutstandingAtTheRekeyIsServedOnceAndNothingAfterIt) {
    std::vector<Buf> held_s2c, held_c2s;
    bool hold = true;
    sim.hook = [&](Dir d, Buf& msg) {
        if (!hold) return Verdict::deliver;
        (d == Dir::s2c ? held_s2c : held_c2s).push_back(msg);
        return Verdict::drop;
    };
    // The server's re-key HELLO is held while the client's next request leaves.
    sim.run_until([&] { return !held_s2c.empty(); });
    ASSERT_EQ(held_s2c.size(), 1u);
    held_c2s.clear();
    ASSERT_TRUE(sim.ce().can_send_request());
    const Buf body = {'c', 'r', 'o', 's', 's'};
    ASSERT_TRUE(sim.ce().send_request(body, sim.now()));
    sim.run_until([&] { return !held_c2s.empty(); });
    ASSERT_EQ(held_c2s.size(), 1u);
    const Buf request = held_c2s.front();
    const std::size_t sent_before = sim.wire_log.size();
    hold = false;
    sim.inject(Dir::s2c, held_s2c.front());
    ASSERT_TRUE(sim.run_until([&] { return sim.server().rekeys == 1 && sim.client().responses == 2; }, 5'000));
    EXPECT_EQ(sim.server().requests, 2);
    EXPECT_EQ(sim.client().last_response, Buf({'r', 'e', ':', 'c', 'r', 'o', 's', 's'}));

    // The held request was sealed just before the client's first HELLO ACK.
    const Buf* hello_ack = nullptr;
    for (std::size_t i = sent_before; i < sim.wire_log.size() && hello_ack == nullptr; ++i)
        if (sim.wire_log[i].dir == Dir::c2s) hello_ack = &sim.wire_log[i].bytes;
    ASSERT_NE(hello_ack, nullptr);
    auto req_rec = wire::decode_record(request, 0);
    auto ack_rec = wire::decode_record(*hello_ack, 0);
    ASSERT_TRUE(req_rec && ack_rec);
    EXPECT_EQ(req_rec->header.epoch, 1);
    EXPECT_EQ(ack_rec->header.epoch, 1);
    EXPECT_EQ(req_rec->header.rn + 1, ack_rec->header.rn);

    // The held original now: opened under the previous key, not executed again.
    std::size_t faults = sim.server().faults.size();
    sim.inject(Dir::c2s, request);
    sim.run_until([] { return false; }, 100);
    EXPECT_EQ(sim.server().requests, 2);
    EXPECT_FALSE(sim.server().closed);
    ASSERT_GT(sim.server().faults.size(), faults);
    EXPECT_EQ(sim.server().faults.back(), Err::replay);

    // Another previous-key record after it: the key is gone.
    faults = sim.server().faults.size();
    sim.inject(Dir::c2s, stolen_key_request(req_rec->header.rn - 1));
    sim.run_until([] { return false; }, 100);
    EXPECT_EQ(sim.server().requests, 2);
    ASSERT_GT(sim.server().faults.size(), faults);
    EXPECT_EQ(sim.server().faults.back(), Err::old_epoch);
    EXPECT_FALSE(sim.server().closed);
}

// A PSK store that hands out a key shorter than 16 bytes: refused like an
// unknown identity (a PSK carries >= 128 bits, spec §6.7).
TEST(PskEntropy, AStoresShortKeyCountsAsNone) {
    class ShortStore final : public PskStore {
    public:
        std::span<const std::uint8_t> find(std::span<const std::uint8_t>) const noexcept override {
            return std::span<const std::uint8_t>(test_psk()).first(15);
        }
    } store;
    Sim sim({.mode = Mode::psk});
    sim.server_cfg().psk_store = &store;
    sim.build();
    sim.start();
    sim.run_until([&] { return sim.client().closed; });
    EXPECT_TRUE(sim.client().closed);
    EXPECT_EQ(sim.server().handshakes, 0);
    EXPECT_NE(std::find(sim.server().faults.begin(), sim.server().faults.end(), Err::unknown_psk),
              sim.server().faults.end());
}

// cert+psk is one identity: the client certificate's subject must be the
// psk_id of its HELLO (spec §7.4); a certificate of another subject is refused.
TEST(CertPsk, TheCertificateSubjectMustBeThePskId) {
    static const Buf other_id = {'d', 'e', 'v', '-', '2'};
    class TwoIds final : public PskStore {
    public:
        std::span<const std::uint8_t> find(std::span<const std::uint8_t>) const noexcept override { return test_psk(); }
    } store;
    for (bool match : {true, false}) {
        SCOPED_TRACE(match);
        Sim sim({.mode = Mode::cert_psk});
        sim.server_cfg().psk_store = &store;
        if (!match) sim.client_cfg().psk_id = other_id;  // the certificate says device-1
        sim.build();
        sim.start();
        sim.run_until([&] { return sim.client().closed || (sim.client().handshakes == 1 && sim.server().handshakes == 1); });
        if (match) {
            EXPECT_EQ(sim.server().handshakes, 1);
            const auto subj = sim.se().peer_subject();
            EXPECT_EQ(Buf(subj.begin(), subj.end()), test_psk_id());
        } else {
            EXPECT_EQ(sim.server().handshakes, 0);
            EXPECT_TRUE(sim.client().closed);
            EXPECT_EQ(sim.client().closed_event.reason, Reason::bad_certificate);
        }
    }
}

// The certificate cache is consulted only after the transcript signature
// verified: a replayed certificate of a recent client with a signature its
// sender could not make learns nothing from hit-or-miss timing (spec §7.4).
TEST(CertCacheOrder, NoLookupBeforeTheTranscriptSignature) {
    class Counting final : public CertCache {
    public:
        FixedCertCache<8> inner;
        mutable int lookups = 0;
        bool contains(const Digest& d) const noexcept override {
            ++lookups;
            return inner.contains(d);
        }
        void insert(const Digest& d) noexcept override { inner.insert(d); }
    } cache;
    {
        Sim sim;
        sim.server_cfg().cert_cache = &cache;
        sim.build();
        ASSERT_TRUE(sim.handshake());
        EXPECT_EQ(cache.lookups, 1);
        EXPECT_EQ(cache.inner.size(), 1u);
    }
    // The same (public) client certificate, signed with another key.
    auto impostor = fixed_ed25519_signer(0x33);
    Sim sim;
    sim.server_cfg().cert_cache = &cache;
    sim.client_cfg().signer = impostor.get();
    sim.build();
    sim.start();
    sim.run_until([&] { return sim.client().closed; });
    EXPECT_EQ(sim.server().handshakes, 0);
    EXPECT_EQ(cache.lookups, 1);  // refused before any lookup
    EXPECT_NE(std::find(sim.server().faults.begin(), sim.server().faults.end(), Err::bad_signature),
              sim.server().faults.end());
}

}  // namespace
}  // namespace lockstep::sim
