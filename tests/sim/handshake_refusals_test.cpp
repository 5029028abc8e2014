// SPDX-License-Identifier: Apache-2.0
// Handshake refusals that must leave no trace: a peer X25519 share equal to
// our own (a reflection), and a HELLO naming an unknown PSK identity, which
// costs the server the same HKDF and HMAC work as a known one with a bad MAC.
// spec: PROTOCOL.md §4.4, §6.2, §11.8
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "../support/sim.hpp"

namespace lockstep::sim {
namespace {

bool has_fault(const Endpoint& ep, Err e) { return std::find(ep.faults.begin(), ep.faults.end(), e) != ep.faults.end(); }
bool sent_type(const Endpoint& ep, MsgType t) {
    return std::any_of(ep.sent.begin(), ep.sent.end(), [&](const TraceEntry& e) { return e.type == t; });
}

// Overwrite the X25519 share a HELLO (c2s) or HELLO ACK (s2c) carries.
void put_share(Dir d, Buf& msg, const Buf& share) {
    ConstBytes at;
    if (d == Dir::c2s) {
        auto h = wire::decode_hello(msg);
        ASSERT_TRUE(h);
        at = h->share;
    } else {
        auto h = wire::decode_hello_ack(msg);
        ASSERT_TRUE(h);
        at = h->share;
    }
    ASSERT_EQ(at.size(), share.size());
    std::memcpy(msg.data() + (at.data() - msg.data()), share.data(), share.size());
}

// A HELLO ACK whose share is the client's own (its HELLO reflected) is refused
// before any X25519 work and no ACK leaves. Strict: the client closes.
// Tolerant: it is dropped and leaves the client waiting, so the genuine HELLO
// ACK that follows completes the handshake (nothing advanced).
TEST(ReflectedShare, AHelloAckCarryingTheClientsOwnShareIsRefused) {
    for (Policy pol : {Policy::strict, Policy::tolerant}) {
        SCOPED_TRACE(static_cast<int>(pol));
        Sim sim({.policy = pol});
        sim.build();
        Buf client_share, genuine;
        sim.hook = [&](Dir d, Buf& msg) {
            if (d == Dir::c2s && client_share.empty()) {
                auto h = wire::decode_hello(msg);
                if (h) client_share.assign(h->share.begin(), h->share.end());
            } else if (d == Dir::s2c && genuine.empty()) {
                genuine = msg;
                put_share(d, msg, client_share);
            }
            return Verdict::deliver;
        };
        sim.start();
        sim.run_until([&] { return has_fault(sim.client(), Err::bad_value) || sim.client().closed; }, 1'000);
        ASSERT_EQ(client_share.size(), 32u);
        ASSERT_FALSE(genuine.empty());
        EXPECT_TRUE(has_fault(sim.client(), Err::bad_value));
        EXPECT_EQ(sim.client_provider().x25519_ops, 0);
        EXPECT_EQ(sim.client().handshakes, 0);
        EXPECT_FALSE(sent_type(sim.client(), MsgType::ack));
        if (pol == Policy::strict) {
            sim.run_until([&] { return sim.client().closed; });
            ASSERT_TRUE(sim.client().closed);
            EXPECT_EQ(sim.client().closed_event.error, Err::bad_value);
            EXPECT_EQ(sim.server().handshakes, 0);
            continue;
        }
        EXPECT_EQ(sim.ce().state(), State::wait_hello_ack);
        sim.hook = nullptr;
        sim.inject(Dir::s2c, genuine);
        EXPECT_TRUE(sim.run_until([&] { return sim.client().handshakes == 1 && sim.server().handshakes == 1; }));
        EXPECT_EQ(sim.exchange(1), 1);
    }
}

// The server's share is fresh per HELLO, so a reflection needs the RNG's next
// output: a first run with the same seed tells it, a second run's HELLO carries
// it. The server refuses before any X25519 work and sends no HELLO ACK.
TEST(ReflectedShare, AHelloCarryingTheServersOwnShareIsRefused) {
    Buf server_share;
    {
        Sim first({.seed = 5});
        first.server_provider().on_keygen = [&](ConstBytes, ConstBytes pub) {
            if (server_share.empty()) server_share.assign(pub.begin(), pub.end());
        };
        first.build();
        ASSERT_TRUE(first.handshake());
    }
    ASSERT_EQ(server_share.size(), 32u);
    Sim sim({.seed = 5});
    sim.build();
    bool done = false;
    sim.hook = [&](Dir d, Buf& msg) {
        if (d == Dir::c2s && !done) {
            done = true;
            put_share(d, msg, server_share);
        }
        return Verdict::deliver;
    };
    sim.start();
    sim.run_until([&] { return sim.client().closed && sim.server().closed; }, 60'000);
    EXPECT_TRUE(has_fault(sim.server(), Err::bad_value));
    EXPECT_EQ(sim.server_provider().x25519_ops, 0);
    EXPECT_EQ(sim.server().handshakes, 0);
    EXPECT_FALSE(sent_type(sim.server(), MsgType::hello_ack));
    EXPECT_EQ(sim.client().handshakes, 0);
}

// Counts the primitives a provider is asked for, passing each call on.
struct Counts {
    int hashes = 0, hmacs = 0, extracts = 0, expands = 0, seals = 0, opens = 0, keygens = 0, dhs = 0, verifies = 0;
};
class CountingProvider final : public crypto::Provider, public Counts {
public:
    explicit CountingProvider(crypto::Provider& inner) : p_(inner) {}
    Status random(crypto::Bytes out) noexcept override { return p_.random(out); }
    Status hash(crypto::Hash h, crypto::ConstBytes a, crypto::ConstBytes b, crypto::Bytes out) noexcept override {
        ++hashes;
        return p_.hash(h, a, b, out);
    }
    Status hmac(crypto::Hash h, crypto::ConstBytes k, crypto::ConstBytes a, crypto::ConstBytes b,
                crypto::Bytes out) noexcept override {
        ++hmacs;
        return p_.hmac(h, k, a, b, out);
    }
    Status hkdf_extract(crypto::Hash h, crypto::ConstBytes s, crypto::ConstBytes i, crypto::Bytes o) noexcept override {
        ++extracts;
        return p_.hkdf_extract(h, s, i, o);
    }
    Status hkdf_expand(crypto::Hash h, crypto::ConstBytes k, crypto::ConstBytes i, crypto::Bytes o) noexcept override {
        ++expands;
        return p_.hkdf_expand(h, k, i, o);
    }
    Status aead_seal(crypto::Aead a, crypto::ConstBytes k, crypto::ConstBytes n, crypto::ConstBytes ad,
                     crypto::ConstBytes pt, crypto::Bytes out) noexcept override {
        ++seals;
        return p_.aead_seal(a, k, n, ad, pt, out);
    }
    Status aead_open(crypto::Aead a, crypto::ConstBytes k, crypto::ConstBytes n, crypto::ConstBytes ad,
                     crypto::ConstBytes ct, crypto::Bytes out) noexcept override {
        ++opens;
        return p_.aead_open(a, k, n, ad, ct, out);
    }
    Status x25519_keygen(crypto::Bytes priv, crypto::Bytes pub) noexcept override {
        ++keygens;
        return p_.x25519_keygen(priv, pub);
    }
    Status x25519(crypto::ConstBytes priv, crypto::ConstBytes pub, crypto::ConstBytes peer,
                  crypto::Bytes shared) noexcept override {
        ++dhs;
        return p_.x25519(priv, pub, peer, shared);
    }
    Status verify(crypto::SigAlg alg, crypto::ConstBytes pk, crypto::ConstBytes msg,
                  crypto::ConstBytes sig) noexcept override {
        ++verifies;
        return p_.verify(alg, pk, msg, sig);
    }

private:
    crypto::Provider& p_;
};

// The server's work on one refused HELLO (psk mode): a known identity with a
// MAC under another key, or an unknown identity of the same length.
Counts refused_hello(bool known_id, Err& fault) {
    static const Buf other_psk(32, 0x33);
    static const Buf unknown_id = {'d', 'e', 'v', 'i', 'c', 'e', '-', '2'};
    Sim sim({.mode = Mode::psk});
    CountingProvider counting(sim.server_provider());
    sim.server_cfg().provider = &counting;
    if (known_id) sim.client_cfg().psk = other_psk;
    else sim.client_cfg().psk_id = unknown_id;
    sim.build();
    sim.start();
    sim.run_until([&] { return sim.client().closed; });
    EXPECT_TRUE(sim.client().closed);
    EXPECT_EQ(sim.server().handshakes, 0);
    fault = sim.server().faults.empty() ? Err::ok : sim.server().faults.front();
    return static_cast<const Counts&>(counting);
}

// No probing for identities by timing (spec §11.8): the same HKDF, HMAC and
// hash calls whether the identity is known or not, and no public-key work.
TEST(UnknownPskId, CostsTheSameHkdfAndHmacWorkAsABadMac) {
    Err bad_mac_fault = Err::ok, unknown_fault = Err::ok;
    const Counts known = refused_hello(true, bad_mac_fault);
    const Counts unknown = refused_hello(false, unknown_fault);
    EXPECT_EQ(bad_mac_fault, Err::bad_mac);
    EXPECT_EQ(unknown_fault, Err::unknown_psk);
    EXPECT_GT(known.extracts + known.expands, 0);
    EXPECT_GT(known.hmacs, 0);
    EXPECT_EQ(unknown.extracts, known.extracts);
    EXPECT_EQ(unknown.expands, known.expands);
    EXPECT_EQ(unknown.hmacs, known.hmacs);
    EXPECT_EQ(unknown.hashes, known.hashes);
    for (const Counts* c : {&known, &unknown}) {
        EXPECT_EQ(c->keygens, 0);
        EXPECT_EQ(c->dhs, 0);
        EXPECT_EQ(c->verifies, 0);
        EXPECT_EQ(c->seals, 0);
    }
}

}  // namespace
}  // namespace lockstep::sim
