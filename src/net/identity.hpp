// SPDX-License-Identifier: Apache-2.0
// lockstep server — the identity each connection authenticated with, for
// re-checking it later (revocation, ServerOptions::still_allowed).
//
// How this works: when the server re-checks identities, every connection's
// engine gets a Config whose PSK store and certificate policy are this
// connection's IdentityRecorder. It forwards each question to the server's
// own store and policy, and remembers the PSK identity that was found and the
// certificate that was accepted. The engine asks at most once of each during
// a handshake, so what is recorded is what the handshake used; the server
// reads it only once the handshake is done (authenticated).
// spec: PROTOCOL.md §7.4 (revocation)
#pragma once

#include <algorithm>

#include "lockstep/config.hpp"
#include "lockstep/net.hpp"

namespace lockstep::net::detail {

class IdentityRecorder final : public PskStore, public CertPolicy {
public:
    explicit IdentityRecorder(const Config& base) : store_(base.psk_store), policy_(base.cert_policy) {}
    IdentityRecorder(const IdentityRecorder&) = delete;
    IdentityRecorder& operator=(const IdentityRecorder&) = delete;

    // `base` with this recorder in front of its store and policy.
    Config wrap(Config base) const noexcept {
        base.psk_store = this;
        base.cert_policy = this;
        return base;
    }

    std::span<const std::uint8_t> find(std::span<const std::uint8_t> identity) const noexcept override {
        if (store_ == nullptr) return {};
        const auto key = store_->find(identity);
        if (!key.empty()) {
            id_.psk_id_len = std::min(identity.size(), id_.psk_id.size());
            std::copy_n(identity.begin(), id_.psk_id_len, id_.psk_id.begin());
        }
        return key;
    }

    bool revoked(std::uint64_t serial, std::span<const std::uint8_t, 8> key_id,
                 std::span<const std::uint8_t> subject) const noexcept override {
        if (policy_ != nullptr && policy_->revoked(serial, key_id, subject)) return true;
        id_.has_cert = true;
        id_.cert_serial = serial;
        std::copy(key_id.begin(), key_id.end(), id_.cert_key_id.begin());
        id_.subject_len = std::min(subject.size(), id_.subject.size());
        std::copy_n(subject.begin(), id_.subject_len, id_.subject.begin());
        return false;
    }

    const PeerIdentity& identity() const noexcept { return id_; }

private:
    const PskStore* store_;
    const CertPolicy* policy_;
    mutable PeerIdentity id_;
};

}  // namespace lockstep::net::detail
