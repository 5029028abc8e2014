// SPDX-License-Identifier: Apache-2.0
// lockstep — the production crypto provider, on OpenSSL 3 libcrypto.
//
// How this works: every Provider method is a thin adapter from spans to one
// OpenSSL EVP call sequence (EVP_CIPHER for the AEADs, EVP_MAC "HMAC",
// EVP_KDF "HKDF" in EXTRACT_ONLY / EXPAND_ONLY mode, EVP_Digest, EVP_PKEY for
// X25519 / Ed25519 / RSA-PSS, RAND_bytes). No primitive is implemented here.
// Each OpenSSL object lives in a unique_ptr with its *_free function, so it is
// released on every path; on failure the OpenSSL error queue is cleared so it
// cannot grow without bound. Nothing throws and nothing is printed.
//
// Cached objects: OpenSSL 3 makes an implicit algorithm fetch (a locked name
// lookup) and a context allocation expensive next to the work on a small
// record, so the constructor fetches every cipher, digest, HMAC and HKDF once
// and keeps one context per algorithm. Each call (re)keys its context and
// wipes it again before returning (EVP_CIPHER_CTX_reset; HMAC and HKDF are
// re-set to a one-byte zero key), so no key, key schedule or HMAC pad outlives
// the call that used it. Random requests of up to 32 bytes come from a pool of
// 256 bytes drawn by one RAND_bytes call, in a page of its own that a fork
// zeroes in the child (random_pool.hpp); each byte is wiped once handed out.
// The contexts make the object stateful: one thread at a time (crypto.hpp).
//
// Size rules (crypto.hpp): an output span shorter than required gives
// Err::buffer_too_small, any other size mismatch Err::invalid_argument.
// spec: PROTOCOL.md §4 (algorithms)
#pragma once

#include <cstddef>
#include <cstdint>

#include "lockstep/crypto.hpp"
#include "lockstep/export.h"

// OpenSSL handle types, declared here so this header needs no OpenSSL include.
struct evp_cipher_st;
struct evp_cipher_ctx_st;
struct evp_md_st;
struct evp_md_ctx_st;
struct evp_mac_st;
struct evp_mac_ctx_st;
struct evp_kdf_st;
struct evp_kdf_ctx_st;
struct ossl_param_st;
struct evp_pkey_ctx_st;

namespace lockstep::crypto::openssl {

// Hash functions accepted by rsa_pss_verify (the message hash and MGF1 hash).
// The protocol itself only uses sha256; the others exist for test vectors.
enum class MdAlg : std::uint8_t { sha1, sha224, sha256, sha384, sha512 };

// RSASSA-PSS verification (RFC 8017 §8.1.2) with explicit parameters.
//  n, e      big-endian modulus and public exponent; leading zero bytes allowed.
//  hash      message digest; mgf1_hash the MGF1 digest; salt_len the exact salt
//            length in bytes (>= 0; no "auto" or "max" lengths).
//  sig       must be exactly as long as the modulus (without leading zeros).
// Returns Ok, Err::bad_signature (signature or key rejected), or
// Err::invalid_argument (empty/oversized n, wrong sig length, negative salt_len).
LOCKSTEP_API Status rsa_pss_verify(ConstBytes n, ConstBytes e, MdAlg hash, MdAlg mgf1_hash, int salt_len,
                      ConstBytes msg, ConstBytes sig) noexcept;

// The Provider on OpenSSL. Fetches its algorithms and makes their contexts
// once at construction; an algorithm whose fetch or context failed makes the
// calls that need it return Err::crypto_failure. Not copyable, not movable;
// one thread at a time (crypto.hpp): each call reuses the object's contexts.
class LOCKSTEP_API OpenSslProvider final : public Provider {
public:
    OpenSslProvider() noexcept;
    ~OpenSslProvider() override;
    OpenSslProvider(const OpenSslProvider&) = delete;
    OpenSslProvider& operator=(const OpenSslProvider&) = delete;

    Status random(Bytes out) noexcept override;
    Status hash(Hash h, ConstBytes a, ConstBytes b, Bytes out) noexcept override;
    Status hmac(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, Bytes out) noexcept override;
    // Empty salt = hash_len(h) zero bytes (RFC 5869 §2.2).
    Status hkdf_extract(Hash h, ConstBytes salt, ConstBytes ikm, Bytes out) noexcept override;
    // out.size() > 255*hash_len(h): Err::invalid_argument. An empty out is Ok.
    Status hkdf_expand(Hash h, ConstBytes prk, ConstBytes info, Bytes out) noexcept override;

    // AES-GCM: key 16/24/32 bytes selects AES-128/192/256; nonce 1..kMaxGcmNonceLen
    // bytes. ChaCha20-Poly1305: 32-byte key, 12-byte nonce. Other sizes, or an
    // `out` that overlaps the input other than exactly, give Err::invalid_argument.
    // open: on a tag mismatch returns Err::bad_mac and `out` is wiped (zeros).
    Status aead_seal(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes pt,
                     Bytes out) noexcept override;
    Status aead_open(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes ct_and_tag,
                     Bytes out) noexcept override;

    Status x25519_keygen(Bytes priv32, Bytes pub32) noexcept override;
    // Err::invalid_argument for wrong lengths; Err::crypto_failure for an all-zero
    // shared secret (checked in constant time), in which case shared32 is zeroed.
    // With pub32 the key pair is imported as is (EVP_PKEY_fromdata); without it
    // OpenSSL recomputes the public key, which doubles the cost of the call.
    Status x25519(ConstBytes priv32, ConstBytes pub32, ConstBytes peer_pub32, Bytes shared32) noexcept override;

    // Ed25519: 32-byte raw key, 64-byte signature. RSA-PSS-2048/3072-SHA256: the
    // modulus of exactly 256/384 bytes with the top bit set, e = 65537, MGF1-SHA-256,
    // salt 32, signature as long as the modulus. Wrong key or signature sizes (or
    // an unknown alg): Err::invalid_argument; anything else that fails:
    // Err::bad_signature.
    Status verify(SigAlg alg, ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept override;

    // OpenSSL 3.0's GCM accepts at most 128-byte IVs (GCM_IV_MAX_SIZE).
    static constexpr std::size_t kMaxGcmNonceLen = 128;

private:
    // An algorithm fetched once and the context every call reuses (both owned,
    // freed in the destructor; null if the fetch or allocation failed).
    struct CipherSlot {
        evp_cipher_st* cipher = nullptr;
        evp_cipher_ctx_st* ctx = nullptr;
    };
    struct DigestSlot {
        evp_md_st* md = nullptr;
        evp_md_ctx_st* ctx = nullptr;
    };
    // Indexes into ciphers_.
    enum CipherIndex : std::size_t { kAes128Gcm, kAes192Gcm, kAes256Gcm, kChaCha20Poly1305, kCipherSlots };
    static constexpr std::size_t kHashes = 2;  // Hash::sha256, Hash::sha512

    Result<CipherSlot*> aead_slot(Aead a, std::size_t key_len, std::size_t nonce_len, std::size_t aad_len) noexcept;
    Status hkdf(Hash h, const ossl_param_st* params, Bytes out, bool one_shot) noexcept;

    CipherSlot ciphers_[kCipherSlots];
    DigestSlot digests_[kHashes];
    evp_mac_st* hmac_ = nullptr;
    evp_kdf_st* hkdf_ = nullptr;
    evp_mac_ctx_st* hmac_ctx_[kHashes] = {};  // digest set once; keyed per call
    evp_kdf_ctx_st* hkdf_ctx_[kHashes] = {};  // digest set once; keyed per call
    evp_pkey_ctx_st* x25519_import_ = nullptr;  // EVP_PKEY_fromdata for X25519 key pairs
    std::uint8_t* random_pool_ = nullptr;  // small random requests (a page wiped on fork); null: none
};

}  // namespace lockstep::crypto::openssl
