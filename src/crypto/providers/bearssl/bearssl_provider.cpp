// SPDX-License-Identifier: Apache-2.0
// lockstep — the BearSSL provider (see bearssl_provider.hpp).
// spec: PROTOCOL.md §4 (algorithms)
#include "crypto/providers/bearssl/bearssl_provider.hpp"

#include <bearssl.h>

#include <array>
#include <cstring>

#include "common/bytes.hpp"
#include "crypto/provider_util.hpp"
#include "lockstep/features.hpp"

#ifndef LOCKSTEP_BEARSSL_SMALL
#define LOCKSTEP_BEARSSL_SMALL 0
#endif

namespace lockstep::crypto::bearssl {
namespace {

constexpr bool kSmall = LOCKSTEP_BEARSSL_SMALL != 0;

const unsigned char* ptr(ConstBytes b) noexcept { return nonnull(b); }

// SHA-256, or SHA-512 outside small builds (so that a device links no SHA-512).
Status digest(Hash h, const br_hash_class*& d) noexcept {
    if (kSmall && h != Hash::sha256) return Err::unsupported;
    d = kSmall || h == Hash::sha256 ? &br_sha256_vtable : &br_sha512_vtable;
    return {};
}

// out (hash_len(h) bytes, already checked) = HMAC-H(key, a || b). The contexts
// hold the key's pads: wiped before returning.
Status hmac2(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, Bytes out) noexcept {
    const br_hash_class* d = nullptr;
    LS_TRY(digest(h, d));
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, d, ptr(key), key.size());
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, ptr(a), a.size());
    br_hmac_update(&hc, ptr(b), b.size());
    const std::size_t n = br_hmac_out(&hc, out.data());
    secure_wipe(&kc, sizeof kc);
    secure_wipe(&hc, sizeof hc);
    return n == out.size() ? Status{} : Status{Err::crypto_failure};
}

constexpr std::size_t kChachaKeyLen = 32;
constexpr std::size_t kChachaNonceLen = 12;

Status aead_params(Aead a, ConstBytes key, ConstBytes nonce) noexcept {
    if (a == Aead::chacha20_poly1305)
        return key.size() == kChachaKeyLen && nonce.size() == kChachaNonceLen ? Status{}
                                                                               : Status{Err::invalid_argument};
    if ((key.size() != 16 && key.size() != 24 && key.size() != 32) || nonce.empty()) return Err::invalid_argument;
    if (kSmall) return Err::unsupported;  // no AES in a device build
    return {};
}

// AES-GCM over `data` in place (BearSSL's GCM runs in place): encrypt and write
// the tag, or decrypt and check it (constant time, br_gcm_check_tag).
bool gcm_run(ConstBytes key, ConstBytes nonce, ConstBytes aad, Bytes data, std::uint8_t* tag, bool encrypt) noexcept {
    br_aes_ct_ctr_keys aes;
    br_gcm_context gc;
    br_aes_ct_ctr_init(&aes, key.data(), key.size());
    br_gcm_init(&gc, &aes.vtable, br_ghash_ctmul);
    br_gcm_reset(&gc, nonce.data(), nonce.size());
    br_gcm_aad_inject(&gc, ptr(aad), aad.size());
    br_gcm_flip(&gc);
    br_gcm_run(&gc, encrypt ? 1 : 0, data.data(), data.size());
    bool ok = true;
    if (encrypt)
        br_gcm_get_tag(&gc, tag);
    else
        ok = br_gcm_check_tag(&gc, tag) == 1;
    secure_wipe(&gc, sizeof gc);
    secure_wipe(&aes, sizeof aes);
    return ok;
}

// ChaCha20-Poly1305 (RFC 8439) over `data` in place: encrypt and write the tag,
// or compute the tag of the ciphertext, decrypt, and compare.
bool chacha_run(ConstBytes key, ConstBytes nonce, ConstBytes aad, Bytes data, std::uint8_t* tag, bool encrypt) noexcept {
    if (encrypt) {
        br_poly1305_ctmul_run(key.data(), nonce.data(), data.data(), data.size(), ptr(aad), aad.size(), tag,
                              br_chacha20_ct_run, 1);
        return true;
    }
    std::array<std::uint8_t, kAeadTagLen> mine{};
    br_poly1305_ctmul_run(key.data(), nonce.data(), data.data(), data.size(), ptr(aad), aad.size(), mine.data(),
                          br_chacha20_ct_run, 0);
    return ct_equal(mine, ConstBytes(tag, kAeadTagLen));
}

}  // namespace

Status BearSslProvider::random(Bytes out) noexcept {
    if (out.empty()) return {};
    if (entropy_ == nullptr || !entropy_(entropy_ctx_, out.data(), out.size())) return Err::rng_failure;
    return {};
}

Status BearSslProvider::hash(Hash h, ConstBytes a, ConstBytes b, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    const br_hash_class* d = nullptr;
    LS_TRY(digest(h, d));
    br_hash_compat_context ctx;
    d->init(&ctx.vtable);
    d->update(&ctx.vtable, ptr(a), a.size());
    d->update(&ctx.vtable, ptr(b), b.size());
    d->out(&ctx.vtable, out.data());
    secure_wipe(&ctx, sizeof ctx);
    return {};
}

Status BearSslProvider::hmac(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    return hmac2(h, key, a, b, out);
}

// RFC 5869 §2.2: PRK = HMAC-H(salt, IKM), the PRK returned. (br_hkdf keeps its
// PRK inside the context, as an HMAC key, so the extract step is br_hmac.)
Status BearSslProvider::hkdf_extract(Hash h, ConstBytes salt, ConstBytes ikm, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    static constexpr std::array<std::uint8_t, 64> kZeroSalt{};
    const ConstBytes key = salt.empty() ? ConstBytes(kZeroSalt.data(), hash_len(h)) : salt;
    return hmac2(h, key, ikm, {}, out);
}

// RFC 5869 §2.3 by br_hkdf_produce. br_hkdf takes its PRK from its own extract
// step (br_hkdf_flip); for a PRK given here the context is set as br_hkdf_flip
// leaves it in BearSSL 0.6 (src/kdf/hkdf.c: the PRK as HMAC key, an empty block,
// chunk 0). The Wycheproof HKDF vectors check it (tests/vectors).
Status BearSslProvider::hkdf_expand(Hash h, ConstBytes prk, ConstBytes info, Bytes out) noexcept {
    const std::size_t hl = hash_len(h);
    if (out.size() > 255 * hl) return Err::invalid_argument;
    const br_hash_class* d = nullptr;
    LS_TRY(digest(h, d));
    if (out.empty()) return {};
    br_hkdf_context hc;
    br_hmac_key_init(&hc.u.prk_ctx, d, ptr(prk), prk.size());
    hc.dig_len = hl;
    hc.ptr = hl;
    hc.chunk_num = 0;
    const std::size_t n = br_hkdf_produce(&hc, ptr(info), info.size(), out.data(), out.size());
    secure_wipe(&hc, sizeof hc);
    if (n != out.size()) {
        secure_wipe(out.data(), out.size());
        return Err::crypto_failure;
    }
    return {};
}

Status BearSslProvider::aead_seal(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes pt,
                                  Bytes out) noexcept {
    LS_TRY(check_out(out.size(), pt.size() + kAeadTagLen));
    if (!alias_ok(pt, out)) return Err::invalid_argument;
    LS_TRY(aead_params(a, key, nonce));
    // BearSSL encrypts in place: the plaintext goes to `out` first (no copy when in place).
    if (!pt.empty() && pt.data() != out.data()) std::memcpy(out.data(), pt.data(), pt.size());
    const Bytes body = out.first(pt.size());
    std::uint8_t* tag = out.data() + pt.size();
    if (kSmall || a == Aead::chacha20_poly1305)  // small: aead_params refused AES-GCM
        (void)chacha_run(key, nonce, aad, body, tag, true);
    else
        (void)gcm_run(key, nonce, aad, body, tag, true);
    return {};
}

Status BearSslProvider::aead_open(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes ct_and_tag,
                                  Bytes out) noexcept {
    if (ct_and_tag.size() < kAeadTagLen) return Err::invalid_argument;
    const std::size_t ct_len = ct_and_tag.size() - kAeadTagLen;
    LS_TRY(check_out(out.size(), ct_len));
    if (!alias_ok(ct_and_tag, out)) return Err::invalid_argument;
    LS_TRY(aead_params(a, key, nonce));
    // BearSSL decrypts in place: the ciphertext goes to `out` first (no copy when
    // in place), the tag aside.
    std::array<std::uint8_t, kAeadTagLen> tag{};
    std::memcpy(tag.data(), ct_and_tag.data() + ct_len, kAeadTagLen);
    if (ct_len != 0 && ct_and_tag.data() != out.data()) std::memcpy(out.data(), ct_and_tag.data(), ct_len);
    const bool ok = kSmall || a == Aead::chacha20_poly1305  // small: aead_params refused AES-GCM
                        ? chacha_run(key, nonce, aad, out, tag.data(), false)
                        : gcm_run(key, nonce, aad, out, tag.data(), false);
    if (!ok) {
        secure_wipe(out.data(), out.size());
        return Err::bad_mac;
    }
    return {};
}

Status BearSslProvider::x25519_keygen(Bytes priv32, Bytes pub32) noexcept {
    LS_TRY(check_out(priv32.size(), kX25519Len));
    LS_TRY(check_out(pub32.size(), kX25519Len));
    if (!features::kEcdheModes) return Err::unsupported;  // no ECDHE mode in this build
    LS_TRY(random(priv32));
    if (br_ec_c25519_i15.mulgen(pub32.data(), priv32.data(), priv32.size(), BR_EC_curve25519) != kX25519Len) {
        secure_wipe(priv32.data(), priv32.size());
        return Err::crypto_failure;
    }
    return {};
}

Status BearSslProvider::x25519(ConstBytes priv32, ConstBytes pub32, ConstBytes peer_pub32, Bytes shared32) noexcept {
    if (priv32.size() != kX25519Len || peer_pub32.size() != kX25519Len || (!pub32.empty() && pub32.size() != kX25519Len))
        return Err::invalid_argument;
    LS_TRY(check_out(shared32.size(), kX25519Len));
    if (!features::kEcdheModes) return Err::unsupported;
    // BearSSL multiplies the point in place (clearing its top bit, RFC 7748 §5).
    std::array<std::uint8_t, kX25519Len> point{};
    std::memcpy(point.data(), peer_pub32.data(), kX25519Len);
    const bool ok = br_ec_c25519_i15.mul(point.data(), kX25519Len, priv32.data(), priv32.size(),
                                         BR_EC_curve25519) == 1;
    // RFC 7748 §6.1: refuse the all-zero result of a low-order peer key, in constant time.
    static constexpr std::array<std::uint8_t, kX25519Len> kZeros{};
    const bool good = ok && !ct_equal(point, kZeros);
    if (good) std::memcpy(shared32.data(), point.data(), kX25519Len);
    secure_wipe(point.data(), point.size());
    if (!good) {
        secure_wipe(shared32.data(), shared32.size());
        return Err::crypto_failure;
    }
    return {};
}

Status BearSslProvider::verify(SigAlg alg, ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept {
    switch (alg) {
        case SigAlg::ed25519:
            if (!features::kCertModes || ed25519_ == nullptr) return Err::unsupported;
            return ed25519_(pubkey, msg, sig);
        case SigAlg::rsa_pss_2048_sha256:
        case SigAlg::rsa_pss_3072_sha256:
            return Err::unsupported;  // BearSSL 0.6 has no RSA-PSS
    }
    return Err::invalid_argument;
}

}  // namespace lockstep::crypto::bearssl
