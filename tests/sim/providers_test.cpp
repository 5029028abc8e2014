// SPDX-License-Identifier: Apache-2.0
// The simulations that exercise every primitive, run once per real provider
// (OpenSSL, libsodium, BearSSL): every mode and suite the provider serves, re-keys after
// exactly N responses, a lossy datagram network, a tampered record. Both
// endpoints use the same provider.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../support/sim.hpp"

namespace lockstep::sim {
namespace {

const Mode kModes[] = {Mode::cert, Mode::psk, Mode::cert_psk, Mode::psk_only};

// The suites `real` serves on this CPU (libsodium runs AES-256-GCM only with AES-NI).
std::vector<Suite> suites_of(RealCrypto real) {
    const bool aes = real != RealCrypto::sodium || crypto::sodium::SodiumProvider().aes_gcm_available();
    if (!aes) return {Suite::chacha20poly1305};
    return {Suite::aes256gcm, Suite::chacha20poly1305, Suite::aes256gcm_hmac_sha512};
}

class WithProvider : public ::testing::TestWithParam<RealCrypto> {};

INSTANTIATE_TEST_SUITE_P(Providers, WithProvider,
                         ::testing::Values(RealCrypto::openssl, RealCrypto::sodium, RealCrypto::bearssl),
                         [](const ::testing::TestParamInfo<RealCrypto>& i) {
                             return std::string(i.param == RealCrypto::sodium    ? "Sodium"
                                                : i.param == RealCrypto::bearssl ? "BearSsl"
                                                                                 : "OpenSsl");
                         });

TEST_P(WithProvider, EveryModeAndSuiteHandshakesRekeysAndCloses) {
    for (Mode m : kModes)
        for (Suite s : suites_of(GetParam())) {
            SCOPED_TRACE(std::string(mode_name(m)) + " / " + suite_name(s));
            Sim sim({.mode = m, .suite = s, .crypto = GetParam()});
            sim.build();
            ASSERT_TRUE(sim.handshake());
            EXPECT_EQ(sim.ce().suite(), s);
            EXPECT_EQ(sim.exchange(25, 100), 25);
            EXPECT_EQ(sim.client().last_response.size(), 103u);
            EXPECT_EQ(sim.client().rekeys, 2);  // after the 10th and the 20th response
            EXPECT_EQ(sim.ce().epoch(), 3u);
            EXPECT_TRUE(sim.close_from_client());
            EXPECT_TRUE(sim.client().closed_event.acknowledged);
            EXPECT_TRUE(sim.client().faults.empty());
            EXPECT_TRUE(sim.server().faults.empty());
        }
}

TEST_P(WithProvider, LossyDatagramsEveryRequestAnswered) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        SCOPED_TRACE(seed);
        Sim sim({.mode = Mode::cert_psk, .suite = Suite::chacha20poly1305, .policy = Policy::tolerant, .seed = seed,
                 .net = {.drop = 0.1, .duplicate = 0.1, .reorder = 0.1}, .crypto = GetParam()});
        for (Config* c : {&sim.client_cfg(), &sim.server_cfg()}) {
            c->timers.resend_timeout = std::chrono::milliseconds(500);
            c->timers.max_resends = 6;
        }
        sim.build();
        ASSERT_TRUE(sim.handshake());
        EXPECT_EQ(sim.exchange(25), 25);
        EXPECT_EQ(sim.server().requests, sim.client().responses);
        EXPECT_GE(sim.client().rekeys, 2);
    }
}

// A tampered record fails authentication under either provider and closes with bad_mac.
TEST_P(WithProvider, FlippedCiphertextBitIsRejected) {
    Sim sim({.mode = Mode::psk, .suite = Suite::chacha20poly1305, .crypto = GetParam()});
    sim.build();
    ASSERT_TRUE(sim.handshake());
    bool flipped = false;
    sim.hook = [&](Dir d, Buf& bytes) {
        if (d == Dir::c2s && !flipped && bytes.size() > 20) {
            bytes.back() ^= 0x01;  // inside the AEAD tag
            flipped = true;
        }
        return Verdict::deliver;
    };
    (void)sim.exchange(1);
    EXPECT_TRUE(flipped);
    ASSERT_FALSE(sim.server().faults.empty());
    EXPECT_EQ(sim.server().faults.front(), Err::bad_mac);
}

}  // namespace
}  // namespace lockstep::sim
