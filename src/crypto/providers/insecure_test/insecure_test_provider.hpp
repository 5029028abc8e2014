// SPDX-License-Identifier: Apache-2.0
// lockstep — INSECURE test provider: deterministic, deliberately NON-cryptographic.
//
// !!! INSECURE. NEVER USE OUTSIDE TESTS, FUZZING OR SIMULATION. !!!
// Nothing here is secret or hard to forge: the "hash" is FNV-1a/splitmix
// mixing, the "AEAD" is a XOR keystream with a mixed tag, the "X25519" shared
// secret is the XOR of both public keys (public key = private key), and the
// "signature" is a mix of the public key and the message, which anyone can
// compute. It exists so that:
//   * fuzzers can run the engine fast and reproducibly, and, with
//     accept_any_tag, get past AEAD tags into the handshake / data / re-key /
//     close logic (a flipped ciphertext bit is a flipped plaintext bit);
//   * simulations run on targets with no crypto library (it needs only
//     <cstdint>, <cstring>, <span>, <array>; no heap, no exceptions, no RTTI).
//
// How this works: every primitive is a `Mix` — two 64-bit FNV-style lanes fed
// with a domain byte and length-prefixed inputs — expanded by a counter-based
// splitmix64 finalizer to the length asked for. Sizes follow crypto.hpp and
// the OpenSSL provider's rules (an output span shorter than required gives
// Err::buffer_too_small, any other size mismatch Err::invalid_argument; HKDF
// expand refuses more than 255 * hash_len bytes; a failed open zeroes `out`),
// so code paths that depend on those checks behave as in production.
#pragma once

#include <array>
#include <cstdint>

#include "lockstep/crypto.hpp"

namespace lockstep::crypto::insecure {

// INSECURE deterministic provider. One object per engine (random() is a
// counter: two engines sharing one object see each other's draws).
class InsecureTestProvider final : public Provider {
public:
    // seed: the random() stream. accept_any_tag: aead_open skips the tag check
    // (fuzzing only: tampered records decrypt instead of failing with bad_mac).
    explicit InsecureTestProvider(std::uint64_t seed, bool accept_any_tag = false) noexcept
        : seed_(seed), accept_any_tag_(accept_any_tag) {}

    Status random(Bytes out) noexcept override;
    Status hash(Hash h, ConstBytes a, ConstBytes b, Bytes out) noexcept override;
    Status hmac(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, Bytes out) noexcept override;
    Status hkdf_extract(Hash h, ConstBytes salt, ConstBytes ikm, Bytes out) noexcept override;
    Status hkdf_expand(Hash h, ConstBytes prk, ConstBytes info, Bytes out) noexcept override;
    Status aead_seal(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes pt,
                     Bytes out) noexcept override;
    Status aead_open(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes ct_and_tag,
                     Bytes out) noexcept override;
    // pub = priv (never all-zero); shared = priv XOR peer_pub, so
    // x25519(a, pub_b) == x25519(b, pub_a). All-zero peer keys and all-zero
    // shared secrets give Err::crypto_failure, like the real function.
    Status x25519_keygen(Bytes priv32, Bytes pub32) noexcept override;
    Status x25519(ConstBytes priv32, ConstBytes pub32, ConstBytes peer_pub32, Bytes shared32) noexcept override;
    // Accepts exactly the signatures InsecureTestSigner makes for `pubkey`.
    Status verify(SigAlg alg, ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept override;

    bool accept_any_tag() const noexcept { return accept_any_tag_; }
    // Number of random() calls so far (tests check determinism).
    std::uint64_t draws() const noexcept { return counter_; }

private:
    std::uint64_t seed_;
    std::uint64_t counter_ = 0;
    bool accept_any_tag_;
};

// INSECURE signer matching InsecureTestProvider::verify: the "public key" is
// derived from key_seed, the "signature" from public key and message. Anyone
// who knows the public key can sign.
class InsecureTestSigner final : public Signer {
public:
    InsecureTestSigner(SigAlg alg, std::uint64_t key_seed) noexcept;
    SigAlg alg() const noexcept override { return alg_; }
    ConstBytes public_key() const noexcept override { return {pub_.data(), pubkey_len(alg_)}; }
    // sig must be exactly sig_len(alg()) bytes.
    Status sign(ConstBytes msg, Bytes sig) noexcept override;

    // The one signature verify() accepts (shared by signer and provider).
    static Status make_signature(SigAlg alg, ConstBytes pubkey, ConstBytes msg, Bytes sig) noexcept;

private:
    SigAlg alg_;
    std::array<std::uint8_t, kMaxPublicKeyLen> pub_{};
};

}  // namespace lockstep::crypto::insecure
