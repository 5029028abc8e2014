// SPDX-License-Identifier: Apache-2.0
// lockstep — issuing and verifying compact certificates. spec: PROTOCOL.md §7
#pragma once

#include "common/bytes.hpp"
#include "lockstep/config.hpp"
#include "lockstep/crypto.hpp"
#include "wire/wire.hpp"

namespace lockstep::certs {

// Key id: the first 8 bytes of SHA-256(alg || public key).
Result<wire::KeyId> key_id(crypto::Provider& p, crypto::SigAlg alg, ConstBytes pubkey) noexcept;

// Signs c (whose issuer, sig_alg are filled in here from the issuer's key) and
// writes the encoded certificate. For a self-signed CA pass the CA's own signer.
Result<std::size_t> issue(crypto::Provider& p, crypto::Signer& issuer, wire::Cert c, Bytes out) noexcept;

// Checks a CA certificate: role CA, self-issued, self-signed.
Result<wire::Cert> verify_ca(crypto::Provider& p, ConstBytes ca_cert) noexcept;

// Checks `cert` against the CA certificate (the trust anchor, whose own
// signature the application checks once with verify_ca when loading it):
// issuer key id, CA signature, role, and (unless skip_validity) that now lies
// within [not_before, not_after] of both certificates. With a cache, a
// certificate whose SHA-256(ca_cert || cert) is in it skips the signature
// check (only), and one whose signature verifies is added.
Result<wire::Cert> verify(crypto::Provider& p, ConstBytes cert, ConstBytes ca_cert, CertRole expected_role,
                          std::int64_t now_unix_seconds, bool skip_validity, CertCache* cache = nullptr) noexcept;
// verify in two steps, so a handshake can check the transcript signature
// between them and consult the cache only for a peer that proved its key
// (cache hits and misses then tell an attacker nothing, spec §7.4, §11.15):
// everything but the CA signature ...
Result<wire::Cert> check_fields(crypto::Provider& p, ConstBytes cert, ConstBytes ca_cert, CertRole expected_role,
                                std::int64_t now_unix_seconds, bool skip_validity) noexcept;
// ... and the CA signature, through the cache.
Status check_ca_signature(crypto::Provider& p, ConstBytes cert, ConstBytes ca_cert, CertCache* cache) noexcept;

}  // namespace lockstep::certs
