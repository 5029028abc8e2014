// SPDX-License-Identifier: Apache-2.0
// lockstep — private keys on disk and an OpenSSL-backed Signer (for the CLI).
//
// Key-file hygiene (a project rule): secret files are created with
// open(O_CREAT|O_EXCL, 0600) and fchmod 0600, never overwritten; they are read
// only if they are regular files granting no permission to group or others
// (st_mode & 077 == 0), checked with fstat on the opened descriptor.
// No exceptions; nothing secret is printed.
#pragma once

#include <array>
#include <cstddef>
#include <memory>

#include "lockstep/crypto.hpp"
#include "lockstep/export.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace lockstep::crypto::openssl {

// A private signing key: Ed25519, RSA-2048 or RSA-3072 (e = 65537).
// sign(): Ed25519 (RFC 8032), or RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32.
class LOCKSTEP_API OpenSslSigner final : public Signer {
public:
    // A fresh key from OpenSSL's CSPRNG. Err::rng_failure / Err::crypto_failure on failure.
    static Result<std::unique_ptr<OpenSslSigner>> generate(SigAlg alg) noexcept;

    // Reads an unencrypted PEM private key (PKCS#8 or traditional). Err::invalid_argument
    // if the file is missing, not a regular file, readable/writable by group or others,
    // larger than 64 KiB, not an Ed25519/RSA key, an RSA key that is not 2048 or 3072
    // bits, or whose public exponent is not 65537. Encrypted keys are refused (no prompt).
    static Result<std::unique_ptr<OpenSslSigner>> load_pem(const char* path) noexcept;

    // Writes the key as unencrypted PKCS#8 PEM to a new file with mode 0600.
    // Err::invalid_argument if the path exists or cannot be created; Err::internal if
    // writing fails (the partial file is removed).
    Status save_pem(const char* path) const noexcept;

    // Ed25519 only: the 32-byte RFC 8032 private key (seed), what a device's
    // signer takes (firmware export). RSA: Err::unsupported; out not 32 bytes:
    // Err::invalid_argument.
    Status ed25519_seed(Bytes out) const noexcept;

    ~OpenSslSigner() override;
    OpenSslSigner(const OpenSslSigner&) = delete;
    OpenSslSigner& operator=(const OpenSslSigner&) = delete;

    SigAlg alg() const noexcept override { return alg_; }
    // Certificate encoding (crypto.hpp); valid for the lifetime of this object.
    ConstBytes public_key() const noexcept override { return {pub_.data(), pubkey_len(alg_)}; }
    // sig.size() must be exactly sig_len(alg()) (shorter: Err::buffer_too_small,
    // longer: Err::invalid_argument).
    Status sign(ConstBytes msg, Bytes sig) noexcept override;

private:
    OpenSslSigner(evp_pkey_st* key, SigAlg alg) noexcept;
    // Takes ownership of `key` (freed on every path); checks type, size and exponent.
    static Result<std::unique_ptr<OpenSslSigner>> adopt(evp_pkey_st* key) noexcept;

    evp_pkey_st* key_;  // owned; EVP_PKEY_free in the destructor (OpenSSL wipes it)
    SigAlg alg_;
    std::array<std::uint8_t, kMaxPublicKeyLen> pub_{};
};

// Raw secret files (pre-shared keys), same rules as the PEM files above.
// write: creates `path` (mode 0600, never overwrites: Err::invalid_argument) and
// writes `data`; Err::internal if writing fails (the partial file is removed).
LOCKSTEP_API Status write_secret_file(const char* path, ConstBytes data) noexcept;
// read: fills the front of `out` and returns the number of bytes read.
// Err::invalid_argument for a missing / non-regular / group- or other-accessible
// file; Err::buffer_too_small if the file is larger than `out`; Err::internal on a
// read error. On error `out` is wiped.
LOCKSTEP_API Result<std::size_t> read_secret_file(const char* path, Bytes out) noexcept;

}  // namespace lockstep::crypto::openssl
