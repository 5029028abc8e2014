// SPDX-License-Identifier: Apache-2.0
#include "handshake/auth.hpp"

#include "lockstep/features.hpp"
#include "wire/wire.hpp"

namespace lockstep::handshake {

static_assert(wire::kMacLen == keys::kMacLen && wire::kFinishedLen == keys::kMacLen,
              "the wire carries the key schedule's truncated MACs");

Status write_auth(crypto::Provider& p, keys::Transcript& th, crypto::Signer* signer, const char* context,
                  ConstBytes secret, const wire::AuthSlots& slots) noexcept {
    if constexpr (!features::kCertModes) signer = nullptr;  // no mode of this build signs
    const std::size_t slen = signer ? crypto::sig_len(signer->alg()) : 0;
    if (slots.sig_field.size() != 2 + slen || slots.finished.size() != wire::kFinishedLen) return Err::internal;
    if (signer) {
        std::uint8_t content[64];
        LS_TRY(signer->sign(keys::signed_content(context, th.span(), content), slots.sig_field.subspan(2)));
    }
    LS_TRY(th.append(p, slots.sig_field));
    LS_TRY(keys::finished_mac(p, secret, th.span(), slots.finished));
    return th.append(p, slots.finished);
}

Status check_auth(crypto::Provider& p, keys::Transcript& th, ConstBytes sig_field, const PeerKey* peer,
                  const char* context, ConstBytes secret, ConstBytes finished) noexcept {
    if (sig_field.size() < 2) return Err::truncated;
    const ConstBytes sig = sig_field.subspan(2);
    if constexpr (!features::kCertModes) peer = nullptr;  // no mode of this build verifies
    if (peer) {
        if (sig.size() != crypto::sig_len(peer->alg)) return Err::bad_signature;
        std::uint8_t content[64];
        if (!p.verify(peer->alg, peer->key, keys::signed_content(context, th.span(), content), sig))
            return Err::bad_signature;
    } else if (!sig.empty()) {
        return Err::bad_value;
    }
    LS_TRY(th.append(p, sig_field));
    std::uint8_t expect[wire::kFinishedLen];
    LS_TRY(keys::finished_mac(p, secret, th.span(), expect));
    if (!ct_equal(expect, finished)) return Err::bad_mac;
    return th.append(p, finished);
}

}  // namespace lockstep::handshake
