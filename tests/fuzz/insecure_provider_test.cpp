// SPDX-License-Identifier: Apache-2.0
// The INSECURE test provider: its contract (sizes, determinism, tamper
// detection, key agreement, signatures), two engines on it completing whole
// connections, and the fuzz script harness replaying clean exchanges.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "fuzz_support.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocs{0};
}  // namespace

// Counts allocations while g_counting is set (the provider must not allocate).
void* operator new(std::size_t n) {
    if (g_counting) ++g_allocs;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace lockstep::fuzz {
namespace {

using crypto::Aead;
using crypto::Hash;
using crypto::SigAlg;
using B = std::vector<std::uint8_t>;

B bytes(std::size_t n, std::uint8_t fill) { return B(n, fill); }

TEST(InsecureProvider, OutputSizesFollowTheInterface) {
    InsecureTestProvider p(1);
    B out32(32), out64(64), out31(31), out33(33);
    EXPECT_TRUE(p.hash(Hash::sha256, {}, {}, out32));
    EXPECT_TRUE(p.hash(Hash::sha512, {}, {}, out64));
    EXPECT_EQ(p.hash(Hash::sha256, {}, {}, out31).error(), Err::buffer_too_small);
    EXPECT_EQ(p.hash(Hash::sha256, {}, {}, out33).error(), Err::invalid_argument);
    EXPECT_EQ(p.hmac(Hash::sha512, out32, {}, {}, out32).error(), Err::buffer_too_small);
    EXPECT_TRUE(p.hkdf_extract(Hash::sha256, {}, out32, out32));
    EXPECT_EQ(p.hkdf_extract(Hash::sha256, {}, out32, out64).error(), Err::invalid_argument);
    // HKDF-Expand's limit: 255 * hash_len.
    B big(255 * 32 + 1);
    EXPECT_TRUE(p.hkdf_expand(Hash::sha256, out32, {}, {big.data(), 255 * 32}));
    EXPECT_EQ(p.hkdf_expand(Hash::sha256, out32, {}, big).error(), Err::invalid_argument);
    B big512(255 * 64);
    EXPECT_TRUE(p.hkdf_expand(Hash::sha512, out32, {}, big512));
    EXPECT_TRUE(p.hkdf_expand(Hash::sha256, out32, {}, {}));
}

TEST(InsecureProvider, HashIsOverTheConcatenationAndDeterministic) {
    InsecureTestProvider p(1), q(99);
    const B ab = {1, 2, 3, 4, 5};
    B h1(32), h2(32), h3(32), h4(32);
    ASSERT_TRUE(p.hash(Hash::sha256, {ab.data(), 2}, {ab.data() + 2, 3}, h1));
    ASSERT_TRUE(q.hash(Hash::sha256, ab, {}, h2));
    ASSERT_TRUE(p.hash(Hash::sha256, {ab.data(), 4}, {}, h3));
    EXPECT_EQ(h1, h2);
    EXPECT_NE(h1, h3);
    // HMAC is keyed; different keys give different MACs, and differ from the hash.
    ASSERT_TRUE(p.hmac(Hash::sha256, {ab.data(), 1}, ab, {}, h3));
    ASSERT_TRUE(p.hmac(Hash::sha256, {ab.data(), 2}, ab, {}, h4));
    EXPECT_NE(h3, h4);
    EXPECT_NE(h3, h1);
    // Expand: a shorter output is a prefix of a longer one; info matters.
    B e1(100), e2(40), e3(40);
    ASSERT_TRUE(p.hkdf_expand(Hash::sha256, h1, ab, e1));
    ASSERT_TRUE(p.hkdf_expand(Hash::sha256, h1, ab, e2));
    ASSERT_TRUE(p.hkdf_expand(Hash::sha256, h1, {ab.data(), 1}, e3));
    EXPECT_TRUE(std::equal(e2.begin(), e2.end(), e1.begin()));
    EXPECT_NE(e2, e3);
}

TEST(InsecureProvider, RandomIsSeededAndCounterBased) {
    InsecureTestProvider a(5), b(5), c(6);
    B ra(37), rb(37), rc(37), ra2(37);
    ASSERT_TRUE(a.random(ra));
    ASSERT_TRUE(b.random(rb));
    ASSERT_TRUE(c.random(rc));
    ASSERT_TRUE(a.random(ra2));
    EXPECT_EQ(ra, rb);
    EXPECT_NE(ra, rc);
    EXPECT_NE(ra, ra2);
    EXPECT_EQ(a.draws(), b.draws() + 5);
}

TEST(InsecureProvider, AeadRoundTripsInPlaceAndDetectsTampering) {
    for (Aead alg : {Aead::aes_gcm, Aead::chacha20_poly1305}) {
        InsecureTestProvider p(1);
        const B key = bytes(32, 7), nonce = bytes(12, 9), aad = {1, 2, 3};
        const B pt = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
        B buf(pt.size() + crypto::kAeadTagLen);
        std::copy(pt.begin(), pt.end(), buf.begin());
        ASSERT_TRUE(p.aead_seal(alg, key, nonce, aad, {buf.data(), pt.size()}, buf));  // in place
        EXPECT_FALSE(std::equal(pt.begin(), pt.end(), buf.begin()));
        B out(pt.size());
        ASSERT_TRUE(p.aead_open(alg, key, nonce, aad, buf, out));
        EXPECT_EQ(out, pt);

        // Every single-bit change of ciphertext, tag, AAD, key or nonce is refused; out is wiped.
        for (std::size_t i = 0; i < buf.size(); ++i) {
            B bad = buf;
            bad[i] ^= 0x04;
            B o(pt.size(), 0xee);
            EXPECT_EQ(p.aead_open(alg, key, nonce, aad, bad, o).error(), Err::bad_mac) << i;
            EXPECT_EQ(o, B(pt.size(), 0));
        }
        B k2 = key, n2 = nonce, a2 = aad;
        k2[0] ^= 1;
        n2[11] ^= 1;
        a2[2] ^= 1;
        EXPECT_EQ(p.aead_open(alg, k2, nonce, aad, buf, out).error(), Err::bad_mac);
        EXPECT_EQ(p.aead_open(alg, key, n2, aad, buf, out).error(), Err::bad_mac);
        EXPECT_EQ(p.aead_open(alg, key, nonce, a2, buf, out).error(), Err::bad_mac);

        // accept_any_tag: a flipped ciphertext bit is a flipped plaintext bit.
        InsecureTestProvider any(1, true);
        B bad = buf;
        bad[0] ^= 0x20;
        bad[pt.size()] ^= 0xff;  // tag
        ASSERT_TRUE(any.aead_open(alg, key, nonce, aad, bad, out));
        EXPECT_EQ(out[0], pt[0] ^ 0x20);
        EXPECT_TRUE(std::equal(pt.begin() + 1, pt.end(), out.begin() + 1));
    }
}

TEST(InsecureProvider, AeadChecksSizes) {
    InsecureTestProvider p(1);
    const B key = bytes(32, 7), nonce = bytes(12, 9), pt = bytes(10, 1);
    B out(26), small(25);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, key, nonce, {}, pt, small).error(), Err::buffer_too_small);
    EXPECT_EQ(p.aead_seal(Aead::chacha20_poly1305, bytes(16, 1), nonce, {}, pt, out).error(), Err::invalid_argument);
    EXPECT_EQ(p.aead_seal(Aead::chacha20_poly1305, key, bytes(8, 1), {}, pt, out).error(), Err::invalid_argument);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, bytes(20, 1), nonce, {}, pt, out).error(), Err::invalid_argument);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, key, {}, {}, pt, out).error(), Err::invalid_argument);
    EXPECT_TRUE(p.aead_seal(Aead::aes_gcm, bytes(16, 1), bytes(1, 1), {}, pt, out));
    B o(10);
    EXPECT_EQ(p.aead_open(Aead::aes_gcm, key, nonce, {}, bytes(15, 0), {}).error(), Err::invalid_argument);
    EXPECT_TRUE(p.aead_seal(Aead::aes_gcm, key, nonce, {}, {}, {out.data(), 16}));  // empty plaintext
    EXPECT_TRUE(p.aead_open(Aead::aes_gcm, key, nonce, {}, {out.data(), 16}, {}));
    // Partial overlap is refused (exact aliasing is allowed).
    B buf(40);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, key, nonce, {}, {buf.data(), 10}, {buf.data() + 1, 26}).error(),
              Err::invalid_argument);
}

TEST(InsecureProvider, X25519Agrees) {
    InsecureTestProvider a(1), b(2);
    B pa(32), sa(32), pb(32), sb(32), s1(32), s2(32);
    ASSERT_TRUE(a.x25519_keygen(sa, pa));
    ASSERT_TRUE(b.x25519_keygen(sb, pb));
    ASSERT_TRUE(a.x25519(sa, pa, pb, s1));
    ASSERT_TRUE(b.x25519(sb, {}, pa, s2));
    EXPECT_EQ(s1, s2);
    EXPECT_NE(s1, B(32, 0));
    // All-zero results and all-zero peer keys are refused, like the real function.
    EXPECT_EQ(a.x25519(sa, {}, pa, s1).error(), Err::crypto_failure);
    EXPECT_EQ(s1, B(32, 0));
    EXPECT_EQ(a.x25519(sa, {}, B(32, 0), s1).error(), Err::crypto_failure);
    EXPECT_EQ(a.x25519(sa, {}, B(31, 1), s1).error(), Err::invalid_argument);
    B small(31);
    EXPECT_EQ(a.x25519_keygen(small, pa).error(), Err::buffer_too_small);
}

TEST(InsecureProvider, VerifyAcceptsExactlyTheSignersSignatures) {
    InsecureTestProvider p(1);
    const B msg = {'m', 's', 'g'};
    for (SigAlg alg : {SigAlg::ed25519, SigAlg::rsa_pss_2048_sha256, SigAlg::rsa_pss_3072_sha256}) {
        InsecureTestSigner s(alg, 42), other(alg, 43);
        ASSERT_EQ(s.public_key().size(), crypto::pubkey_len(alg));
        B sig(crypto::sig_len(alg));
        ASSERT_TRUE(s.sign(msg, sig));
        EXPECT_TRUE(p.verify(alg, s.public_key(), msg, sig));
        EXPECT_EQ(p.verify(alg, other.public_key(), msg, sig).error(), Err::bad_signature);
        EXPECT_EQ(p.verify(alg, s.public_key(), {msg.data(), 2}, sig).error(), Err::bad_signature);
        B bad = sig;
        bad.back() ^= 1;
        EXPECT_EQ(p.verify(alg, s.public_key(), msg, bad).error(), Err::bad_signature);
        EXPECT_EQ(p.verify(alg, s.public_key(), msg, {sig.data(), sig.size() - 1}).error(), Err::invalid_argument);
        B wrong(sig.size() + 1);
        EXPECT_EQ(s.sign(msg, wrong).error(), Err::invalid_argument);
    }
    InsecureTestSigner ed(SigAlg::ed25519, 1);
    B sig(64);
    ASSERT_TRUE(ed.sign(msg, sig));
    EXPECT_EQ(p.verify(SigAlg::rsa_pss_2048_sha256, ed.public_key(), msg, sig).error(), Err::invalid_argument);
}

TEST(InsecureProvider, DoesNotAllocate) {
    InsecureTestProvider p(1);
    InsecureTestSigner s(SigAlg::rsa_pss_3072_sha256, 1);
    std::uint8_t buf[512] = {}, out[64], sig[384], priv[32], pub[32], shared[32];
    g_allocs = 0;
    g_counting = true;
    (void)p.random({buf, 100});
    (void)p.hash(Hash::sha512, {buf, 10}, {buf, 20}, out);
    (void)p.hmac(Hash::sha256, {buf, 10}, {buf, 20}, {}, {out, 32});
    (void)p.hkdf_expand(Hash::sha256, {buf, 32}, {buf, 5}, {buf + 100, 300});
    (void)p.aead_seal(Aead::aes_gcm, {buf, 32}, {buf, 12}, {}, {buf, 100}, {buf, 116});
    (void)p.aead_open(Aead::aes_gcm, {buf, 32}, {buf, 12}, {}, {buf, 116}, {buf, 100});
    (void)p.x25519_keygen(priv, pub);
    (void)p.x25519(priv, {}, {buf, 32}, shared);
    (void)s.sign({buf, 10}, sig);
    (void)p.verify(SigAlg::rsa_pss_3072_sha256, s.public_key(), {buf, 10}, sig);
    g_counting = false;
    EXPECT_EQ(g_allocs.load(), 0);
}

// ---------------------------------------------------------------- two engines on the insecure provider
// A small driving loop (as in tests/unit/no_alloc_test.cpp): no simulated network.
struct Pair {
    InsecureTestProvider pc{11}, ps{12};
    TestPskStore store;
    Config cc, sc;
    B wc, wsv, buf;
    std::unique_ptr<Engine> c, s;
    std::int64_t t = 1'000;
    int responses = 0, requests = 0, c_rekeys = 0, s_rekeys = 0, c_hs = 0, s_hs = 0;
    bool bodies_ok = true;
    std::optional<Event> c_closed, s_closed;

    Pair(Mode m, Suite suite, SigAlg alg) {
        InsecureCredentials& cr = InsecureCredentials::get(alg);
        cc.role = Role::client;
        sc.role = Role::server;
        cc.provider = &pc;
        sc.provider = &ps;
        cc.modes = sc.modes = {m};
        cc.suites = {suite};
        for (Config* cfg : {&cc, &sc}) {
            cfg->ca_certificate = cr.ca_cert;
            cfg->rekey.after_responses = 10;
        }
        cc.signer = &cr.client_key;
        cc.certificate = cr.client_cert;
        cc.server_names = kServerNames;
        sc.signer = &cr.server_key;
        sc.certificate = cr.server_cert;
        cc.psk = test_psk();
        cc.psk_id = test_psk_id();
        sc.psk_store = &store;
        wc.resize(Engine::workspace_size(cc.max_data));
        wsv.resize(Engine::workspace_size(sc.max_data));
        buf.resize(Engine::max_message_size(cc.max_data));
        c = std::make_unique<Engine>(cc, wc);
        s = std::make_unique<Engine>(sc, wsv);
    }
    Now now() const {
        return Now{Instant{std::chrono::milliseconds(t)}, UnixTime{std::chrono::milliseconds(kWallBaseMs + t)}};
    }
    void pump(Engine& from, Engine& to) {
        for (;;) {
            auto n = from.poll_transmit(buf);
            if (!n || *n == 0) break;
            (void)to.receive({buf.data(), *n}, now());
        }
    }
    void events(Engine& e) {
        Event ev;
        const bool server = &e == s.get();
        while (e.poll_event(ev)) {
            switch (ev.kind) {
                case EventKind::handshake_done: ++(server ? s_hs : c_hs); break;
                case EventKind::rekeyed: ++(server ? s_rekeys : c_rekeys); break;
                case EventKind::request: {
                    ++requests;
                    B reply(ev.data.begin(), ev.data.end());
                    reply.push_back('!');
                    (void)e.send_response(reply, now());
                    break;
                }
                case EventKind::response:
                    // The reply to request i is i repeated (i % 7 + 1) times, then '!'.
                    bodies_ok = bodies_ok && ev.data.size() == static_cast<std::size_t>(responses % 7 + 2) &&
                                ev.data[0] == responses && ev.data.back() == '!';
                    ++responses;
                    break;
                case EventKind::closed: (server ? s_closed : c_closed) = ev; break;
            }
        }
    }
    void round() {
        t += 3;
        pump(*c, *s);
        events(*s);
        pump(*s, *c);
        events(*c);
    }
};

void full_exchange(Mode m, Suite suite, SigAlg alg = SigAlg::ed25519) {
    SCOPED_TRACE(std::string(mode_name(m)) + " / " + suite_name(suite));
    Pair p(m, suite, alg);
    ASSERT_TRUE(p.s->start(p.now()));
    ASSERT_TRUE(p.c->start(p.now()));
    for (int r = 0; r < 400 && p.responses < 25; ++r) {
        p.round();
        if (p.c->can_send_request() && p.responses < 25) {
            const B body(static_cast<std::size_t>(p.responses % 7 + 1), static_cast<std::uint8_t>(p.responses));
            ASSERT_TRUE(p.c->send_request(body, p.now()));
        }
    }
    EXPECT_EQ(p.c_hs, 1);
    EXPECT_EQ(p.s_hs, 1);
    EXPECT_EQ(p.responses, 25);
    EXPECT_EQ(p.requests, 25);
    EXPECT_TRUE(p.bodies_ok);
    EXPECT_EQ(p.c_rekeys, 2);
    EXPECT_EQ(p.s_rekeys, 2);
    EXPECT_EQ(p.c->epoch(), 3u);
    EXPECT_EQ(p.c->mode(), m);
    if (mode_uses_cert(m)) {
        auto subj = p.c->peer_subject();
        EXPECT_EQ(std::string(subj.begin(), subj.end()), "server.test");
    }
    ASSERT_TRUE(p.c->close(p.now()));
    for (int r = 0; r < 4; ++r) p.round();
    ASSERT_TRUE(p.c_closed.has_value());
    ASSERT_TRUE(p.s_closed.has_value());
    EXPECT_TRUE(p.c_closed->acknowledged);
    EXPECT_TRUE(p.s_closed->by_peer);
    EXPECT_EQ(p.c_closed->reason, Reason::normal);
    EXPECT_EQ(p.c->last_error(), Err::ok);
    EXPECT_EQ(p.s->last_error(), Err::ok);
}

TEST(InsecureProviderEngines, CertModeHandshakeRequestsRekeysClose) { full_exchange(Mode::cert, Suite::aes256gcm); }
TEST(InsecureProviderEngines, PskModeHandshakeRequestsRekeysClose) {
    full_exchange(Mode::psk, Suite::chacha20poly1305);
}
TEST(InsecureProviderEngines, EveryModeSuiteAndKeyType) {
    for (Mode m : {Mode::cert, Mode::psk, Mode::cert_psk, Mode::psk_only})
        for (Suite s : {Suite::aes256gcm, Suite::chacha20poly1305, Suite::aes256gcm_hmac_sha512})
            full_exchange(m, s);
    full_exchange(Mode::cert, Suite::aes256gcm, SigAlg::rsa_pss_2048_sha256);
    full_exchange(Mode::cert_psk, Suite::aes256gcm_hmac_sha512, SigAlg::rsa_pss_3072_sha256);
}

TEST(InsecureProviderEngines, TamperedRecordIsRefusedWithoutAcceptAnyTag) {
    Pair p(Mode::psk, Suite::aes256gcm, SigAlg::ed25519);
    ASSERT_TRUE(p.s->start(p.now()));
    ASSERT_TRUE(p.c->start(p.now()));
    for (int r = 0; r < 4; ++r) p.round();
    ASSERT_TRUE(p.c->can_send_request());
    const B body = {1, 2, 3};
    ASSERT_TRUE(p.c->send_request(body, p.now()));
    auto n = p.c->poll_transmit(p.buf);
    ASSERT_TRUE(n && *n > 20);
    p.buf[20] ^= 1;
    EXPECT_EQ(p.s->receive({p.buf.data(), *n}, p.now()).error(), Err::bad_mac);
}

// ---------------------------------------------------------------- the fuzz script harness
TEST(FuzzHarness, CleanScriptsCompleteInEveryMode) {
    for (std::uint8_t mode = 0; mode < 4; ++mode)
        for (bool tolerant : {false, true}) {
            ScriptSetup s;
            s.mode = static_cast<Mode>(mode + 1);
            s.policy = tolerant ? Policy::tolerant : Policy::strict;
            s.after_responses = 3;
            Harness h(s);
            h.start();
            const std::uint8_t script[] = {op(kPump, 15), op(kPump, 15)};
            h.run(script, sizeof script);
            EXPECT_GE(h.responses(), 10) << int(mode);
            EXPECT_GE(h.client().epoch(), 3u) << int(mode);
            EXPECT_EQ(h.client().last_error(), Err::ok);
            EXPECT_EQ(h.server().last_error(), Err::ok);
        }
}

TEST(FuzzHarness, HeaderRoundTrips) {
    ScriptSetup s;
    s.mode = Mode::psk_only;
    s.suite = Suite::aes256gcm_hmac_sha512;
    s.policy = Policy::tolerant;
    s.ttl = TtlMode::relative;
    s.alg = SigAlg::rsa_pss_3072_sha256;
    s.after_responses = 7;
    s.after_time = 2;
    s.small_timers = true;
    s.max_data = 3;
    s.pad_to = 1;
    s.server_all_modes = true;
    s.seed = 9;
    auto h = s.header();
    EXPECT_EQ(ScriptSetup::from_header(h.data()).header(), h);
}

}  // namespace
}  // namespace lockstep::fuzz
