// SPDX-License-Identifier: Apache-2.0
// PROTOCOL.md §14.2: the fixed inputs of the RSA-PSS vector. RSA-PSS signatures
// are randomised (the PSS salt), so the vector fixes them: tests/vectors/rsa_pss/
// holds three RSA-2048 keys (ca.pem, server.pem, client.pem) and signatures.txt,
// the signature each key gives for each of its signings in the vector's
// exchange. A ReplaySigner hands that signature out instead of a fresh one; the
// peer's provider still verifies it with OpenSSL, so a fixed signature that does
// not verify stops the exchange. No RSA arithmetic here: OpenSSL signs and verifies.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../support/sim.hpp"

namespace lockstep::sim::rsa_vector {

// One signing in the exchange: which key ("ca", "server", "client"), its n-th
// signing (from 0), what it signed and the signature it gave.
struct Signing {
    std::string key;
    int index = 0;
    Buf content, sig;
};

// Lower-case hex, as the spec prints bytes.
std::string hex(crypto::ConstBytes b);

// The PEM text of a key file as the spec prints it (without the comment lines).
std::string pem_text(const std::string& key);

// Every signing is appended to `log`, in signing order across all signers of a
// run. update: a stored signature that does not verify over this content (or a
// missing one) is replaced by a fresh one, which signatures.txt then receives
// (save_if_changed); otherwise the stored signature is given as it is. flip:
// the label ("server 0") whose signature gets one bit flipped (negative tests).
class ReplaySigner final : public crypto::Signer {
public:
    ReplaySigner(std::string key, std::vector<Signing>& log, bool update, std::string flip = {});
    crypto::SigAlg alg() const noexcept override { return key_->alg(); }
    crypto::ConstBytes public_key() const noexcept override { return key_->public_key(); }
    Status sign(crypto::ConstBytes msg, crypto::Bytes sig) noexcept override;
    // The key itself, loaded by the CLI's loader (OpenSslSigner::load_pem).
    crypto::openssl::OpenSslSigner& real() { return *key_; }

private:
    std::string name_, flip_;
    std::unique_ptr<crypto::openssl::OpenSslSigner> key_;
    std::vector<Signing>& log_;
    bool update_;
    int count_ = 0;
};

// The bit a negative test flips: byte 100, bit 3 (inside the PSS-encoded value).
void flip_one_bit(Buf& sig);

// Rewrites signatures.txt if an update run replaced a signature. False on a write error.
bool save_if_changed();

}  // namespace lockstep::sim::rsa_vector
