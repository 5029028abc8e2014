// SPDX-License-Identifier: Apache-2.0
// Unit tests for the OpenSSL provider and its key files.
#include <gtest/gtest.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "crypto/providers/openssl/openssl_keys.hpp"
#include "crypto/providers/openssl/openssl_provider.hpp"

namespace lockstep::crypto::openssl {
namespace {

using ByteVec = std::vector<std::uint8_t>;

bool all_zero(ConstBytes b) {
    return std::all_of(b.begin(), b.end(), [](std::uint8_t v) { return v == 0; });
}

ByteVec pattern(std::size_t n, std::uint8_t seed) {
    ByteVec v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7);
    return v;
}

// ---------------------------------------------------------------- AEAD

struct AeadCase {
    Aead aead;
    std::size_t key_len;
    std::size_t nonce_len;
};

class AeadTest : public ::testing::TestWithParam<AeadCase> {
protected:
    OpenSslProvider p_;
};

TEST_P(AeadTest, SealOpenRoundTrip) {
    const auto c = GetParam();
    const ByteVec key = pattern(c.key_len, 1);
    const ByteVec nonce = pattern(c.nonce_len, 2);
    const ByteVec aad = pattern(13, 3);
    for (std::size_t len : {0u, 1u, 16u, 100u}) {
        const ByteVec pt = pattern(len, 4);
        ByteVec ct(len + kAeadTagLen);
        ASSERT_TRUE(p_.aead_seal(c.aead, key, nonce, aad, pt, ct));
        if (len > 0) {
            EXPECT_NE(ByteVec(ct.begin(), ct.begin() + static_cast<std::ptrdiff_t>(len)), pt);
        }
        ByteVec back(len);
        ASSERT_TRUE(p_.aead_open(c.aead, key, nonce, aad, ct, back));
        EXPECT_EQ(back, pt);
    }
}

TEST_P(AeadTest, InPlace) {
    const auto c = GetParam();
    const ByteVec key = pattern(c.key_len, 5);
    const ByteVec nonce = pattern(c.nonce_len, 6);
    const ByteVec pt = pattern(64, 7);
    ByteVec expected(pt.size() + kAeadTagLen);
    ASSERT_TRUE(p_.aead_seal(c.aead, key, nonce, {}, pt, expected));

    ByteVec buf = pt;
    buf.resize(pt.size() + kAeadTagLen);
    ASSERT_TRUE(p_.aead_seal(c.aead, key, nonce, {}, Bytes(buf).first(pt.size()), buf));
    EXPECT_EQ(buf, expected);
    ASSERT_TRUE(p_.aead_open(c.aead, key, nonce, {}, buf, Bytes(buf).first(pt.size())));
    EXPECT_TRUE(std::equal(pt.begin(), pt.end(), buf.begin()));
}

TEST_P(AeadTest, TamperedTagIsBadMacAndWipesOutput) {
    const auto c = GetParam();
    const ByteVec key = pattern(c.key_len, 8);
    const ByteVec nonce = pattern(c.nonce_len, 9);
    const ByteVec pt = pattern(40, 10);
    ByteVec ct(pt.size() + kAeadTagLen);
    ASSERT_TRUE(p_.aead_seal(c.aead, key, nonce, {}, pt, ct));

    for (std::size_t flip : {std::size_t{0}, pt.size(), ct.size() - 1}) {  // ciphertext, tag start, tag end
        ByteVec bad = ct;
        bad[flip] ^= 0x01;
        ByteVec out(pt.size(), 0xaa);
        EXPECT_EQ(p_.aead_open(c.aead, key, nonce, {}, bad, out).error(), Err::bad_mac);
        EXPECT_TRUE(all_zero(out)) << "unauthenticated plaintext left in out";
        // In place: the buffer's plaintext part is wiped too.
        EXPECT_EQ(p_.aead_open(c.aead, key, nonce, {}, bad, Bytes(bad).first(pt.size())).error(), Err::bad_mac);
        EXPECT_TRUE(all_zero(ConstBytes(bad).first(pt.size())));
    }
    // Wrong AAD, wrong nonce.
    ByteVec out(pt.size());
    const ByteVec aad = {1};
    EXPECT_EQ(p_.aead_open(c.aead, key, nonce, aad, ct, out).error(), Err::bad_mac);
    ByteVec nonce2 = nonce;
    nonce2[0] ^= 0x80;
    EXPECT_EQ(p_.aead_open(c.aead, key, nonce2, {}, ct, out).error(), Err::bad_mac);
}

INSTANTIATE_TEST_SUITE_P(All, AeadTest,
                         ::testing::Values(AeadCase{Aead::aes_gcm, 16, 12}, AeadCase{Aead::aes_gcm, 24, 12},
                                           AeadCase{Aead::aes_gcm, 32, 12}, AeadCase{Aead::aes_gcm, 32, 1},
                                           AeadCase{Aead::aes_gcm, 32, 128},
                                           AeadCase{Aead::chacha20_poly1305, 32, 12}));

TEST(OpenSslProvider, AeadRejectsBadSizes) {
    OpenSslProvider p;
    const ByteVec key32 = pattern(32, 1);
    const ByteVec n12 = pattern(12, 2);
    const ByteVec pt = pattern(10, 3);
    ByteVec out(pt.size() + kAeadTagLen);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, pattern(20, 1), n12, {}, pt, out).error(), Err::invalid_argument);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, key32, {}, {}, pt, out).error(), Err::invalid_argument);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, key32, pattern(129, 1), {}, pt, out).error(), Err::invalid_argument);
    EXPECT_EQ(p.aead_seal(Aead::chacha20_poly1305, pattern(16, 1), n12, {}, pt, out).error(),
              Err::invalid_argument);
    EXPECT_EQ(p.aead_seal(Aead::chacha20_poly1305, key32, pattern(8, 1), {}, pt, out).error(),
              Err::invalid_argument);
    ByteVec small(pt.size() + kAeadTagLen - 1);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, key32, n12, {}, pt, small).error(), Err::buffer_too_small);
    ByteVec big(pt.size() + kAeadTagLen + 1);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, key32, n12, {}, pt, big).error(), Err::invalid_argument);
    // Partial overlap is refused; only exact aliasing is allowed.
    ByteVec buf(64);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, key32, n12, {}, ConstBytes(buf).subspan(1, 10),
                          Bytes(buf).first(10 + kAeadTagLen))
                  .error(),
              Err::invalid_argument);
    ByteVec short_ct(kAeadTagLen - 1);
    EXPECT_EQ(p.aead_open(Aead::aes_gcm, key32, n12, {}, short_ct, Bytes{}).error(), Err::invalid_argument);
}

// The provider reuses one context per algorithm and re-keys it on every call:
// interleaved keys, algorithms, nonce lengths and failures must give exactly
// what a fresh provider gives for each call on its own.
TEST(OpenSslProvider, ReusedAeadContextsKeepCallsIndependent) {
    OpenSslProvider p;
    struct Call {
        Aead aead;
        ByteVec key, nonce;
    };
    const Call calls[] = {
        {Aead::aes_gcm, pattern(32, 1), pattern(12, 2)},          {Aead::aes_gcm, pattern(32, 3), pattern(12, 4)},
        {Aead::chacha20_poly1305, pattern(32, 1), pattern(12, 2)}, {Aead::aes_gcm, pattern(16, 5), pattern(1, 6)},
        {Aead::aes_gcm, pattern(16, 5), pattern(12, 6)},          {Aead::aes_gcm, pattern(24, 7), pattern(128, 8)},
        {Aead::aes_gcm, pattern(32, 1), pattern(12, 2)},
    };
    const ByteVec aad = pattern(6, 9), pt = pattern(64, 10);
    std::vector<ByteVec> sealed;
    for (int round = 0; round < 2; ++round) {
        for (std::size_t i = 0; i < std::size(calls); ++i) {
            const Call& c = calls[i];
            ByteVec ct(pt.size() + kAeadTagLen), want(ct.size());
            ASSERT_TRUE(p.aead_seal(c.aead, c.key, c.nonce, aad, pt, ct));
            OpenSslProvider fresh;
            ASSERT_TRUE(fresh.aead_seal(c.aead, c.key, c.nonce, aad, pt, want));
            EXPECT_EQ(ct, want) << "call " << i << " round " << round;
            if (round == 0) sealed.push_back(ct);
        }
    }
    // Same cipher, the other call's key: a forgery; then the right key still opens.
    ByteVec out(pt.size(), 0xaa);
    EXPECT_EQ(p.aead_open(Aead::aes_gcm, calls[1].key, calls[0].nonce, aad, sealed[0], out).error(), Err::bad_mac);
    EXPECT_TRUE(all_zero(out));
    ASSERT_TRUE(p.aead_open(Aead::aes_gcm, calls[0].key, calls[0].nonce, aad, sealed[0], out));
    EXPECT_EQ(out, pt);
    // Same key bytes under the other algorithm: a forgery.
    EXPECT_EQ(p.aead_open(Aead::chacha20_poly1305, calls[0].key, calls[0].nonce, aad, sealed[0], out).error(),
              Err::bad_mac);
    // Every record opens after interleaved failures, in reverse order (other keys last).
    for (std::size_t i = std::size(calls); i-- > 0;) {
        const Call& c = calls[i];
        ByteVec bad = sealed[i];
        bad.back() ^= 1;
        EXPECT_EQ(p.aead_open(c.aead, c.key, c.nonce, aad, bad, out).error(), Err::bad_mac);
        ASSERT_TRUE(p.aead_open(c.aead, c.key, c.nonce, aad, sealed[i], out)) << "call " << i;
        EXPECT_EQ(out, pt);
    }
    // A rejected argument in between changes nothing for the next call.
    ByteVec ct(pt.size() + kAeadTagLen);
    EXPECT_EQ(p.aead_seal(Aead::aes_gcm, pattern(20, 1), calls[0].nonce, aad, pt, ct).error(),
              Err::invalid_argument);
    ASSERT_TRUE(p.aead_seal(calls[0].aead, calls[0].key, calls[0].nonce, aad, pt, ct));
    EXPECT_EQ(ct, sealed[0]);
}

TEST(OpenSslProvider, ReusedMacAndKdfContextsKeepCallsIndependent) {
    OpenSslProvider p;
    const ByteVec k1 = pattern(32, 1), k2 = pattern(100, 2), msg = pattern(50, 3), info = pattern(20, 4);
    auto hmac = [&msg](OpenSslProvider& q, Hash h, ConstBytes key) {
        ByteVec out(hash_len(h));
        EXPECT_TRUE(q.hmac(h, key, msg, {}, out));
        return out;
    };
    auto extract = [](OpenSslProvider& q, ConstBytes salt, ConstBytes ikm) {
        ByteVec out(32);
        EXPECT_TRUE(q.hkdf_extract(Hash::sha256, salt, ikm, out));
        return out;
    };
    auto expand = [](OpenSslProvider& q, Hash h, ConstBytes prk, ConstBytes inf) {
        ByteVec out(48);
        EXPECT_TRUE(q.hkdf_expand(h, prk, inf, out));
        return out;
    };
    for (int round = 0; round < 2; ++round) {
        OpenSslProvider f1, f2, f3, f4, f5, f6, f7, f8;  // fresh: one call each
        EXPECT_EQ(hmac(p, Hash::sha256, k1), hmac(f1, Hash::sha256, k1));
        EXPECT_EQ(hmac(p, Hash::sha512, k2), hmac(f2, Hash::sha512, k2));
        EXPECT_EQ(hmac(p, Hash::sha256, {}), hmac(f3, Hash::sha256, {}));  // no key after a key
        EXPECT_EQ(extract(p, k1, k2), extract(f4, k1, k2));
        EXPECT_EQ(extract(p, {}, k1), extract(f5, {}, k1));  // no salt after a salt
        EXPECT_EQ(extract(p, k1, {}), extract(f5, k1, {}));  // no key after a key
        EXPECT_EQ(expand(p, Hash::sha256, k1, info), expand(f6, Hash::sha256, k1, info));
        EXPECT_EQ(expand(p, Hash::sha256, k1, {}), expand(f7, Hash::sha256, k1, {}));  // no info after info
        EXPECT_EQ(expand(p, Hash::sha512, k2, info), expand(f8, Hash::sha512, k2, info));
        ByteVec over(255 * 32 + 1);
        EXPECT_EQ(p.hkdf_expand(Hash::sha256, k1, info, over).error(), Err::invalid_argument);
    }
}

// ---------------------------------------------------------------- hash, HMAC, HKDF

TEST(OpenSslProvider, HashAndHmacKnownAnswers) {
    OpenSslProvider p;
    // SHA-256("abc"), FIPS 180-2 B.1, split across a and b.
    const std::uint8_t abc[] = {'a', 'b', 'c'};
    const ByteVec sha256_abc = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    ByteVec out(32);
    ASSERT_TRUE(p.hash(Hash::sha256, ConstBytes(abc).first(1), ConstBytes(abc).subspan(1), out));
    EXPECT_EQ(out, sha256_abc);
    ByteVec out64(64);
    ASSERT_TRUE(p.hash(Hash::sha512, {}, {}, out64));
    EXPECT_EQ(out64[0], 0xcf);  // SHA-512("") = cf83e135...
    EXPECT_EQ(out64[63], 0x3e);
    ByteVec wrong(31);
    EXPECT_EQ(p.hash(Hash::sha256, {}, {}, wrong).error(), Err::buffer_too_small);
    EXPECT_EQ(p.hmac(Hash::sha256, {}, {}, {}, out64).error(), Err::invalid_argument);
    // HMAC with an empty key works (RFC 2104 pads it with zeros).
    EXPECT_TRUE(p.hmac(Hash::sha256, {}, abc, {}, out));
}

TEST(OpenSslProvider, HkdfRfc5869Case1AndLimits) {
    OpenSslProvider p;
    const ByteVec ikm(22, 0x0b);
    const ByteVec salt = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const ByteVec info = {0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9};
    ByteVec prk(32);
    ASSERT_TRUE(p.hkdf_extract(Hash::sha256, salt, ikm, prk));
    EXPECT_EQ(prk[0], 0x07);  // 077709362c2e32df...
    EXPECT_EQ(prk[31], 0xe5);
    ByteVec okm(42);
    ASSERT_TRUE(p.hkdf_expand(Hash::sha256, prk, info, okm));
    EXPECT_EQ(okm[0], 0x3c);  // 3cb25f25faacd57a...
    EXPECT_EQ(okm[41], 0x65);

    // Empty salt == HashLen zeros.
    ByteVec a(32), b(32);
    ASSERT_TRUE(p.hkdf_extract(Hash::sha256, {}, ikm, a));
    ASSERT_TRUE(p.hkdf_extract(Hash::sha256, ByteVec(32, 0), ikm, b));
    EXPECT_EQ(a, b);

    ByteVec max(255 * 32), over(255 * 32 + 1);
    EXPECT_TRUE(p.hkdf_expand(Hash::sha256, prk, info, max));
    EXPECT_EQ(p.hkdf_expand(Hash::sha256, prk, info, over).error(), Err::invalid_argument);
    ByteVec over512(255 * 64 + 1);
    EXPECT_EQ(p.hkdf_expand(Hash::sha512, ByteVec(64, 1), info, over512).error(), Err::invalid_argument);
}

TEST(OpenSslProvider, RandomFillsAndDiffers) {
    OpenSslProvider p;
    ByteVec a(64), b(64);
    ASSERT_TRUE(p.random(a));
    ASSERT_TRUE(p.random(b));
    EXPECT_NE(a, b);
    EXPECT_TRUE(p.random(Bytes{}));
}

// Small requests come from a pool (random_pool.hpp): successive ones differ,
// and a forked child does not hand out the bytes its parent's pool still holds.
TEST(OpenSslProvider, SmallRandomsComeFromAPoolThatAForkDoesNotShare) {
    OpenSslProvider p;
    std::array<std::uint8_t, 4> warm{};
    ASSERT_TRUE(p.random(warm));  // the pool now holds bytes drawn before the fork
    std::array<std::uint8_t, 4 * 16> mine{}, child{};
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        bool ok = true;
        for (std::size_t i = 0; i < child.size(); i += 4) ok = ok && p.random(Bytes(child.data() + i, 4));
        ok = ok && ::write(fds[1], child.data(), child.size()) == static_cast<ssize_t>(child.size());
        ::_exit(ok ? 0 : 1);
    }
    ::close(fds[1]);
    for (std::size_t i = 0; i < mine.size(); i += 4) ASSERT_TRUE(p.random(Bytes(mine.data() + i, 4)));
    std::size_t got = 0;
    while (got < child.size()) {
        const ssize_t n = ::read(fds[0], child.data() + got, child.size() - got);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_EQ(got, child.size());
    EXPECT_NE(mine, child);
    // No 4-byte draw of the child equals one of the parent's (2^-32 each by chance).
    for (std::size_t i = 0; i < mine.size(); i += 4)
        for (std::size_t j = 0; j < child.size(); j += 4)
            EXPECT_FALSE(std::equal(mine.begin() + i, mine.begin() + i + 4, child.begin() + j)) << i << " " << j;
    // Draws of every size up to the pool's request limit, and above it, all differ.
    std::array<std::uint8_t, 32> a{}, b{};
    ASSERT_TRUE(p.random(a));
    ASSERT_TRUE(p.random(b));
    EXPECT_NE(a, b);
    for (std::size_t n = 1; n <= 40; ++n) {
        ByteVec x(n), y(n);
        ASSERT_TRUE(p.random(x));
        ASSERT_TRUE(p.random(y));
        if (n >= 4) {
            EXPECT_NE(x, y) << n;
        }
    }
}

// ---------------------------------------------------------------- X25519

TEST(OpenSslProvider, X25519Agreement) {
    OpenSslProvider p;
    std::array<std::uint8_t, 32> a_priv{}, a_pub{}, b_priv{}, b_pub{}, s1{}, s2{};
    ASSERT_TRUE(p.x25519_keygen(a_priv, a_pub));
    ASSERT_TRUE(p.x25519_keygen(b_priv, b_pub));
    EXPECT_NE(a_pub, b_pub);
    ASSERT_TRUE(p.x25519(a_priv, a_pub, b_pub, s1));
    ASSERT_TRUE(p.x25519(b_priv, {}, a_pub, s2));
    EXPECT_EQ(s1, s2);
    EXPECT_FALSE(all_zero(s1));
    // With and without our own public key (a pair import vs a private-key import).
    std::array<std::uint8_t, 32> s3{};
    ASSERT_TRUE(p.x25519(b_priv, b_pub, a_pub, s3));
    EXPECT_EQ(s3, s1);
    ASSERT_TRUE(p.x25519(a_priv, {}, b_pub, s3));
    EXPECT_EQ(s3, s1);
}

TEST(OpenSslProvider, X25519RejectsLowOrderAndBadSizes) {
    OpenSslProvider p;
    std::array<std::uint8_t, 32> priv{}, pub{}, shared{};
    ASSERT_TRUE(p.x25519_keygen(priv, pub));
    std::array<std::uint8_t, 32> zero_peer{};
    std::array<std::uint8_t, 32> one_peer{};  // u = 1: order 1 as well
    one_peer[0] = 1;
    for (const auto& peer : {zero_peer, one_peer}) {
        shared.fill(0xaa);
        EXPECT_EQ(p.x25519(priv, {}, peer, shared).error(), Err::crypto_failure);
        EXPECT_TRUE(all_zero(shared));
        shared.fill(0xaa);
        EXPECT_EQ(p.x25519(priv, pub, peer, shared).error(), Err::crypto_failure);
        EXPECT_TRUE(all_zero(shared));
    }
    EXPECT_EQ(p.x25519(ConstBytes(priv).first(31), {}, pub, shared).error(), Err::invalid_argument);
    EXPECT_EQ(p.x25519(priv, {}, ConstBytes(pub).first(31), shared).error(), Err::invalid_argument);
    EXPECT_EQ(p.x25519(priv, ConstBytes(pub).first(31), pub, shared).error(), Err::invalid_argument);
    ByteVec small(31);
    EXPECT_EQ(p.x25519_keygen(small, pub).error(), Err::buffer_too_small);
}

// ---------------------------------------------------------------- signatures

class SignerTest : public ::testing::TestWithParam<SigAlg> {};

TEST_P(SignerTest, SignVerify) {
    const SigAlg alg = GetParam();
    auto signer = OpenSslSigner::generate(alg);
    ASSERT_TRUE(signer);
    EXPECT_EQ((*signer)->alg(), alg);
    const ConstBytes pub = (*signer)->public_key();
    ASSERT_EQ(pub.size(), pubkey_len(alg));
    if (alg != SigAlg::ed25519) {
        EXPECT_NE(pub[0] & 0x80, 0);
    }

    OpenSslProvider p;
    const ByteVec msg = pattern(100, 42);
    ByteVec sig(sig_len(alg));
    ASSERT_TRUE((*signer)->sign(msg, sig));
    EXPECT_TRUE(p.verify(alg, pub, msg, sig));
    EXPECT_TRUE(p.verify(alg, pub, {}, sig).error() == Err::bad_signature);

    ByteVec other = msg;
    other[0] ^= 1;
    EXPECT_EQ(p.verify(alg, pub, other, sig).error(), Err::bad_signature);
    ByteVec bad_sig = sig;
    bad_sig[sig.size() / 2] ^= 1;
    EXPECT_EQ(p.verify(alg, pub, msg, bad_sig).error(), Err::bad_signature);
    EXPECT_EQ(p.verify(alg, pub, msg, ConstBytes(sig).first(sig.size() - 1)).error(), Err::invalid_argument);
    EXPECT_EQ(p.verify(alg, pub.first(pub.size() - 1), msg, sig).error(), Err::invalid_argument);

    ByteVec small(sig_len(alg) - 1);
    EXPECT_EQ((*signer)->sign(msg, small).error(), Err::buffer_too_small);
}

INSTANTIATE_TEST_SUITE_P(All, SignerTest,
                         ::testing::Values(SigAlg::ed25519, SigAlg::rsa_pss_2048_sha256,
                                           SigAlg::rsa_pss_3072_sha256));

TEST(OpenSslProvider, RsaVerifyChecksEncodingAndParameters) {
    auto signer = OpenSslSigner::generate(SigAlg::rsa_pss_2048_sha256);
    ASSERT_TRUE(signer);
    OpenSslProvider p;
    const ByteVec msg = pattern(33, 9);
    ByteVec sig(256);
    ASSERT_TRUE((*signer)->sign(msg, sig));
    const ConstBytes pub = (*signer)->public_key();
    const std::uint8_t e[] = {1, 0, 1};
    // Same signature through the general function, with the protocol's parameters...
    EXPECT_TRUE(rsa_pss_verify(pub, e, MdAlg::sha256, MdAlg::sha256, 32, msg, sig));
    // ...and with other ones: the salt length and hashes are enforced.
    EXPECT_EQ(rsa_pss_verify(pub, e, MdAlg::sha256, MdAlg::sha256, 20, msg, sig).error(), Err::bad_signature);
    EXPECT_EQ(rsa_pss_verify(pub, e, MdAlg::sha256, MdAlg::sha1, 32, msg, sig).error(), Err::bad_signature);
    EXPECT_EQ(rsa_pss_verify(pub, e, MdAlg::sha512, MdAlg::sha256, 32, msg, sig).error(), Err::bad_signature);
    // A 2048-bit key is not accepted as RSA-3072, and a cleared top bit is refused.
    EXPECT_EQ(p.verify(SigAlg::rsa_pss_3072_sha256, pub, msg, sig).error(), Err::invalid_argument);
    ByteVec low(pub.begin(), pub.end());
    low[0] &= 0x7f;
    EXPECT_EQ(p.verify(SigAlg::rsa_pss_2048_sha256, low, msg, sig).error(), Err::invalid_argument);
    EXPECT_EQ(p.verify(static_cast<SigAlg>(9), pub, msg, sig).error(), Err::invalid_argument);
}

// ---------------------------------------------------------------- key files

class KeyFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (std::filesystem::temp_directory_path() / "lockstep-keys-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    std::string path(const char* name) const { return (dir_ / name).string(); }
    static mode_t mode_of(const std::string& p) {
        struct stat st {};
        EXPECT_EQ(::stat(p.c_str(), &st), 0);
        return st.st_mode & 07777;
    }
    static void chmod_or_fail(const std::string& p, mode_t m) { ASSERT_EQ(::chmod(p.c_str(), m), 0); }

    std::filesystem::path dir_;
};

TEST_F(KeyFileTest, SavePemCreates0600AndRefusesOverwrite) {
    const mode_t old_umask = ::umask(0);  // a permissive umask must not widen the file
    auto signer = OpenSslSigner::generate(SigAlg::ed25519);
    ASSERT_TRUE(signer);
    const std::string p = path("id.pem");
    const Status saved = (*signer)->save_pem(p.c_str());
    ::umask(old_umask);
    ASSERT_TRUE(saved);
    EXPECT_EQ(mode_of(p), 0600u);
    EXPECT_EQ((*signer)->save_pem(p.c_str()).error(), Err::invalid_argument);
    // A symlink at the path is refused too.
    const std::string link = path("link.pem");
    ASSERT_EQ(::symlink(path("elsewhere.pem").c_str(), link.c_str()), 0);
    EXPECT_EQ((*signer)->save_pem(link.c_str()).error(), Err::invalid_argument);
    EXPECT_FALSE(std::filesystem::exists(path("elsewhere.pem")));
    // The file is PKCS#8 PEM.
    std::FILE* f = std::fopen(p.c_str(), "r");
    ASSERT_NE(f, nullptr);
    char line[64] = {};
    ASSERT_NE(std::fgets(line, sizeof line, f), nullptr);
    std::fclose(f);
    EXPECT_EQ(std::string(line), "-----BEGIN PRIVATE KEY-----\n");
}

TEST_F(KeyFileTest, LoadPemRoundTripAllAlgorithms) {
    for (SigAlg alg : {SigAlg::ed25519, SigAlg::rsa_pss_2048_sha256, SigAlg::rsa_pss_3072_sha256}) {
        auto signer = OpenSslSigner::generate(alg);
        ASSERT_TRUE(signer);
        const std::string p = path(alg == SigAlg::ed25519               ? "ed.pem"
                                   : alg == SigAlg::rsa_pss_2048_sha256 ? "r2.pem"
                                                                        : "r3.pem");
        ASSERT_TRUE((*signer)->save_pem(p.c_str()));
        auto loaded = OpenSslSigner::load_pem(p.c_str());
        ASSERT_TRUE(loaded) << err_name(loaded.error());
        EXPECT_EQ((*loaded)->alg(), alg);
        const ConstBytes a = (*signer)->public_key();
        const ConstBytes b = (*loaded)->public_key();
        EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
        // The loaded key signs for the original public key.
        OpenSslProvider prov;
        const ByteVec msg = pattern(20, 3);
        ByteVec sig(sig_len(alg));
        ASSERT_TRUE((*loaded)->sign(msg, sig));
        EXPECT_TRUE(prov.verify(alg, a, msg, sig));
    }
}

TEST_F(KeyFileTest, LoadPemRefusesLoosePermissionsAndOddFiles) {
    auto signer = OpenSslSigner::generate(SigAlg::ed25519);
    ASSERT_TRUE(signer);
    const std::string p = path("id.pem");
    ASSERT_TRUE((*signer)->save_pem(p.c_str()));
    for (mode_t m : {0644, 0640, 0604, 0660, 0601}) {
        chmod_or_fail(p, m);
        EXPECT_EQ(OpenSslSigner::load_pem(p.c_str()).error(), Err::invalid_argument) << std::oct << m;
    }
    chmod_or_fail(p, 0400);
    EXPECT_TRUE(OpenSslSigner::load_pem(p.c_str()));
    EXPECT_EQ(OpenSslSigner::load_pem(path("missing.pem").c_str()).error(), Err::invalid_argument);
    EXPECT_EQ(OpenSslSigner::load_pem(dir_.c_str()).error(), Err::invalid_argument);  // a directory
    const std::string fifo = path("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_EQ(OpenSslSigner::load_pem(fifo.c_str()).error(), Err::invalid_argument);  // and no hang
    EXPECT_EQ(OpenSslSigner::load_pem(nullptr).error(), Err::invalid_argument);
    // Not a key at all.
    const std::uint8_t junk[] = {'h', 'e', 'l', 'l', 'o', '\n'};
    ASSERT_TRUE(write_secret_file(path("junk.pem").c_str(), junk));
    EXPECT_EQ(OpenSslSigner::load_pem(path("junk.pem").c_str()).error(), Err::invalid_argument);
}

// Writes `key` as PKCS#8 PEM with mode 0600, bypassing OpenSslSigner's checks.
void write_raw_pem(const std::string& p, EVP_PKEY* key) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    std::FILE* f = ::fdopen(fd, "w");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(PEM_write_PKCS8PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
    std::fclose(f);
}

TEST_F(KeyFileTest, LoadPemRefusesUnsupportedRsaKeys) {
    using Ctx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
    using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
    auto rsa = [](int bits, unsigned long e) {
        Ctx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr), &EVP_PKEY_CTX_free);
        std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_new(), &BN_free);
        EVP_PKEY* k = nullptr;
        const bool ok = ctx && bn && BN_set_word(bn.get(), e) == 1 && EVP_PKEY_keygen_init(ctx.get()) == 1 &&
                        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) == 1 &&
                        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), bn.get()) == 1 &&
                        EVP_PKEY_keygen(ctx.get(), &k) == 1;
        EXPECT_TRUE(ok);
        return Key(k, &EVP_PKEY_free);
    };
    const Key small = rsa(1024, 65537);
    const Key e3 = rsa(2048, 3);
    ASSERT_TRUE(small && e3);
    write_raw_pem(path("rsa1024.pem"), small.get());
    write_raw_pem(path("rsa2048e3.pem"), e3.get());
    EXPECT_EQ(OpenSslSigner::load_pem(path("rsa1024.pem").c_str()).error(), Err::invalid_argument);
    EXPECT_EQ(OpenSslSigner::load_pem(path("rsa2048e3.pem").c_str()).error(), Err::invalid_argument);
}

TEST_F(KeyFileTest, SecretFiles) {
    const ByteVec psk = pattern(32, 77);
    const std::string p = path("psk.bin");
    ASSERT_TRUE(write_secret_file(p.c_str(), psk));
    EXPECT_EQ(mode_of(p), 0600u);
    EXPECT_EQ(write_secret_file(p.c_str(), psk).error(), Err::invalid_argument);  // no overwrite

    ByteVec buf(64, 0xee);
    auto n = read_secret_file(p.c_str(), buf);
    ASSERT_TRUE(n);
    ASSERT_EQ(*n, psk.size());
    EXPECT_TRUE(std::equal(psk.begin(), psk.end(), buf.begin()));
    ByteVec exact(32);
    ASSERT_TRUE(read_secret_file(p.c_str(), exact));
    EXPECT_EQ(exact, psk);

    ByteVec small(31, 0xee);
    EXPECT_EQ(read_secret_file(p.c_str(), small).error(), Err::buffer_too_small);

    for (mode_t m : {0604, 0640, 0644}) {
        chmod_or_fail(p, m);
        EXPECT_EQ(read_secret_file(p.c_str(), buf).error(), Err::invalid_argument) << std::oct << m;
    }
    EXPECT_EQ(read_secret_file(path("missing").c_str(), buf).error(), Err::invalid_argument);
    EXPECT_EQ(read_secret_file(dir_.c_str(), buf).error(), Err::invalid_argument);

    const std::string empty = path("empty.bin");
    ASSERT_TRUE(write_secret_file(empty.c_str(), {}));
    auto zero = read_secret_file(empty.c_str(), buf);
    ASSERT_TRUE(zero);
    EXPECT_EQ(*zero, 0u);
}

}  // namespace
}  // namespace lockstep::crypto::openssl
