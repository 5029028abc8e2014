// SPDX-License-Identifier: Apache-2.0
// lockstep — the libsodium provider (see sodium_provider.hpp).
// spec: PROTOCOL.md §4 (algorithms)
#include "crypto/providers/sodium/sodium_provider.hpp"

#include <sodium/crypto_aead_aes256gcm.h>
#include <sodium/crypto_aead_chacha20poly1305.h>
#include <sodium/crypto_auth_hmacsha256.h>
#include <sodium/crypto_auth_hmacsha512.h>
#include <sodium/crypto_hash_sha256.h>
#include <sodium/crypto_hash_sha512.h>
#include <sodium/crypto_scalarmult_curve25519.h>
#include <sodium/crypto_sign_ed25519.h>

#include <algorithm>
#include <cstring>

#include "common/bytes.hpp"
#include "crypto/provider_util.hpp"
#include "lockstep/features.hpp"

// Ed25519 verification is compiled only when the engine has a certificate mode
// (lockstep/features.hpp); otherwise verify() is Err::unsupported, and X25519
// only when a compiled mode uses ECDHE (psk-only does not). A device links only
// this file's Ed25519 functions (sodium::ed25519_verify, SodiumEd25519Signer):
// its provider is BearSSL's.

namespace lockstep::crypto::sodium {
namespace {

// libsodium wants non-null pointers even for zero-length inputs (provider_util.hpp).
const unsigned char* ptr(ConstBytes b) noexcept { return nonnull(b); }

// HMAC-SHA-256 or -512 through libsodium's streaming API (any key length).
// The state holds the key's pads: wiped before returning.
template <class State, int (*Init)(State*, const unsigned char*, std::size_t),
          int (*Update)(State*, const unsigned char*, unsigned long long),
          int (*Final)(State*, unsigned char*)>
Status hmac_with(ConstBytes key, ConstBytes a, ConstBytes b, ConstBytes c, Bytes out) noexcept {
    State st;
    const bool ok = Init(&st, ptr(key), key.size()) == 0 && Update(&st, ptr(a), a.size()) == 0 &&
                    Update(&st, ptr(b), b.size()) == 0 && Update(&st, ptr(c), c.size()) == 0 &&
                    Final(&st, out.data()) == 0;
    secure_wipe(&st, sizeof st);
    return ok ? Status{} : Status{Err::crypto_failure};
}

// out (hash_len(h) bytes, already checked) = HMAC-H(key, a || b || c).
Status hmac3(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, ConstBytes c, Bytes out) noexcept {
    if (h == Hash::sha256)
        return hmac_with<crypto_auth_hmacsha256_state, crypto_auth_hmacsha256_init, crypto_auth_hmacsha256_update,
                         crypto_auth_hmacsha256_final>(key, a, b, c, out);
    return hmac_with<crypto_auth_hmacsha512_state, crypto_auth_hmacsha512_init, crypto_auth_hmacsha512_update,
                     crypto_auth_hmacsha512_final>(key, a, b, c, out);
}

template <class State, int (*Init)(State*), int (*Update)(State*, const unsigned char*, unsigned long long),
          int (*Final)(State*, unsigned char*)>
Status hash_with(ConstBytes a, ConstBytes b, Bytes out) noexcept {
    State st;
    const bool ok = Init(&st) == 0 && Update(&st, ptr(a), a.size()) == 0 && Update(&st, ptr(b), b.size()) == 0 &&
                    Final(&st, out.data()) == 0;
    secure_wipe(&st, sizeof st);
    return ok ? Status{} : Status{Err::crypto_failure};
}

constexpr std::size_t kAeadKeyLen = 32;
constexpr std::size_t kAeadNonceLen = 12;
static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == kAeadNonceLen);
static_assert(crypto_aead_aes256gcm_NPUBBYTES == kAeadNonceLen);
static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == kAeadTagLen);
static_assert(crypto_aead_aes256gcm_ABYTES == kAeadTagLen);

// Key and nonce sizes for `a`: invalid_argument for sizes no AEAD of that
// name takes, unsupported for AES-GCM sizes (or a CPU) libsodium does not serve.
Status aead_params(const SodiumProvider& p, Aead a, ConstBytes key, ConstBytes nonce) noexcept {
    if (a == Aead::chacha20_poly1305)
        return key.size() == kAeadKeyLen && nonce.size() == kAeadNonceLen ? Status{} : Status{Err::invalid_argument};
    if (key.size() != 16 && key.size() != 24 && key.size() != 32) return Err::invalid_argument;
    if (nonce.empty()) return Err::invalid_argument;
    if (key.size() != kAeadKeyLen || nonce.size() != kAeadNonceLen || !p.aes_gcm_available())
        return Err::unsupported;
    return {};
}

}  // namespace

bool SodiumProvider::aes_gcm_available() const noexcept {
    return crypto_aead_aes256gcm_is_available() == 1;
}

Status SodiumProvider::random(Bytes out) noexcept {
    if (out.empty()) return {};
    if (entropy_ == nullptr || !entropy_(entropy_ctx_, out.data(), out.size())) return Err::rng_failure;
    return {};
}

Status SodiumProvider::hash(Hash h, ConstBytes a, ConstBytes b, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    if (h == Hash::sha256)
        return hash_with<crypto_hash_sha256_state, crypto_hash_sha256_init, crypto_hash_sha256_update,
                         crypto_hash_sha256_final>(a, b, out);
    return hash_with<crypto_hash_sha512_state, crypto_hash_sha512_init, crypto_hash_sha512_update,
                     crypto_hash_sha512_final>(a, b, out);
}

Status SodiumProvider::hmac(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    return hmac3(h, key, a, b, {}, out);
}

// spec: PROTOCOL.md §4.2 (HKDF, RFC 5869 §2.2): PRK = HMAC-H(salt, IKM).
Status SodiumProvider::hkdf_extract(Hash h, ConstBytes salt, ConstBytes ikm, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    const std::uint8_t zeros[64] = {};
    const ConstBytes key = salt.empty() ? ConstBytes(zeros, hash_len(h)) : salt;
    return hmac3(h, key, ikm, {}, {}, out);
}

// RFC 5869 §2.3: T(i) = HMAC-H(PRK, T(i-1) || info || i), OKM = T(1) || T(2) || ...
Status SodiumProvider::hkdf_expand(Hash h, ConstBytes prk, ConstBytes info, Bytes out) noexcept {
    const std::size_t hl = hash_len(h);
    if (out.size() > 255 * hl) return Err::invalid_argument;
    Secret<64> t;
    std::size_t t_len = 0;
    for (std::size_t done = 0, i = 1; done < out.size(); ++i) {
        const std::uint8_t counter = static_cast<std::uint8_t>(i);
        const Status st = hmac3(h, prk, ConstBytes(t.data(), t_len), info, ConstBytes(&counter, 1), t.span().first(hl));
        if (!st) {
            secure_wipe(out.data(), out.size());
            return st;
        }
        t_len = hl;
        const std::size_t n = std::min(hl, out.size() - done);
        std::memcpy(out.data() + done, t.data(), n);
        done += n;
    }
    return {};
}

Status SodiumProvider::aead_seal(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes pt,
                                 Bytes out) noexcept {
    LS_TRY(check_out(out.size(), pt.size() + kAeadTagLen));
    if (!alias_ok(pt, out)) return Err::invalid_argument;
    LS_TRY(aead_params(*this, a, key, nonce));
    unsigned long long tag_len = 0;
    // libsodium encrypts in place when c == m; the tag goes after the ciphertext.
    const int rc = a == Aead::chacha20_poly1305
                       ? crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                             out.data(), out.data() + pt.size(), &tag_len, ptr(pt), pt.size(), ptr(aad), aad.size(),
                             nullptr, nonce.data(), key.data())
                       : crypto_aead_aes256gcm_encrypt_detached(out.data(), out.data() + pt.size(), &tag_len,
                                                                ptr(pt), pt.size(), ptr(aad), aad.size(), nullptr,
                                                                nonce.data(), key.data());
    if (rc != 0 || tag_len != kAeadTagLen) {
        secure_wipe(out.data(), out.size());
        return Err::crypto_failure;
    }
    return {};
}

Status SodiumProvider::aead_open(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes ct_and_tag,
                                 Bytes out) noexcept {
    if (ct_and_tag.size() < kAeadTagLen) return Err::invalid_argument;
    const std::size_t ct_len = ct_and_tag.size() - kAeadTagLen;
    LS_TRY(check_out(out.size(), ct_len));
    if (!alias_ok(ct_and_tag, out)) return Err::invalid_argument;
    LS_TRY(aead_params(*this, a, key, nonce));
    // libsodium checks the tag before it writes any plaintext.
    const int rc = a == Aead::chacha20_poly1305
                       ? crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                             out.data(), nullptr, ptr(ct_and_tag), ct_len, ct_and_tag.data() + ct_len, ptr(aad),
                             aad.size(), nonce.data(), key.data())
                       : crypto_aead_aes256gcm_decrypt_detached(out.data(), nullptr, ptr(ct_and_tag), ct_len,
                                                                ct_and_tag.data() + ct_len, ptr(aad), aad.size(),
                                                                nonce.data(), key.data());
    if (rc != 0) {
        secure_wipe(out.data(), out.size());
        return Err::bad_mac;
    }
    return {};
}

Status SodiumProvider::x25519_keygen(Bytes priv32, Bytes pub32) noexcept {
    LS_TRY(check_out(priv32.size(), kX25519Len));
    LS_TRY(check_out(pub32.size(), kX25519Len));
    if (!features::kEcdheModes) return Err::unsupported;  // no ECDHE mode in this build
    LS_TRY(random(priv32));
    const int rc = crypto_scalarmult_curve25519_base(pub32.data(), priv32.data());
    if (rc != 0) {
        secure_wipe(priv32.data(), priv32.size());
        return Err::crypto_failure;
    }
    return {};
}

Status SodiumProvider::x25519(ConstBytes priv32, ConstBytes pub32, ConstBytes peer_pub32, Bytes shared32) noexcept {
    if (priv32.size() != kX25519Len || peer_pub32.size() != kX25519Len || (!pub32.empty() && pub32.size() != kX25519Len))
        return Err::invalid_argument;
    LS_TRY(check_out(shared32.size(), kX25519Len));
    if (!features::kEcdheModes) return Err::unsupported;
    // RFC 7748 §6.1: libsodium returns -1 for a low-order peer key and for an
    // all-zero result (checked in constant time).
    if (crypto_scalarmult_curve25519(shared32.data(), priv32.data(), peer_pub32.data()) != 0) {
        secure_wipe(shared32.data(), shared32.size());
        return Err::crypto_failure;
    }
    return {};
}

Status SodiumProvider::verify(SigAlg alg, ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept {
    switch (alg) {
        case SigAlg::ed25519:
            if (!features::kCertModes) return Err::unsupported;  // no certificates in this build
            return ed25519_verify(pubkey, msg, sig);
        case SigAlg::rsa_pss_2048_sha256:
        case SigAlg::rsa_pss_3072_sha256:
            return Err::unsupported;  // libsodium has no RSA
    }
    return Err::invalid_argument;
}

Status ed25519_verify(ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept {
    if (pubkey.size() != crypto_sign_ed25519_PUBLICKEYBYTES || sig.size() != crypto_sign_ed25519_BYTES)
        return Err::invalid_argument;
    return crypto_sign_ed25519_verify_detached(sig.data(), ptr(msg), msg.size(), pubkey.data()) == 0
               ? Status{}
               : Status{Err::bad_signature};
}

SodiumEd25519Signer::SodiumEd25519Signer(ConstBytes seed32) noexcept {
    std::uint8_t pk[crypto_sign_ed25519_PUBLICKEYBYTES];
    valid_ = seed32.size() == crypto_sign_ed25519_SEEDBYTES &&
             crypto_sign_ed25519_seed_keypair(pk, sk_, seed32.data()) == 0;
    if (!valid_) secure_wipe(sk_, sizeof sk_);
}

SodiumEd25519Signer::~SodiumEd25519Signer() { secure_wipe(sk_, sizeof sk_); }

Status SodiumEd25519Signer::sign(ConstBytes msg, Bytes sig) noexcept {
    LS_TRY(check_out(sig.size(), crypto_sign_ed25519_BYTES));
    if (!valid_) return Err::invalid_argument;
    unsigned long long len = 0;
    if (crypto_sign_ed25519_detached(sig.data(), &len, ptr(msg), msg.size(), sk_) != 0 ||
        len != crypto_sign_ed25519_BYTES) {
        secure_wipe(sig.data(), sig.size());
        return Err::crypto_failure;
    }
    return {};
}

}  // namespace lockstep::crypto::sodium
