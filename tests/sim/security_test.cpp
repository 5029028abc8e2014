// SPDX-License-Identifier: Apache-2.0
// Active-attacker properties checked in simulation: downgrade, replay (within
// and across connections and epochs), identity misbinding, bit flips, and the
// s0 MAC checked before any public-key work.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "../support/sim.hpp"

namespace lockstep::sim {
namespace {

const Mode kModes[] = {Mode::cert, Mode::psk, Mode::cert_psk, Mode::psk_only};

// Offsets in HELLO: frame, vec8 versions, vec8 suites, vec8 modes ...
struct HelloLists {
    std::size_t suites_at, modes_at;
};
HelloLists hello_lists(const Buf& h) {
    const std::size_t versions_at = 1;
    const std::size_t suites_at = versions_at + 1 + h[versions_at];
    const std::size_t modes_at = suites_at + 1 + h[suites_at];
    return {suites_at, modes_at};
}
// Remove the first entry of the vec8 list at `at`.
void drop_first(Buf& b, std::size_t at) {
    b.erase(b.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    --b[at];
}

void expect_no_session(Sim& sim) {
    sim.run_until([&] { return sim.client().closed && sim.server().closed; });
    EXPECT_EQ(sim.client().handshakes, 0);
    EXPECT_EQ(sim.server().handshakes, 0);
    EXPECT_TRUE(sim.client().closed);
    EXPECT_TRUE(sim.server().closed);
}

// S2: a man in the middle removes the best suite from the client's list.
TEST(Downgrade, RemovingTheClientsBestSuiteIsDetectedInEveryMode) {
    for (Mode m : kModes) {
        SCOPED_TRACE(mode_name(m));
        Sim sim({.mode = m});
        sim.client_cfg().suites = {Suite::aes256gcm, Suite::chacha20poly1305};
        sim.hook = [](Dir d, Buf& b) {
            if (d == Dir::c2s && b[0] == 0x01) drop_first(b, hello_lists(b).suites_at);
            return Verdict::deliver;
        };
        sim.build();
        sim.start();
        expect_no_session(sim);
    }
}

// S2: a man in the middle removes the best mode (cert+psk) from the client's list.
TEST(Downgrade, RemovingTheClientsBestModeIsDetected) {
    Sim sim({.mode = Mode::cert_psk});
    sim.client_cfg().modes = {Mode::cert_psk, Mode::cert};
    sim.server_cfg().modes = {Mode::cert_psk, Mode::cert};
    sim.hook = [](Dir d, Buf& b) {
        if (d == Dir::c2s && b[0] == 0x01) drop_first(b, hello_lists(b).modes_at);
        return Verdict::deliver;
    };
    sim.build();
    sim.start();
    expect_no_session(sim);
}

// S2: a man in the middle removes a suite from the server's list in HELLO ACK.
TEST(Downgrade, RemovingFromTheServersListIsDetectedInEveryMode) {
    for (Mode m : kModes) {
        SCOPED_TRACE(mode_name(m));
        Sim sim({.mode = m});
        sim.hook = [](Dir d, Buf& b) {
            // HELLO ACK: frame, version, suite, mode, flags, vec8 versions, vec8 suites ...
            if (d == Dir::s2c && b[0] == 0x02) drop_first(b, 5 + 1 + b[5]);
            return Verdict::deliver;
        };
        sim.build();
        sim.start();
        expect_no_session(sim);
    }
}

// S2: the chosen suite rewritten in HELLO ACK.
TEST(Downgrade, RewritingTheChosenSuiteIsDetectedInEveryMode) {
    for (Mode m : kModes) {
        SCOPED_TRACE(mode_name(m));
        Sim sim({.mode = m});
        sim.client_cfg().suites = {Suite::aes256gcm, Suite::chacha20poly1305};
        sim.hook = [](Dir d, Buf& b) {
            if (d == Dir::s2c && b[0] == 0x02) b[2] = static_cast<std::uint8_t>(Suite::chacha20poly1305);
            return Verdict::deliver;
        };
        sim.build();
        sim.start();
        expect_no_session(sim);
    }
}

// The server may only choose what the client offered.
TEST(Downgrade, AChoiceOutsideTheOfferIsRefused) {
    Sim sim({.mode = Mode::cert});
    sim.hook = [](Dir d, Buf& b) {
        if (d == Dir::s2c && b[0] == 0x02) b[2] = static_cast<std::uint8_t>(Suite::aes256gcm_hmac_sha512);
        return Verdict::deliver;
    };
    sim.build();
    sim.start();
    expect_no_session(sim);
    EXPECT_EQ(sim.client().faults.front(), Err::downgrade);
}

// Property 8: with a PSK the server checks the s0 MAC before any public-key work.
TEST(Dos, BadHelloMacCostsTheServerNoPublicKeyOperation) {
    Sim sim({.mode = Mode::cert_psk});
    sim.hook = [](Dir d, Buf& b) {
        if (d == Dir::c2s && b[0] == 0x01) b[b.size() - 1] ^= 0x80;  // last MAC byte
        return Verdict::deliver;
    };
    sim.build();
    sim.start();
    sim.run_until([&] { return sim.server().closed; });
    EXPECT_EQ(sim.server().closed_event.reason, Reason::bad_mac);
    EXPECT_EQ(sim.server_provider().x25519_ops, 0);
    EXPECT_EQ(sim.server_provider().keygens, 0);
    EXPECT_EQ(sim.server_provider().verifies, 0);
}

TEST(Replay, SameRecordTwiceCloses) {
    Sim sim;
    sim.build();
    ASSERT_TRUE(sim.handshake());
    ASSERT_EQ(sim.exchange(2), 2);
    Buf rec;
    for (const auto& p : sim.wire_log)
        if (p.dir == Dir::c2s && p.bytes[0] == 0x17 && p.bytes[1] == 1) rec = p.bytes;
    sim.inject(Dir::c2s, rec);
    sim.run_until([&] { return sim.server().closed || !sim.server().faults.empty(); }, 1000);
    ASSERT_FALSE(sim.server().faults.empty());
    EXPECT_EQ(sim.server().faults.front(), Err::replay);
}

TEST(Replay, RecordFromAnotherConnectionIsRejected) {
    Sim a({.seed = 11}), b({.seed = 12});
    a.build();
    b.build();
    ASSERT_TRUE(a.handshake());
    ASSERT_TRUE(b.handshake());
    ASSERT_EQ(a.exchange(1), 1);
    Buf rec;
    for (const auto& p : a.wire_log)
        if (p.dir == Dir::c2s && p.bytes[0] == 0x17 && p.bytes[1] == 1) {
            rec = p.bytes;
            break;
        }
    b.inject(Dir::c2s, rec);
    b.run_until([&] { return !b.server().faults.empty(); }, 1000);
    ASSERT_FALSE(b.server().faults.empty());
    EXPECT_EQ(b.server().faults.front(), Err::bad_mac);
    EXPECT_EQ(b.server().requests, 0);
}

TEST(Replay, ReplayedHelloToANewServerNeverEstablishes) {
    for (Mode m : kModes) {
        SCOPED_TRACE(mode_name(m));
        Sim a({.mode = m, .seed = 21});
        a.build();
        ASSERT_TRUE(a.handshake());
        Buf hello = a.wire_log.front().bytes;
        ASSERT_EQ(hello[0], 0x01);
        Sim b({.mode = m, .seed = 22});
        b.build();
        (void)b.se().start(b.now());
        b.hook = [](Dir d, Buf&) { return d == Dir::s2c ? Verdict::drop : Verdict::deliver; };
        b.inject(Dir::c2s, hello);
        b.run_until([&] { return b.server().closed; });
        EXPECT_EQ(b.server().handshakes, 0);
        EXPECT_TRUE(b.server().closed);
    }
}

// An insider with a valid client certificate cannot attach its identity to
// another client's handshake: its ACK is not under that handshake's keys.
TEST(Misbinding, InsiderCannotClaimAnotherClientsHandshake) {
    // Connection 1: honest client; its ACK is replaced by the insider's ACK
    // taken from the insider's own handshake with the same server key.
    Sim insider({.seed = 31});
    insider.build();
    ASSERT_TRUE(insider.handshake());
    Buf insider_ack;
    for (const auto& p : insider.wire_log)
        if (p.dir == Dir::c2s && p.bytes[0] == 0x17) {
            insider_ack = p.bytes;
            break;
        }
    Sim sim({.seed = 32});
    sim.hook = [&](Dir d, Buf& b) {
        if (d == Dir::c2s && b[0] == 0x17 && sim.server().handshakes == 0) b = insider_ack;
        return Verdict::deliver;
    };
    sim.build();
    sim.start();
    sim.run_until([&] { return sim.server().closed; });
    EXPECT_EQ(sim.server().handshakes, 0);
    EXPECT_EQ(sim.server().faults.front(), Err::bad_mac);
}

// A certificate from another CA, of the wrong role, or expired is refused.
TEST(Certificates, WrongCaWrongRoleExpiredAreRefused) {
    const Credentials& cr = Credentials::get();
    auto other_ca = crypto::openssl::OpenSslSigner::generate(crypto::SigAlg::ed25519);
    ASSERT_TRUE(other_ca);
    struct Case {
        const char* name;
        Buf cert;
        Err expect;
    } cases[] = {
        {"other CA", Credentials::issue(**other_ca, *cr.client_key, CertRole::client, "x", 1'700'000'000, 1'900'000'000),
         Err::cert_wrong_issuer},
        {"wrong role", Credentials::issue(*cr.ca_key, *cr.client_key, CertRole::server, "x", 1'700'000'000, 1'900'000'000),
         Err::cert_wrong_role},
        {"expired", Credentials::issue(*cr.ca_key, *cr.client_key, CertRole::client, "x", 1'600'000'000, 1'700'000'000),
         Err::cert_expired},
    };
    for (auto& c : cases) {
        SCOPED_TRACE(c.name);
        Sim sim;
        sim.client_cfg().certificate = c.cert;
        sim.build();
        sim.start();
        sim.run_until([&] { return sim.server().closed && sim.client().closed; });
        EXPECT_EQ(sim.server().handshakes, 0);
        ASSERT_FALSE(sim.server().faults.empty());
        EXPECT_EQ(sim.server().faults.front(), c.expect);
        EXPECT_EQ(sim.server().closed_event.reason, Reason::bad_certificate);
        // The client, already past its ACK, learns why: the CLOSE is sealed
        // under the epoch-1 keys of the transcript it sent, and it answers it.
        ASSERT_TRUE(sim.client().closed);
        EXPECT_TRUE(sim.client().closed_event.by_peer);
        EXPECT_EQ(sim.client().closed_event.reason, Reason::bad_certificate);
        EXPECT_TRUE(sim.client().closed_event.acknowledged);
        // The server sent that one CLOSE and is gone: no retries, no WAIT CLOSE
        // ACK for a sender it never authenticated.
        EXPECT_FALSE(sim.server().closed_event.acknowledged);
        EXPECT_EQ(std::count_if(sim.server().sent.begin(), sim.server().sent.end(),
                                [](const TraceEntry& t) { return t.type == MsgType::close; }),
                  1);
        EXPECT_EQ(sim.server().requests, 0);
    }
}

// A certificate cache (Config::cert_cache) saves the CA signature check of a
// certificate seen before, and nothing else.
TEST(Certificates, CacheSkipsOnlyTheCaSignatureOfAKnownCertificate) {
    FixedCertCache<8> cc, sc;
    auto handshake = [&](std::int64_t advance_ms) {
        auto sim = std::make_unique<Sim>();
        sim->client_cfg().cert_cache = &cc;
        sim->server_cfg().cert_cache = &sc;
        sim->build();
        sim->advance(advance_ms);
        return sim;
    };
    // First contact: both certificates verified in full (CA signature + transcript signature).
    auto s1 = handshake(0);
    ASSERT_TRUE(s1->handshake());
    EXPECT_EQ(s1->client_provider().verifies, 2);
    EXPECT_EQ(s1->server_provider().verifies, 2);
    EXPECT_EQ(cc.size(), 1u);
    EXPECT_EQ(sc.size(), 1u);
    // Again: only the transcript signatures.
    auto s2 = handshake(0);
    ASSERT_TRUE(s2->handshake());
    EXPECT_EQ(s2->client_provider().verifies, 1);
    EXPECT_EQ(s2->server_provider().verifies, 1);
    EXPECT_EQ(sc.size(), 1u);
    // Validity is still checked on a hit: past not_after (1 900 000 000) the same
    // certificates are refused.
    auto s3 = handshake(std::int64_t{200'000'000} * 1000);
    s3->start();
    s3->run_until([&] { return s3->client().closed && s3->server().closed; });
    EXPECT_EQ(s3->client().handshakes, 0);
    ASSERT_FALSE(s3->client().faults.empty());
    EXPECT_EQ(s3->client().faults.front(), Err::cert_expired);
    EXPECT_EQ(s3->client_provider().verifies, 0);  // the hit skipped the signature; the date did not pass
}

TEST(Certificates, FixedCacheKeepsTheLastN) {
    FixedCertCache<2> c;
    CertCache::Digest a{}, b{}, d{};
    a[0] = 1;
    b[0] = 2;
    d[31] = 3;
    c.insert(a);
    c.insert(a);  // no duplicate
    EXPECT_EQ(c.size(), 1u);
    c.insert(b);
    c.insert(d);  // replaces a, the oldest
    EXPECT_FALSE(c.contains(a));
    EXPECT_TRUE(c.contains(b));
    EXPECT_TRUE(c.contains(d));
    EXPECT_EQ(c.size(), 2u);
}

// A cache entry is for the exact bytes: a certificate with a forged CA
// signature is refused even when a genuine one with the same fields is cached.
TEST(Certificates, CacheDoesNotCoverAlteredCertificates) {
    FixedCertCache<8> sc;
    {
        Sim sim;
        sim.server_cfg().cert_cache = &sc;
        sim.build();
        ASSERT_TRUE(sim.handshake());
    }
    ASSERT_EQ(sc.size(), 1u);
    Buf forged = Credentials::get().client_cert;
    forged.back() ^= 0x01;  // the last byte of the CA signature
    Sim sim;
    sim.server_cfg().cert_cache = &sc;
    sim.client_cfg().certificate = forged;
    sim.build();
    sim.start();
    sim.run_until([&] { return sim.server().closed && sim.client().closed; });
    EXPECT_EQ(sim.server().handshakes, 0);
    ASSERT_FALSE(sim.server().faults.empty());
    EXPECT_EQ(sim.server().faults.front(), Err::bad_certificate);
    EXPECT_EQ(sc.size(), 1u);  // nothing added
}

// Any single bit flip in any message of a full exchange is rejected (strict).
TEST(BitFlip, EverySingleBitFlipIsRejected) {
    for (Mode m : {Mode::cert, Mode::psk}) {
        SCOPED_TRACE(mode_name(m));
        // Reference run: record every message.
        Sim ref({.mode = m, .seed = 41});
        ref.build();
        ASSERT_TRUE(ref.handshake());
        ASSERT_EQ(ref.exchange(2), 2);
        ASSERT_TRUE(ref.close_from_client());
        const auto log = ref.wire_log;
        int runs = 0;
        for (std::size_t i = 0; i < log.size(); ++i)
            for (std::size_t j = 0; j < log[i].bytes.size(); ++j) {
                Sim sim({.mode = m, .seed = 41});
                std::size_t seen = 0;
                bool flipped = false;
                sim.hook = [&](Dir, Buf& b) {
                    if (seen++ == i) {
                        b[j] ^= static_cast<std::uint8_t>(1u << (j % 8));
                        flipped = true;
                    }
                    return Verdict::deliver;
                };
                sim.build();
                sim.start();
                sim.run_until([&] { return sim.client().handshakes == 1 || sim.client().closed; }, 200'000);
                if (sim.client().handshakes == 1 && !sim.client().closed) {
                    sim.exchange(2);
                    if (!sim.client().closed) sim.close_from_client();
                }
                sim.run_until([&] { return sim.client().closed && sim.server().closed; }, 400'000);
                ASSERT_TRUE(flipped);
                const bool rejected = !sim.client().faults.empty() || !sim.server().faults.empty();
                EXPECT_TRUE(rejected) << "message " << i << " byte " << j;
                ++runs;
            }
        EXPECT_GT(runs, 300);
    }
}

// Every truncation of every message of a full exchange is rejected (strict).
TEST(Truncation, EveryTruncatedMessageIsRejected) {
    Sim ref({.seed = 51});
    ref.build();
    ASSERT_TRUE(ref.handshake());
    ASSERT_EQ(ref.exchange(2), 2);
    ASSERT_TRUE(ref.close_from_client());
    const std::size_t messages = ref.wire_log.size();
    for (std::size_t i = 0; i < messages; ++i)
        for (std::size_t keep : {std::size_t{0}, std::size_t{1}, std::size_t{6}, ref.wire_log[i].bytes.size() / 2,
                                 ref.wire_log[i].bytes.size() - 1}) {
            Sim sim({.seed = 51});
            std::size_t seen = 0;
            sim.hook = [&](Dir, Buf& b) {
                if (seen++ == i) b.resize(keep);
                return Verdict::deliver;
            };
            sim.build();
            sim.start();
            sim.run_until([&] { return sim.client().handshakes == 1 || sim.client().closed; }, 200'000);
            if (sim.client().handshakes == 1 && !sim.client().closed) {
                sim.exchange(2);
                if (!sim.client().closed) sim.close_from_client();
            }
            sim.run_until([&] { return sim.client().closed && sim.server().closed; }, 400'000);
            EXPECT_TRUE(!sim.client().faults.empty() || !sim.server().faults.empty())
                << "message " << i << " cut to " << keep;
        }
}

// Reflection: a party's own messages sent back to it are rejected.
TEST(Reflection, OwnMessagesReflectedBackAreRejected) {
    for (Mode m : kModes) {
        SCOPED_TRACE(mode_name(m));
        Sim sim({.mode = m});
        sim.build();
        ASSERT_TRUE(sim.handshake());
        ASSERT_EQ(sim.exchange(1), 1);
        Buf own;  // the client's last record (its DATA ACK)
        for (const auto& p : sim.wire_log)
            if (p.dir == Dir::c2s && p.bytes[0] == 0x17) own = p.bytes;
        sim.inject(Dir::s2c, own);
        sim.run_until([&] { return !sim.client().faults.empty(); }, 1000);
        ASSERT_FALSE(sim.client().faults.empty());
        EXPECT_EQ(sim.client().faults.front(), Err::bad_mac);  // other direction's key
        EXPECT_EQ(sim.client().responses, 1);
    }
}

// A forged (unauthenticated) CLOSE cannot end an established connection; a
// replayed authenticated CLOSE is caught as a replay.
TEST(ForgedClose, ClearCloseAfterTheHandshakeIsIgnoredAndReplayedCloseRejected) {
    Sim sim;
    sim.build();
    ASSERT_TRUE(sim.handshake());
    const Buf forged{0x08, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, 0x7f, 0xff, 0xff, 0xff};
    sim.inject(Dir::s2c, forged);
    sim.inject(Dir::c2s, forged);
    EXPECT_EQ(sim.exchange(1), 1);
    EXPECT_FALSE(sim.client().closed);
    EXPECT_FALSE(sim.server().closed);

    // A CLOSE recorded from another run of the same connection parameters is a
    // different key; a CLOSE replayed within the connection is a duplicate record.
    Sim a({.seed = 61});
    a.build();
    ASSERT_TRUE(a.handshake());
    ASSERT_TRUE(a.close_from_client());
    Buf close;
    for (const auto& p : a.wire_log)
        if (p.dir == Dir::c2s && p.bytes[0] == 0x17) close = p.bytes;  // the CLOSE is the last
    Sim b({.seed = 62});
    b.build();
    ASSERT_TRUE(b.handshake());
    b.inject(Dir::c2s, close);
    b.run_until([&] { return !b.server().faults.empty(); }, 1000);
    ASSERT_FALSE(b.server().faults.empty());
    EXPECT_EQ(b.server().faults.front(), Err::bad_mac);
}

// Every message of a connection (each type, from every state it was sent in)
// delivered again later in the same connection is refused and changes nothing.
TEST(Injection, EveryEarlierMessageInjectedLaterIsRefused) {
    Sim ref({.seed = 71});
    ref.build();
    ASSERT_TRUE(ref.handshake());
    ASSERT_EQ(ref.exchange(12), 12);  // includes a re-key
    const auto log = ref.wire_log;
    for (std::size_t i = 0; i < log.size(); ++i) {
        Sim sim({.seed = 71});  // the same connection, deterministically
        sim.build();
        ASSERT_TRUE(sim.handshake());
        ASSERT_EQ(sim.exchange(12), 12);
        sim.inject(log[i].dir, log[i].bytes);
        sim.run_until([&] { return !sim.client().faults.empty() || !sim.server().faults.empty(); }, 1000);
        EXPECT_TRUE(!sim.client().faults.empty() || !sim.server().faults.empty()) << "message " << i;
        EXPECT_EQ(sim.server().requests, 12) << "message " << i;
        EXPECT_EQ(sim.client().responses, 12) << "message " << i;
    }
}

}  // namespace
}  // namespace lockstep::sim
