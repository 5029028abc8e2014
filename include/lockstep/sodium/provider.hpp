// SPDX-License-Identifier: Apache-2.0
// lockstep — a crypto provider on libsodium (ISC licence), for hosts and devices.
//
// How this works: every Provider method is a thin adapter from spans to one
// libsodium call: crypto_aead_chacha20poly1305_ietf_*_detached and
// crypto_aead_aes256gcm_*_detached, crypto_hash_sha256/512, crypto_auth_hmacsha256/512
// (init / update / final, so a key of any length works), crypto_scalarmult_curve25519
// and crypto_sign_ed25519_verify_detached. HKDF (RFC 5869) is composed from
// libsodium's HMAC, since libsodium 1.0.18 has no HKDF; no primitive is written here.
//
// What libsodium does not offer is refused with Err::unsupported:
//  * RSA-PSS (libsodium has no RSA);
//  * AES-256-GCM where crypto_aead_aes256gcm_is_available() is false (libsodium
//    implements it only with AES-NI + PCLMUL; never on a Cortex-M), and AES-GCM
//    with 16- or 24-byte keys or nonces other than 12 bytes (libsodium has
//    AES-256-GCM with 12-byte nonces only).
//
// Entropy: random() calls the entropy source given at construction. The default
// constructor (sodium_system.cpp, hosts only) runs sodium_init() and uses
// libsodium's randombytes_buf (the OS CSPRNG). A device passes its own source,
// the hook its TRNG fills (mcu/ shows one, given to the BearSSL provider), and
// needs neither sodium_init() nor libsodium's randombytes: with no CPU
// features to pick, libsodium runs its portable reference code.
//
// Size rules (crypto.hpp): an output span shorter than required gives
// Err::buffer_too_small, any other size mismatch Err::invalid_argument.
// The object keeps no state between calls except the entropy source; the
// HMAC states on the stack are wiped before each call returns.
// spec: PROTOCOL.md §4 (algorithms)
#pragma once

#include <cstddef>
#include <cstdint>

#include "lockstep/crypto.hpp"
#include "lockstep/export.h"

namespace lockstep::crypto::sodium {

// The entropy source (lockstep/crypto.hpp).
using EntropyFn = crypto::EntropyFn;

// Ed25519 verification alone (libsodium's crypto_sign_ed25519_verify_detached),
// what SodiumProvider::verify runs; other providers compose it (the BearSSL
// provider, which has no Ed25519). Ok, Err::bad_signature, or Err::invalid_argument
// when the key is not 32 or the signature not 64 bytes.
LOCKSTEP_API Status ed25519_verify(ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept;

class LOCKSTEP_API SodiumProvider final : public Provider {
public:
    // Hosts: sodium_init() (CPU feature detection, RNG set-up) and randombytes_buf.
    // Defined in sodium_system.cpp, which a device build does not compile.
    SodiumProvider() noexcept;
    // Devices (or tests): entropy from `fn(ctx, ...)`; `ctx` must outlive the provider.
    SodiumProvider(EntropyFn fn, void* ctx) noexcept : entropy_(fn), entropy_ctx_(ctx) {}

    Status random(Bytes out) noexcept override;
    Status hash(Hash h, ConstBytes a, ConstBytes b, Bytes out) noexcept override;
    Status hmac(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, Bytes out) noexcept override;
    // Empty salt = hash_len(h) zero bytes (RFC 5869 §2.2).
    Status hkdf_extract(Hash h, ConstBytes salt, ConstBytes ikm, Bytes out) noexcept override;
    // out.size() > 255*hash_len(h): Err::invalid_argument. An empty out is Ok.
    Status hkdf_expand(Hash h, ConstBytes prk, ConstBytes info, Bytes out) noexcept override;

    // ChaCha20-Poly1305: 32-byte key, 12-byte nonce. AES-GCM: see the note above
    // (Err::unsupported). `out` overlapping the input other than exactly:
    // Err::invalid_argument. open: on a tag mismatch Err::bad_mac, `out` zeroed.
    Status aead_seal(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes pt,
                     Bytes out) noexcept override;
    Status aead_open(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes ct_and_tag,
                     Bytes out) noexcept override;

    // keygen: 32 random bytes, public key by crypto_scalarmult_curve25519_base.
    Status x25519_keygen(Bytes priv32, Bytes pub32) noexcept override;
    // pub32 is not needed (libsodium's ladder does not use it). A low-order peer
    // key or an all-zero result: Err::crypto_failure and shared32 zeroed.
    Status x25519(ConstBytes priv32, ConstBytes pub32, ConstBytes peer_pub32, Bytes shared32) noexcept override;

    // Ed25519 (32-byte key, 64-byte signature; libsodium rejects non-canonical
    // and small-order encodings). RSA-PSS: Err::unsupported. Wrong sizes:
    // Err::invalid_argument; a signature that does not verify: Err::bad_signature.
    Status verify(SigAlg alg, ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept override;

    // True when libsodium runs AES-256-GCM here (a host CPU with AES-NI + PCLMUL;
    // the default constructor's sodium_init() has detected them). Never on a device.
    bool aes_gcm_available() const noexcept;

private:
    EntropyFn entropy_;
    void* entropy_ctx_;
};

// An Ed25519 signing key held in libsodium's 64-byte form (seed || public key),
// wiped on destruction. Not copyable.
class LOCKSTEP_API SodiumEd25519Signer final : public Signer {
public:
    // From the 32-byte RFC 8032 private key (seed). Wrong size: valid() is false.
    explicit SodiumEd25519Signer(ConstBytes seed32) noexcept;
    ~SodiumEd25519Signer() override;
    SodiumEd25519Signer(const SodiumEd25519Signer&) = delete;
    SodiumEd25519Signer& operator=(const SodiumEd25519Signer&) = delete;

    bool valid() const noexcept { return valid_; }
    SigAlg alg() const noexcept override { return SigAlg::ed25519; }
    ConstBytes public_key() const noexcept override { return {sk_ + 32, 32}; }
    // sig must be exactly 64 bytes.
    Status sign(ConstBytes msg, Bytes sig) noexcept override;

private:
    std::uint8_t sk_[64] = {};
    bool valid_ = false;
};

}  // namespace lockstep::crypto::sodium
