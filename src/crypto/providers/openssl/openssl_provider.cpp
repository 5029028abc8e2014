// SPDX-License-Identifier: Apache-2.0
#include "lockstep/openssl/provider.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <array>
#include <climits>
#include <cstring>
#include <memory>

#include "common/bytes.hpp"
#include "crypto/provider_util.hpp"
#include "ossl_ptr.hpp"
#include "random_pool.hpp"

namespace lockstep::crypto::openssl {
namespace {

using namespace detail;

// Every failure leaves the thread's OpenSSL error queue empty again.
Err fail(Err e) noexcept {
    ERR_clear_error();
    return e;
}

// OpenSSL wants non-null pointers even for zero-length inputs (provider_util.hpp).
const unsigned char* ptr(ConstBytes b) noexcept { return nonnull(b); }

bool fits_int(std::size_t n) noexcept { return n <= static_cast<std::size_t>(INT_MAX); }

const char* md_name(Hash h) noexcept { return h == Hash::sha256 ? "SHA256" : "SHA512"; }

const EVP_MD* md_of(MdAlg m) noexcept {
    switch (m) {
        case MdAlg::sha1: return EVP_sha1();
        case MdAlg::sha224: return EVP_sha224();
        case MdAlg::sha256: return EVP_sha256();
        case MdAlg::sha384: return EVP_sha384();
        case MdAlg::sha512: return EVP_sha512();
    }
    return nullptr;
}

bool nonce_ok(Aead a, std::size_t n) noexcept {
    if (a == Aead::chacha20_poly1305) return n == 12;
    return n >= 1 && n <= OpenSslProvider::kMaxGcmNonceLen;
}

// The IV length a freshly initialised GCM or ChaCha20-Poly1305 context expects.
constexpr std::size_t kDefaultNonceLen = 12;

// Keys the (reset) context for one call: cipher, nonce length, key and nonce,
// then the AAD. The protocol's 12-byte nonces take the one-call path.
Status aead_init(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, bool encrypt, ConstBytes key, ConstBytes nonce,
                 ConstBytes aad) noexcept {
    const int enc = encrypt ? 1 : 0;
    const bool ok =
        nonce.size() == kDefaultNonceLen
            ? EVP_CipherInit_ex2(ctx, cipher, key.data(), nonce.data(), enc, nullptr) == 1
            : EVP_CipherInit_ex2(ctx, cipher, nullptr, nullptr, enc, nullptr) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) == 1 &&
                  EVP_CipherInit_ex2(ctx, nullptr, key.data(), nonce.data(), enc, nullptr) == 1;
    if (!ok) return fail(Err::crypto_failure);
    int len = 0;
    if (!aad.empty() && EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
        return fail(Err::crypto_failure);
    }
    return {};
}

// An HKDF context with its digest set; null on failure.
KdfCtx new_hkdf_ctx(EVP_KDF* hkdf, Hash h) noexcept {
    KdfCtx ctx(hkdf != nullptr ? EVP_KDF_CTX_new(hkdf) : nullptr);
    const OSSL_PARAM digest[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(md_name(h)), 0),
        OSSL_PARAM_construct_end(),
    };
    if (ctx && EVP_KDF_CTX_set_params(ctx.get(), digest) != 1) ctx.reset();
    return ctx;
}

// Wipes a cached context when the call ends, on every path: the reset frees the
// cipher's state with OPENSSL_clear_free, so no key schedule outlives the call.
struct ResetCipherOnExit {
    EVP_CIPHER_CTX* ctx;
    ~ResetCipherOnExit() { (void)EVP_CIPHER_CTX_reset(ctx); }
};

// The wipe for the reused HMAC and HKDF contexts: re-keying them with this
// clears (OPENSSL_clear_free) the copy of the last key they hold.
constexpr std::uint8_t kWipeKey[1] = {0};

// Builds an RSA public key from big-endian n and e.
Pkey rsa_public_key(ConstBytes n, ConstBytes e) noexcept {
    Bignum bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
    Bignum bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
    ParamBld bld(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
        return nullptr;
    }
    Params params(OSSL_PARAM_BLD_to_param(bld.get()));
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) return nullptr;
    return Pkey(raw);
}

ConstBytes strip_leading_zeros(ConstBytes v) noexcept {
    std::size_t i = 0;
    while (i < v.size() && v[i] == 0) ++i;
    return v.subspan(i);
}

// OpenSSL's limit for RSA moduli (OPENSSL_RSA_MAX_MODULUS_BITS).
constexpr std::size_t kMaxRsaModulusLen = 16384 / 8;
constexpr std::size_t kEd25519KeyLen = 32;
constexpr std::uint8_t kRsaE65537[] = {0x01, 0x00, 0x01};
constexpr int kPssSaltLen = 32;  // spec: PROTOCOL.md §4.3

Status ed25519_verify(ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept {
    if (pubkey.size() != kEd25519KeyLen || sig.size() != sig_len(SigAlg::ed25519)) {
        return Err::invalid_argument;
    }
    Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pubkey.data(), pubkey.size()));
    MdCtx ctx(EVP_MD_CTX_new());
    if (!key || !ctx) return fail(Err::bad_signature);
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
        return fail(Err::bad_signature);
    }
    if (EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), ptr(msg), msg.size()) != 1) {
        return fail(Err::bad_signature);
    }
    return {};
}

}  // namespace

Status rsa_pss_verify(ConstBytes n, ConstBytes e, MdAlg hash, MdAlg mgf1_hash, int salt_len,
                      ConstBytes msg, ConstBytes sig) noexcept {
    const ConstBytes modulus = strip_leading_zeros(n);
    const ConstBytes exponent = strip_leading_zeros(e);
    const EVP_MD* md = md_of(hash);
    const EVP_MD* mgf1 = md_of(mgf1_hash);
    if (modulus.empty() || modulus.size() > kMaxRsaModulusLen || exponent.empty() ||
        exponent.size() > kMaxRsaModulusLen || salt_len < 0 || md == nullptr || mgf1 == nullptr ||
        sig.size() != modulus.size()) {
        return Err::invalid_argument;
    }
    Pkey key = rsa_public_key(modulus, exponent);
    MdCtx ctx(EVP_MD_CTX_new());
    if (!key || !ctx) return fail(Err::bad_signature);
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1) != 1) {
        return fail(Err::bad_signature);
    }
    if (EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), ptr(msg), msg.size()) != 1) {
        return fail(Err::bad_signature);
    }
    return {};
}

OpenSslProvider::OpenSslProvider() noexcept
    : hmac_(EVP_MAC_fetch(nullptr, "HMAC", nullptr)), hkdf_(EVP_KDF_fetch(nullptr, "HKDF", nullptr)) {
    // In CipherIndex order.
    static constexpr const char* kCipherNames[kCipherSlots] = {"AES-128-GCM", "AES-192-GCM", "AES-256-GCM",
                                                               "ChaCha20-Poly1305"};
    for (std::size_t i = 0; i < kCipherSlots; ++i) {
        ciphers_[i].cipher = EVP_CIPHER_fetch(nullptr, kCipherNames[i], nullptr);
        ciphers_[i].ctx = EVP_CIPHER_CTX_new();
    }
    for (Hash h : {Hash::sha256, Hash::sha512}) {
        const auto i = static_cast<std::size_t>(h);
        digests_[i].md = EVP_MD_fetch(nullptr, md_name(h), nullptr);
        digests_[i].ctx = EVP_MD_CTX_new();
        if (hmac_ != nullptr) {
            MacCtx mac(EVP_MAC_CTX_new(hmac_));
            const OSSL_PARAM digest[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(md_name(h)), 0),
                OSSL_PARAM_construct_end(),
            };
            if (mac && EVP_MAC_CTX_set_params(mac.get(), digest) == 1) hmac_ctx_[i] = mac.release();
        }
        hkdf_ctx_[i] = new_hkdf_ctx(hkdf_, h).release();
    }
    x25519_import_ = EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr);
    random_pool_ = detail::random_pool_open();
    ERR_clear_error();
}

OpenSslProvider::~OpenSslProvider() {
    for (CipherSlot& c : ciphers_) {
        EVP_CIPHER_CTX_free(c.ctx);
        EVP_CIPHER_free(c.cipher);
    }
    for (std::size_t i = 0; i < kHashes; ++i) {
        EVP_MD_CTX_free(digests_[i].ctx);
        EVP_MD_free(digests_[i].md);
        EVP_MAC_CTX_free(hmac_ctx_[i]);
        EVP_KDF_CTX_free(hkdf_ctx_[i]);
    }
    EVP_MAC_free(hmac_);
    EVP_KDF_free(hkdf_);
    EVP_PKEY_CTX_free(x25519_import_);
    detail::random_pool_close(random_pool_);
}

// The cached cipher for an AEAD call, after the argument checks the slots need.
Result<OpenSslProvider::CipherSlot*> OpenSslProvider::aead_slot(Aead a, std::size_t key_len, std::size_t nonce_len,
                                                                std::size_t aad_len) noexcept {
    std::size_t i = kCipherSlots;  // none
    if (a == Aead::chacha20_poly1305) {
        if (key_len == 32) i = kChaCha20Poly1305;
    } else {
        i = key_len == 16 ? kAes128Gcm : key_len == 24 ? kAes192Gcm : key_len == 32 ? kAes256Gcm : kCipherSlots;
    }
    if (i == kCipherSlots || !nonce_ok(a, nonce_len) || !fits_int(aad_len)) return Err::invalid_argument;
    CipherSlot* slot = &ciphers_[i];
    if (slot->cipher == nullptr || slot->ctx == nullptr) return fail(Err::crypto_failure);
    return slot;
}

Status OpenSslProvider::random(Bytes out) noexcept {
    if (random_pool_ != nullptr && !out.empty() && out.size() <= detail::kPoolRequest) {
        if (detail::random_pool_take(random_pool_, out)) return {};
        OPENSSL_cleanse(out.data(), out.size());
        return fail(Err::rng_failure);
    }
    std::size_t done = 0;
    while (done < out.size()) {
        const std::size_t chunk = out.size() - done < static_cast<std::size_t>(INT_MAX)
                                      ? out.size() - done
                                      : static_cast<std::size_t>(INT_MAX);
        if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
            OPENSSL_cleanse(out.data(), out.size());
            return fail(Err::rng_failure);
        }
        done += chunk;
    }
    return {};
}

Status OpenSslProvider::hash(Hash h, ConstBytes a, ConstBytes b, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    const DigestSlot& d = digests_[static_cast<std::size_t>(h)];
    unsigned int len = 0;
    // EVP_DigestInit_ex2 restarts the reused context from scratch.
    if (d.md == nullptr || d.ctx == nullptr || EVP_DigestInit_ex2(d.ctx, d.md, nullptr) != 1 ||
        EVP_DigestUpdate(d.ctx, ptr(a), a.size()) != 1 || EVP_DigestUpdate(d.ctx, ptr(b), b.size()) != 1 ||
        EVP_DigestFinal_ex(d.ctx, out.data(), &len) != 1 || len != out.size()) {
        return fail(Err::crypto_failure);
    }
    return {};
}

Status OpenSslProvider::hmac(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    EVP_MAC_CTX* ctx = hmac_ctx_[static_cast<std::size_t>(h)];
    if (ctx == nullptr) return fail(Err::crypto_failure);
    std::size_t len = 0;
    const bool ok = EVP_MAC_init(ctx, ptr(key), key.size(), nullptr) == 1 &&
                    EVP_MAC_update(ctx, ptr(a), a.size()) == 1 && EVP_MAC_update(ctx, ptr(b), b.size()) == 1 &&
                    EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 && len == out.size();
    // Replaces the key copy and the key's pads in the context.
    const bool wiped = EVP_MAC_init(ctx, kWipeKey, sizeof kWipeKey, nullptr) == 1;
    if (!ok || !wiped) {
        OPENSSL_cleanse(out.data(), out.size());
        return fail(Err::crypto_failure);
    }
    return {};
}

// One HKDF call: `params` give mode, key and salt or info. On the reused
// context the copy of the key (and salt) is replaced by kWipeKey afterwards.
// one_shot: a context of its own instead, freed (and so wiped) at once.
Status OpenSslProvider::hkdf(Hash h, const OSSL_PARAM* params, Bytes out, bool one_shot) noexcept {
    const KdfCtx own = one_shot ? new_hkdf_ctx(hkdf_, h) : nullptr;
    EVP_KDF_CTX* ctx = one_shot ? own.get() : hkdf_ctx_[static_cast<std::size_t>(h)];
    if (ctx == nullptr) return fail(Err::crypto_failure);
    const bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
    const OSSL_PARAM wipe[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(kWipeKey), sizeof kWipeKey),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(kWipeKey), sizeof kWipeKey),
        OSSL_PARAM_construct_end(),
    };
    const bool wiped = one_shot || EVP_KDF_CTX_set_params(ctx, wipe) == 1;
    if (!ok || !wiped) {
        OPENSSL_cleanse(out.data(), out.size());
        return fail(Err::crypto_failure);
    }
    return {};
}

Status OpenSslProvider::hkdf_extract(Hash h, ConstBytes salt, ConstBytes ikm, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    // RFC 5869 §2.2: a missing salt is HashLen zero bytes. Said explicitly rather
    // than relying on HMAC's zero padding of short keys.
    static constexpr std::array<std::uint8_t, 64> kZeroSalt{};
    const ConstBytes s = salt.empty() ? ConstBytes(kZeroSalt.data(), hash_len(h)) : salt;
    int mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(ptr(ikm)), ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<unsigned char*>(s.data()), s.size()),
        OSSL_PARAM_construct_end(),
    };
    return hkdf(h, params, out, false);
}

Status OpenSslProvider::hkdf_expand(Hash h, ConstBytes prk, ConstBytes info, Bytes out) noexcept {
    if (out.size() > 255 * hash_len(h)) return Err::invalid_argument;  // RFC 5869 §2.3
    if (out.empty()) return {};
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    // Info replaces the previous call's. Empty info goes to a context of its
    // own: OpenSSL 3.0.19 frees the old info but keeps its length when a reused
    // HKDF context gets an empty one, and then reads a null pointer.
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(ptr(prk)), prk.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<unsigned char*>(ptr(info)), info.size()),
        OSSL_PARAM_construct_end(),
    };
    return hkdf(h, params, out, info.empty());
}

Status OpenSslProvider::aead_seal(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes pt,
                                  Bytes out) noexcept {
    if (!fits_int(pt.size() + kAeadTagLen)) return Err::invalid_argument;
    LS_TRY(check_out(out.size(), pt.size() + kAeadTagLen));
    if (!alias_ok(pt, out)) return Err::invalid_argument;
    auto slot = aead_slot(a, key.size(), nonce.size(), aad.size());
    if (!slot) return slot.error();
    EVP_CIPHER_CTX* ctx = (*slot)->ctx;
    const ResetCipherOnExit reset{ctx};
    LS_TRY(aead_init(ctx, (*slot)->cipher, true, key, nonce, aad));

    int len = 0;
    int fin = 0;
    // Zero-length updates are skipped: with a null input OpenSSL would take them as AAD.
    if ((!pt.empty() &&
         (EVP_EncryptUpdate(ctx, out.data(), &len, pt.data(), static_cast<int>(pt.size())) != 1 ||
          static_cast<std::size_t>(len) != pt.size())) ||
        EVP_EncryptFinal_ex(ctx, out.data() + pt.size(), &fin) != 1 || fin != 0 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAeadTagLen), out.data() + pt.size()) != 1) {
        OPENSSL_cleanse(out.data(), out.size());
        return fail(Err::crypto_failure);
    }
    return {};
}

Status OpenSslProvider::aead_open(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad,
                                  ConstBytes ct_and_tag, Bytes out) noexcept {
    if (ct_and_tag.size() < kAeadTagLen || !fits_int(ct_and_tag.size())) return Err::invalid_argument;
    const std::size_t ct_len = ct_and_tag.size() - kAeadTagLen;
    LS_TRY(check_out(out.size(), ct_len));
    if (!alias_ok(ct_and_tag, out)) return Err::invalid_argument;
    auto slot = aead_slot(a, key.size(), nonce.size(), aad.size());
    if (!slot) return slot.error();
    EVP_CIPHER_CTX* ctx = (*slot)->ctx;
    const ResetCipherOnExit reset{ctx};
    LS_TRY(aead_init(ctx, (*slot)->cipher, false, key, nonce, aad));

    // Copied before decrypting: with out == input the tag bytes stay untouched
    // anyway, but this keeps the ctrl call off caller memory.
    std::array<std::uint8_t, kAeadTagLen> tag{};
    std::memcpy(tag.data(), ct_and_tag.data() + ct_len, kAeadTagLen);

    int len = 0;
    int fin = 0;
    std::uint8_t final_block[1];  // GCM / Poly1305 finals write nothing; never a null pointer
    if ((ct_len != 0 &&
         (EVP_DecryptUpdate(ctx, out.data(), &len, ct_and_tag.data(), static_cast<int>(ct_len)) != 1 ||
          static_cast<std::size_t>(len) != ct_len)) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kAeadTagLen), tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx, final_block, &fin) != 1 || fin != 0) {
        // Unauthenticated plaintext must not survive (crypto.hpp).
        if (!out.empty()) OPENSSL_cleanse(out.data(), out.size());
        return fail(Err::bad_mac);
    }
    return {};
}

Status OpenSslProvider::x25519_keygen(Bytes priv32, Bytes pub32) noexcept {
    LS_TRY(check_out(priv32.size(), kX25519Len));
    LS_TRY(check_out(pub32.size(), kX25519Len));
    PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
        return fail(Err::rng_failure);
    }
    Pkey key(raw);
    std::size_t priv_len = priv32.size();
    std::size_t pub_len = pub32.size();
    if (EVP_PKEY_get_raw_private_key(key.get(), priv32.data(), &priv_len) != 1 || priv_len != kX25519Len ||
        EVP_PKEY_get_raw_public_key(key.get(), pub32.data(), &pub_len) != 1 || pub_len != kX25519Len) {
        OPENSSL_cleanse(priv32.data(), priv32.size());
        return fail(Err::crypto_failure);
    }
    return {};
}

Status OpenSslProvider::x25519(ConstBytes priv32, ConstBytes pub32, ConstBytes peer_pub32, Bytes shared32) noexcept {
    if (priv32.size() != kX25519Len || peer_pub32.size() != kX25519Len || (!pub32.empty() && pub32.size() != kX25519Len))
        return Err::invalid_argument;
    LS_TRY(check_out(shared32.size(), kX25519Len));
    Secret<kX25519Len> shared;
    Pkey priv;
    if (!pub32.empty() && x25519_import_ != nullptr) {
        // The whole pair: importing the private key alone recomputes the public one.
        const OSSL_PARAM pair[] = {
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, const_cast<std::uint8_t*>(priv32.data()),
                                              priv32.size()),
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<std::uint8_t*>(pub32.data()),
                                              pub32.size()),
            OSSL_PARAM_construct_end(),
        };
        EVP_PKEY* raw = nullptr;
        if (EVP_PKEY_fromdata_init(x25519_import_) == 1 &&
            EVP_PKEY_fromdata(x25519_import_, &raw, EVP_PKEY_KEYPAIR, const_cast<OSSL_PARAM*>(pair)) == 1)
            priv.reset(raw);
    } else {
        priv.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv32.data(), priv32.size()));
    }
    Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_pub32.data(), peer_pub32.size()));
    if (!priv || !peer) return fail(Err::crypto_failure);
    PkeyCtx ctx(EVP_PKEY_CTX_new(priv.get(), nullptr));
    std::size_t len = shared.size();
    // OpenSSL itself refuses an all-zero result (derive fails); both paths end here.
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
        EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1 || len != kX25519Len) {
        OPENSSL_cleanse(shared32.data(), shared32.size());
        return fail(Err::crypto_failure);
    }
    // RFC 7748 §6.1: reject the all-zero output of a low-order peer key. The
    // comparison's time depends only on the length.
    static constexpr std::array<std::uint8_t, kX25519Len> kZeros{};
    if (ct_equal(shared.span(), kZeros)) {
        OPENSSL_cleanse(shared32.data(), shared32.size());
        return Err::crypto_failure;
    }
    std::memcpy(shared32.data(), shared.data(), kX25519Len);
    return {};
}

Status OpenSslProvider::verify(SigAlg alg, ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept {
    switch (alg) {
        case SigAlg::ed25519: return ed25519_verify(pubkey, msg, sig);
        case SigAlg::rsa_pss_2048_sha256:
        case SigAlg::rsa_pss_3072_sha256:
            // Certificate encoding: exactly pubkey_len bytes, top bit set (crypto.hpp).
            if (pubkey.size() != pubkey_len(alg) || (pubkey[0] & 0x80) == 0 || sig.size() != sig_len(alg)) {
                return Err::invalid_argument;
            }
            return rsa_pss_verify(pubkey, kRsaE65537, MdAlg::sha256, MdAlg::sha256, kPssSaltLen, msg, sig);
    }
    return Err::invalid_argument;
}

}  // namespace lockstep::crypto::openssl
