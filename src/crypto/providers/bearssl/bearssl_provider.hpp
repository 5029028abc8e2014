// SPDX-License-Identifier: Apache-2.0
// lockstep — a crypto provider on BearSSL 0.6 (MIT licence), for devices and hosts.
//
// How this works: every Provider method is a thin adapter from spans to BearSSL's
// constant-time code, the same implementations on every target, so the host
// suite runs what a device runs:
//   X25519             br_ec_c25519_i15 (15-bit limbs: the smallest X25519 code)
//   ChaCha20-Poly1305  br_poly1305_ctmul_run over br_chacha20_ct_run
//   AES-GCM            br_gcm over br_aes_ct_ctr (bitsliced AES) and br_ghash_ctmul
//   SHA-256, SHA-512   br_sha256 / br_sha512 (HMAC-SHA-512: the EtM suite)
//   HMAC, HKDF         br_hmac, br_hkdf (RFC 5869)
// No primitive is written here. The adapter does what BearSSL leaves to its
// caller: sizes, the Poly1305 tag compared in constant time (ct_equal), the
// plaintext wiped when a tag does not match, X25519's all-zero result refused.
//
// Ed25519: BearSSL has none. verify(ed25519) calls the Ed25519VerifyFn given at
// construction, or is Err::unsupported without one: lockstep composes
// libsodium's (sodium::ed25519_verify) for certificate modes, through one
// function pointer so that a device links libsodium's Ed25519 code only, not
// its provider. Signing is a Signer's job (sodium::SodiumEd25519Signer on a
// device). RSA-PSS: Err::unsupported (BearSSL 0.6 has no PSS).
//
// Device builds set LOCKSTEP_BEARSSL_SMALL=1: SHA-512 / HMAC-SHA-512 and AES-GCM
// are left out (Err::unsupported; a device offers ChaCha20-Poly1305), and X25519
// is compiled only when a compiled mode uses ECDHE (lockstep/features.hpp).
//
// Entropy: random() calls the EntropyFn given at construction (lockstep/crypto.hpp):
// on a device the hook its TRNG fills; the host constructor (bearssl_system.cpp)
// reads the kernel's CSPRNG with getrandom(2).
//
// Size rules (crypto.hpp): an output span shorter than required gives
// Err::buffer_too_small, any other size mismatch Err::invalid_argument. No state
// is kept between calls; BearSSL's contexts live on the stack and are wiped.
// spec: PROTOCOL.md §4 (algorithms)
#pragma once

#include <cstddef>
#include <cstdint>

#include "lockstep/crypto.hpp"

namespace lockstep::crypto::bearssl {

// Ed25519 verification from another library: Ok, Err::bad_signature, or
// Err::invalid_argument for a key other than 32 or a signature other than 64 bytes.
using Ed25519VerifyFn = Status (*)(ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept;

class BearSslProvider final : public Provider {
public:
    // Hosts: the kernel's CSPRNG (getrandom). Defined in bearssl_system.cpp,
    // which a device build does not compile.
    explicit BearSslProvider(Ed25519VerifyFn ed25519 = nullptr) noexcept;
    // Devices (or tests): entropy from `fn(ctx, ...)`; `ctx` must outlive the provider.
    BearSslProvider(EntropyFn fn, void* ctx, Ed25519VerifyFn ed25519 = nullptr) noexcept
        : entropy_(fn), entropy_ctx_(ctx), ed25519_(ed25519) {}

    Status random(Bytes out) noexcept override;
    Status hash(Hash h, ConstBytes a, ConstBytes b, Bytes out) noexcept override;
    Status hmac(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, Bytes out) noexcept override;
    // Empty salt = hash_len(h) zero bytes (RFC 5869 §2.2).
    Status hkdf_extract(Hash h, ConstBytes salt, ConstBytes ikm, Bytes out) noexcept override;
    // out.size() > 255*hash_len(h): Err::invalid_argument. An empty out is Ok.
    Status hkdf_expand(Hash h, ConstBytes prk, ConstBytes info, Bytes out) noexcept override;

    // ChaCha20-Poly1305: 32-byte key, 12-byte nonce. AES-GCM: 16-, 24- or 32-byte
    // key, any non-empty nonce. `out` overlapping the input other than exactly:
    // Err::invalid_argument. open: on a tag mismatch Err::bad_mac, `out` zeroed.
    Status aead_seal(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes pt,
                     Bytes out) noexcept override;
    Status aead_open(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes ct_and_tag,
                     Bytes out) noexcept override;

    // keygen: 32 random bytes, public key = the ladder on the base point (mulgen).
    Status x25519_keygen(Bytes priv32, Bytes pub32) noexcept override;
    // pub32 is not needed. An all-zero result: Err::crypto_failure, shared32 zeroed.
    Status x25519(ConstBytes priv32, ConstBytes pub32, ConstBytes peer_pub32, Bytes shared32) noexcept override;

    // Ed25519 through the composed verifier (see above); RSA-PSS: Err::unsupported.
    Status verify(SigAlg alg, ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept override;

private:
    EntropyFn entropy_;
    void* entropy_ctx_;
    Ed25519VerifyFn ed25519_;
};

}  // namespace lockstep::crypto::bearssl
