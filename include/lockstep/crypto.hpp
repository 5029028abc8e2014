// SPDX-License-Identifier: Apache-2.0
// lockstep — the crypto provider interface.
//
// The protocol core reaches every primitive through this one narrow interface,
// so it never depends on a crypto library directly. `providers/openssl` is the
// production implementation (OpenSSL 3 libcrypto); no primitive is hand-written.
//
// Conventions: all functions are noexcept and report failure through Status.
// Output buffers are caller-owned; sizes are checked and Err::buffer_too_small
// or Err::invalid_argument returned when they do not fit. Verification failures
// (tag, MAC, signature) return Err::bad_mac / Err::bad_signature; a failed open
// leaves `out` zeroed. They may allocate internally (the core itself does not).
//
// Threading: a Provider object is used by one thread at a time; it may keep
// per-object state between calls (the OpenSSL provider reuses one context per
// algorithm), so two threads must not call the same object concurrently. Several
// engines on one thread may share one Provider (net::Server gives each event
// loop its own). Keys are passed per call; a provider must not keep a key, or
// anything derived from it, after the call returns.
// spec: PROTOCOL.md §4 (algorithms)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lockstep/export.h"
#include "lockstep/result.hpp"

namespace lockstep::crypto {

using Bytes = std::span<std::uint8_t>;
using ConstBytes = std::span<const std::uint8_t>;

enum class Hash : std::uint8_t { sha256, sha512 };
constexpr std::size_t hash_len(Hash h) noexcept { return h == Hash::sha256 ? 32 : 64; }

// AEAD algorithms. AES-GCM takes 16-, 24- or 32-byte keys (the protocol uses 32).
enum class Aead : std::uint8_t { aes_gcm, chacha20_poly1305 };
constexpr std::size_t kAeadTagLen = 16;

// Signature algorithms, as numbered on the wire. spec: PROTOCOL.md §4.3
enum class SigAlg : std::uint8_t {
    ed25519 = 1,
    rsa_pss_2048_sha256 = 2,
    rsa_pss_3072_sha256 = 3,
};
constexpr std::size_t kMaxSignatureLen = 384;  // RSA-3072
constexpr std::size_t kMaxPublicKeyLen = 384;  // RSA-3072 modulus
constexpr std::size_t sig_len(SigAlg a) noexcept {
    return a == SigAlg::ed25519 ? 64 : a == SigAlg::rsa_pss_2048_sha256 ? 256 : 384;
}
// Public key encoding in certificates: Ed25519 = 32 raw bytes; RSA = the
// big-endian modulus (exactly 256 or 384 bytes, top bit set), e = 65537.
constexpr std::size_t pubkey_len(SigAlg a) noexcept { return sig_len(a) == 64 ? 32 : sig_len(a); }
LOCKSTEP_API bool sig_alg_known(std::uint8_t v) noexcept;

constexpr std::size_t kX25519Len = 32;

// An entropy source for the providers that take one (libsodium, BearSSL): fills
// out[0..len) with unpredictable bytes, false when none is available (random()
// then returns Err::rng_failure). Called from the thread using the provider. A
// device passes the hook its TRNG fills (docs/DEVICE.md).
using EntropyFn = bool (*)(void* ctx, std::uint8_t* out, std::size_t len) noexcept;

// A private signing key held outside the core (the application owns it).
class LOCKSTEP_API Signer {
public:
    virtual ~Signer() = default;
    virtual SigAlg alg() const noexcept = 0;
    // The public key in certificate encoding (see pubkey_len).
    virtual ConstBytes public_key() const noexcept = 0;
    // Writes exactly sig_len(alg()) bytes into `sig`.
    virtual Status sign(ConstBytes msg, Bytes sig) noexcept = 0;
};

class LOCKSTEP_API Provider {
public:
    virtual ~Provider() = default;

    // Fills `out` from a CSPRNG. Err::rng_failure if none is available.
    virtual Status random(Bytes out) noexcept = 0;

    // out (hash_len(h) bytes) = H(a || b). Either part may be empty.
    virtual Status hash(Hash h, ConstBytes a, ConstBytes b, Bytes out) noexcept = 0;

    // out (hash_len(h) bytes) = HMAC-H(key, a || b).
    virtual Status hmac(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, Bytes out) noexcept = 0;

    // RFC 5869. extract: out is hash_len(h) bytes. expand: out.size() <= 255*hash_len(h).
    virtual Status hkdf_extract(Hash h, ConstBytes salt, ConstBytes ikm, Bytes out) noexcept = 0;
    virtual Status hkdf_expand(Hash h, ConstBytes prk, ConstBytes info, Bytes out) noexcept = 0;

    // AEAD. seal: out.size() == pt.size() + kAeadTagLen (ciphertext then tag);
    // open: out.size() == ct_and_tag.size() - kAeadTagLen. out may alias the input
    // exactly (in place). Nonce: 12 bytes for ChaCha20-Poly1305, 1..128 bytes for GCM
    // (OpenSSL 3.0's limit; the protocol uses 12).
    virtual Status aead_seal(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes pt,
                             Bytes out) noexcept = 0;
    virtual Status aead_open(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad,
                             ConstBytes ct_and_tag, Bytes out) noexcept = 0;

    // X25519 (RFC 7748). keygen writes a fresh private and public key.
    // x25519 rejects an all-zero shared secret (low-order peer key) with Err::crypto_failure.
    // pub32 is our own public key as keygen wrote it, or empty when unknown: a
    // provider may use it to skip recomputing it from priv32 (a scalar
    // multiplication); the shared secret depends only on priv32 and peer_pub32.
    virtual Status x25519_keygen(Bytes priv32, Bytes pub32) noexcept = 0;
    virtual Status x25519(ConstBytes priv32, ConstBytes pub32, ConstBytes peer_pub32, Bytes shared32) noexcept = 0;

    // Verify `sig` over `msg` with `pubkey` (certificate encoding). Ok or Err::bad_signature;
    // Err::invalid_argument when the key or signature length does not fit `alg`.
    virtual Status verify(SigAlg alg, ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept = 0;
};

}  // namespace lockstep::crypto
