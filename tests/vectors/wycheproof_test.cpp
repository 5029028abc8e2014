// SPDX-License-Identifier: Apache-2.0
// Wycheproof vectors through every provider: one TEST_P per file, run for the
// OpenSSL, libsodium and BearSSL providers alike (RSA-PSS files: OpenSSL only,
// the libsodium and BearSSL providers must refuse RSA with Err::unsupported; the
// BearSSL provider verifies Ed25519 through libsodium's, composed). Every valid
// case must pass, every invalid one must be rejected.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <string>

#include "common/bytes.hpp"
#include "crypto/providers/bearssl/bearssl_provider.hpp"
#include "crypto/providers/openssl/openssl_provider.hpp"
#include "crypto/providers/sodium/sodium_provider.hpp"
#include "wycheproof.hpp"

namespace lockstep::crypto {
namespace {

using openssl::MdAlg;
using openssl::OpenSslProvider;
using openssl::rsa_pss_verify;
using bearssl::BearSslProvider;
using sodium::SodiumProvider;

namespace wp = lockstep::test::wycheproof;
using wp::ByteVec;
using wp::Expect;
using wp::Json;
using wp::Outcome;

bool all_zero(const ByteVec& v) {
    return std::all_of(v.begin(), v.end(), [](std::uint8_t b) { return b == 0; });
}

ByteVec concat(const ByteVec& a, const ByteVec& b) {
    ByteVec out = a;
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

enum class Impl { openssl, sodium, bearssl };

std::unique_ptr<Provider> make_provider(Impl impl) {
    if (impl == Impl::sodium) return std::make_unique<SodiumProvider>();
    if (impl == Impl::bearssl) return std::make_unique<BearSslProvider>(&sodium::ed25519_verify);
    return std::make_unique<OpenSslProvider>();
}

class Wycheproof : public ::testing::TestWithParam<Impl> {};

INSTANTIATE_TEST_SUITE_P(Providers, Wycheproof, ::testing::Values(Impl::openssl, Impl::sodium, Impl::bearssl),
                         [](const ::testing::TestParamInfo<Impl>& i) {
                             return std::string(i.param == Impl::sodium    ? "Sodium"
                                                : i.param == Impl::bearssl ? "BearSsl"
                                                                           : "OpenSsl");
                         });

// ---------------------------------------------------------------- AEAD

// Cases a provider refuses by design, and how:
//  OpenSSL: GCM nonces > 128 bytes (OpenSSL 3.0's limit), with invalid_argument;
//  libsodium: AES-GCM other than 256-bit keys with 12-byte nonces, or all of
//  AES-GCM on a CPU without AES-NI + PCLMUL, with unsupported;
//  BearSSL: none (any key size, any non-empty nonce).
bool refused_by_design(Impl impl, Aead aead, Err e, std::size_t iv_len) {
    if (impl == Impl::bearssl) return false;
    if (impl == Impl::openssl)
        return aead == Aead::aes_gcm && iv_len > OpenSslProvider::kMaxGcmNonceLen && e == Err::invalid_argument;
    return aead == Aead::aes_gcm && e == Err::unsupported;
}

void run_aead(Impl impl, const std::string& file, Aead aead, std::size_t expected_total,
              std::size_t expected_unsupported, const std::string& why_unsupported) {
    Json doc;
    ASSERT_TRUE(wp::load(file, doc));
    const auto provider = make_provider(impl);
    Provider& p = *provider;
    const auto counts = wp::run(file, doc, [&](const Json&, const Json& t, Expect expect) {
        const ByteVec key = wp::hex_field(t, "key");
        const ByteVec iv = wp::hex_field(t, "iv");
        const ByteVec aad = wp::hex_field(t, "aad");
        const ByteVec msg = wp::hex_field(t, "msg");
        const ByteVec ct_tag = concat(wp::hex_field(t, "ct"), wp::hex_field(t, "tag"));

        if (ct_tag.size() < kAeadTagLen) return Outcome::rejected;  // no tag: cannot be opened
        ByteVec opened(ct_tag.size() - kAeadTagLen, 0xaa);
        const Status st = p.aead_open(aead, key, iv, aad, ct_tag, opened);
        // Parameters the provider documents as unsupported: refused cleanly, both ways.
        if (!st && refused_by_design(impl, aead, st.error(), iv.size())) {
            ByteVec sealed(msg.size() + kAeadTagLen);
            EXPECT_EQ(p.aead_seal(aead, key, iv, aad, msg, sealed).error(), st.error());
            return Outcome::unsupported;
        }
        if (!st) {
            if (st.error() == Err::bad_mac) {
                EXPECT_TRUE(all_zero(opened)) << "plaintext not wiped";
            }
            if (expect == Expect::valid) {
                ADD_FAILURE() << "open failed: " << err_name(st.error());
            }
            return Outcome::rejected;
        }
        if (expect != Expect::valid) return Outcome::accepted;

        EXPECT_EQ(opened, msg);
        ByteVec sealed(msg.size() + kAeadTagLen);
        EXPECT_TRUE(p.aead_seal(aead, key, iv, aad, msg, sealed));
        EXPECT_EQ(sealed, ct_tag);
        // In place, both ways.
        ByteVec buf = msg;
        buf.resize(msg.size() + kAeadTagLen);
        EXPECT_TRUE(p.aead_seal(aead, key, iv, aad, Bytes(buf).first(msg.size()), buf));
        EXPECT_EQ(buf, ct_tag);
        EXPECT_TRUE(p.aead_open(aead, key, iv, aad, buf, Bytes(buf).first(msg.size())));
        EXPECT_TRUE(std::equal(msg.begin(), msg.end(), buf.begin()));
        return opened == msg && sealed == ct_tag ? Outcome::accepted : Outcome::rejected;
    });
    EXPECT_EQ(counts.unsupported, expected_unsupported);
    wp::check_and_report(file, doc, counts, expected_total, counts.unsupported ? why_unsupported : "");
}

TEST_P(Wycheproof, AesGcm) {
    if (GetParam() == Impl::openssl) {
        run_aead(Impl::openssl, "aes_gcm_test.json", Aead::aes_gcm, 316, 3,
                 "unsupported = GCM nonces > 128 bytes (OpenSSL 3.0 limit), refused with invalid_argument");
    } else if (GetParam() == Impl::bearssl) {
        run_aead(Impl::bearssl, "aes_gcm_test.json", Aead::aes_gcm, 316, 0, "");
    } else if (SodiumProvider().aes_gcm_available()) {
        // 316 cases: 6 cannot be opened (no tag, empty nonce), 66 are AES-256 with
        // 12-byte nonces, the 244 others use other key or nonce sizes.
        run_aead(Impl::sodium, "aes_gcm_test.json", Aead::aes_gcm, 316, 244,
                 "unsupported = AES-128/192 or nonces other than 12 bytes (libsodium has AES-256-GCM, 12-byte "
                 "nonces only)");
    } else {
        run_aead(Impl::sodium, "aes_gcm_test.json", Aead::aes_gcm, 316, 310,
                 "unsupported = all of AES-GCM (libsodium runs it only with AES-NI + PCLMUL)");
    }
}
TEST_P(Wycheproof, ChaCha20Poly1305) {
    run_aead(GetParam(), "chacha20_poly1305_test.json", Aead::chacha20_poly1305, 325, 0, "");
}

// ---------------------------------------------------------------- X25519

TEST_P(Wycheproof, X25519) {
    const std::string file = "x25519_test.json";
    Json doc;
    ASSERT_TRUE(wp::load(file, doc));
    const auto provider = make_provider(GetParam());
    Provider& p = *provider;
    const auto counts = wp::run(file, doc, [&](const Json& g, const Json& t, Expect expect) {
        EXPECT_EQ(g.at("curve").get<std::string>(), "curve25519");
        const ByteVec pub = wp::hex_field(t, "public");
        const ByteVec priv = wp::hex_field(t, "private");
        const ByteVec want = wp::hex_field(t, "shared");
        std::array<std::uint8_t, kX25519Len> shared{};
        shared.fill(0xaa);
        const Status st = p.x25519(priv, {}, pub, shared);
        const bool zero_expected = want.size() == kX25519Len && all_zero(want);
        if (zero_expected) {
            // RFC 7748 §6.1: must be refused, whatever the label says.
            EXPECT_EQ(st.error(), Err::crypto_failure);
            EXPECT_TRUE(std::all_of(shared.begin(), shared.end(), [](std::uint8_t b) { return b == 0; }));
            return st ? Outcome::accepted : Outcome::rejected;
        }
        if (!st) {
            if (expect != Expect::invalid) {
                ADD_FAILURE() << "x25519 failed: " << err_name(st.error());
            }
            return Outcome::rejected;
        }
        const bool match = ByteVec(shared.begin(), shared.end()) == want;
        if (expect != Expect::invalid) {
            EXPECT_TRUE(match) << "wrong shared secret";
        }
        return match ? Outcome::accepted : Outcome::rejected;
    });
    wp::check_and_report(file, doc, counts, 518, "acceptable rejected = exactly the all-zero shared secrets");
}

// ---------------------------------------------------------------- Ed25519

TEST_P(Wycheproof, Ed25519) {
    const std::string file = "ed25519_test.json";
    Json doc;
    ASSERT_TRUE(wp::load(file, doc));
    const auto provider = make_provider(GetParam());
    Provider& p = *provider;
    const auto counts = wp::run(file, doc, [&](const Json& g, const Json& t, Expect) {
        const ByteVec pk = wp::hex_field(g.at("publicKey"), "pk");
        const ByteVec msg = wp::hex_field(t, "msg");
        const ByteVec sig = wp::hex_field(t, "sig");
        const Status st = p.verify(SigAlg::ed25519, pk, msg, sig);
        if (!st) {
            EXPECT_TRUE(st.error() == Err::bad_signature || st.error() == Err::invalid_argument)
                << err_name(st.error());
        }
        return st ? Outcome::accepted : Outcome::rejected;
    });
    wp::check_and_report(file, doc, counts, 151);
}

// ---------------------------------------------------------------- HKDF

void run_hkdf(Impl impl, const std::string& file, Hash h, std::size_t expected_total) {
    Json doc;
    ASSERT_TRUE(wp::load(file, doc));
    const auto provider = make_provider(impl);
    Provider& p = *provider;
    const auto counts = wp::run(file, doc, [&](const Json&, const Json& t, Expect expect) {
        const ByteVec ikm = wp::hex_field(t, "ikm");
        const ByteVec salt = wp::hex_field(t, "salt");
        const ByteVec info = wp::hex_field(t, "info");
        const ByteVec okm = wp::hex_field(t, "okm");
        ByteVec prk(hash_len(h));
        ByteVec out(t.at("size").get<std::size_t>());
        EXPECT_TRUE(p.hkdf_extract(h, salt, ikm, prk));
        const Status st = p.hkdf_expand(h, prk, info, out);
        if (!st) {
            EXPECT_EQ(st.error(), Err::invalid_argument);
            EXPECT_GT(out.size(), 255 * hash_len(h)) << "refused a legal size";
            return Outcome::rejected;
        }
        if (expect == Expect::valid) {
            EXPECT_EQ(out, okm);
        }
        return out == okm ? Outcome::accepted : Outcome::rejected;
    });
    wp::check_and_report(file, doc, counts, expected_total);
}

TEST_P(Wycheproof, HkdfSha256) { run_hkdf(GetParam(), "hkdf_sha256_test.json", Hash::sha256, 86); }
TEST_P(Wycheproof, HkdfSha512) { run_hkdf(GetParam(), "hkdf_sha512_test.json", Hash::sha512, 83); }

// ---------------------------------------------------------------- HMAC

void run_hmac(Impl impl, const std::string& file, Hash h, std::size_t expected_total) {
    Json doc;
    ASSERT_TRUE(wp::load(file, doc));
    const auto provider = make_provider(impl);
    Provider& p = *provider;
    const auto counts = wp::run(file, doc, [&](const Json& g, const Json& t, Expect) {
        const std::size_t tag_bytes = g.at("tagSize").get<std::size_t>() / 8;
        const ByteVec key = wp::hex_field(t, "key");
        const ByteVec msg = wp::hex_field(t, "msg");
        const ByteVec tag = wp::hex_field(t, "tag");
        EXPECT_LE(tag_bytes, hash_len(h));
        ByteVec full(hash_len(h));
        EXPECT_TRUE(p.hmac(h, key, msg, {}, full));
        // The a || b split must not change the result.
        const ConstBytes m(msg);
        ByteVec split(hash_len(h));
        EXPECT_TRUE(p.hmac(h, key, m.first(m.size() / 2), m.subspan(m.size() / 2), split));
        EXPECT_EQ(split, full);
        // Truncated tag: the leftmost tagSize/8 bytes, compared in constant time.
        const bool ok = tag.size() == tag_bytes && tag_bytes <= full.size() &&
                        ct_equal(ConstBytes(full).first(tag_bytes), tag);
        return ok ? Outcome::accepted : Outcome::rejected;
    });
    wp::check_and_report(file, doc, counts, expected_total);
}

TEST_P(Wycheproof, HmacSha256) { run_hmac(GetParam(), "hmac_sha256_test.json", Hash::sha256, 174); }
TEST_P(Wycheproof, HmacSha512) { run_hmac(GetParam(), "hmac_sha512_test.json", Hash::sha512, 174); }

// ---------------------------------------------------------------- RSA-PSS
// OpenSSL only: libsodium has no RSA, BearSSL 0.6 no RSA-PSS, and their providers say so.

TEST(WycheproofSodium, RsaPssUnsupported) {
    SodiumProvider sodium;
    BearSslProvider bearssl(&sodium::ed25519_verify);
    const std::uint8_t msg[1] = {0};
    for (Provider* p : {static_cast<Provider*>(&sodium), static_cast<Provider*>(&bearssl)})
        for (const SigAlg alg : {SigAlg::rsa_pss_2048_sha256, SigAlg::rsa_pss_3072_sha256}) {
            const ByteVec key(pubkey_len(alg), 0x80);
            const ByteVec sig(sig_len(alg), 0x01);
            EXPECT_EQ(p->verify(alg, key, msg, sig).error(), Err::unsupported);
        }
}

// Without a composed Ed25519 verifier the BearSSL provider refuses Ed25519 (it has none).
TEST(WycheproofBearSsl, Ed25519WithoutVerifierUnsupported) {
    BearSslProvider p;
    const ByteVec key(32, 0x01), sig(64, 0x02);
    const std::uint8_t msg[1] = {0};
    EXPECT_EQ(p.verify(SigAlg::ed25519, key, msg, sig).error(), Err::unsupported);
}

MdAlg md_alg(const std::string& name) {
    static const std::map<std::string, MdAlg> names = {
        {"SHA-1", MdAlg::sha1},     {"SHA-224", MdAlg::sha224}, {"SHA-256", MdAlg::sha256},
        {"SHA-384", MdAlg::sha384}, {"SHA-512", MdAlg::sha512},
    };
    const auto it = names.find(name);
    if (it == names.end()) {
        ADD_FAILURE() << "unsupported hash " << name;
        return MdAlg::sha256;
    }
    return it->second;
}

// The group's key: publicKey.modulus / publicExponent when present, else decoded
// from publicKeyDer. When both exist they must agree.
wp::RsaPublic group_key(const Json& g) {
    std::optional<wp::RsaPublic> der;
    if (g.contains("publicKeyDer")) der = wp::rsa_public_from_der(wp::hex_field(g, "publicKeyDer"));
    if (g.contains("publicKey") && g["publicKey"].contains("modulus")) {
        wp::RsaPublic k{wp::strip_leading_zeros(wp::hex_field(g["publicKey"], "modulus")),
                        wp::strip_leading_zeros(wp::hex_field(g["publicKey"], "publicExponent"))};
        if (g.contains("publicKeyDer")) {
            EXPECT_TRUE(der.has_value()) << "publicKeyDer does not decode";
            if (der) {
                EXPECT_EQ(der->n, k.n) << "DER modulus differs from publicKey.modulus";
                EXPECT_EQ(der->e, k.e) << "DER exponent differs from publicKey.publicExponent";
            }
        }
        return k;
    }
    EXPECT_TRUE(der.has_value()) << "group has neither publicKey.modulus nor a decodable publicKeyDer";
    return der.value_or(wp::RsaPublic{});
}

// Our SigAlg for these parameters, if the protocol has one.
std::optional<SigAlg> protocol_alg(const Json& g, const wp::RsaPublic& k) {
    const bool params = g.at("sha") == "SHA-256" && g.at("mgf") == "MGF1" && g.at("mgfSha") == "SHA-256" &&
                        g.at("sLen").get<int>() == 32 && k.e == ByteVec{0x01, 0x00, 0x01};
    if (!params) return std::nullopt;
    if (g.at("keySize").get<int>() == 2048 && k.n.size() == 256) return SigAlg::rsa_pss_2048_sha256;
    if (g.at("keySize").get<int>() == 3072 && k.n.size() == 384) return SigAlg::rsa_pss_3072_sha256;
    return std::nullopt;
}

void run_rsa_pss(const std::string& file, std::size_t expected_total) {
    Json doc;
    ASSERT_TRUE(wp::load(file, doc));
    OpenSslProvider p;
    std::size_t via_provider = 0;
    std::size_t via_general = 0;
    const auto counts = wp::run(file, doc, [&](const Json& g, const Json& t, Expect) {
        const wp::RsaPublic k = group_key(g);
        const ByteVec msg = wp::hex_field(t, "msg");
        const ByteVec sig = wp::hex_field(t, "sig");
        const Status general = rsa_pss_verify(k.n, k.e, md_alg(g.at("sha")), md_alg(g.at("mgfSha")),
                                              g.at("sLen").get<int>(), msg, sig);
        if (!general) {
            EXPECT_TRUE(general.error() == Err::bad_signature || general.error() == Err::invalid_argument)
                << err_name(general.error());
        }
        if (const auto alg = protocol_alg(g, k)) {
            ++via_provider;
            const Status st = p.verify(*alg, k.n, msg, sig);
            EXPECT_EQ(static_cast<bool>(st), static_cast<bool>(general)) << "provider and rsa_pss_verify disagree";
            return st ? Outcome::accepted : Outcome::rejected;
        }
        ++via_general;
        return general ? Outcome::accepted : Outcome::rejected;
    });
    wp::check_and_report(file, doc, counts, expected_total,
                         "via Provider::verify " + std::to_string(via_provider) + ", via rsa_pss_verify " +
                             std::to_string(via_general));
}

TEST(WycheproofOpenSsl, RsaPss2048Sha256Mgf1_32) { run_rsa_pss("rsa_pss_2048_sha256_mgf1_32_test.json", 108); }
TEST(WycheproofOpenSsl, RsaPss2048Sha256Mgf1_0) { run_rsa_pss("rsa_pss_2048_sha256_mgf1_0_test.json", 103); }
TEST(WycheproofOpenSsl, RsaPss3072Sha256Mgf1_32) { run_rsa_pss("rsa_pss_3072_sha256_mgf1_32_test.json", 108); }
TEST(WycheproofOpenSsl, RsaPss2048Sha256Mgf1_32Params) {
    run_rsa_pss("rsa_pss_2048_sha256_mgf1_32_params_test.json", 108);
}
TEST(WycheproofOpenSsl, RsaPss3072Sha256Mgf1_32Params) {
    run_rsa_pss("rsa_pss_3072_sha256_mgf1_32_params_test.json", 108);
}
TEST(WycheproofOpenSsl, RsaPss4096Sha512Mgf1_64) { run_rsa_pss("rsa_pss_4096_sha512_mgf1_64_test.json", 179); }
TEST(WycheproofOpenSsl, RsaPss4096Sha512Mgf1_32) { run_rsa_pss("rsa_pss_4096_sha512_mgf1_32_test.json", 177); }
TEST(WycheproofOpenSsl, RsaPssMisc) { run_rsa_pss("rsa_pss_misc_test.json", 150); }

}  // namespace
}  // namespace lockstep::crypto
