// SPDX-License-Identifier: Apache-2.0
// lockstep — the authentication tail every handshake message shares: a
// signature field (vec16, empty in PSK modes) over the transcript, then a
// finished MAC over the transcript including that field. spec: PROTOCOL.md §5.4
//
// Both functions expect the transcript to hold everything before the
// signature field already; they append the signature field and the finished
// MAC, so sender and receiver stay in step. The sender's message is laid out
// first by the wire layer's one encoder (wire::layout_*), then filled here.
#pragma once

#include "common/bytes.hpp"
#include "keys/keys.hpp"
#include "lockstep/crypto.hpp"
#include "wire/wire.hpp"

namespace lockstep::handshake {

struct PeerKey {
    crypto::SigAlg alg;
    ConstBytes key;
};

// Fills the authentication tail laid out by a wire::layout_* encoder: the
// signature by `signer` (the field stays empty when signer is null) over the
// transcript, then the finished MAC keyed from `secret` over the transcript
// including the signature field. The slots' sig_len must be sig_len(signer).
Status write_auth(crypto::Provider& p, keys::Transcript& th, crypto::Signer* signer, const char* context,
                  ConstBytes secret, const wire::AuthSlots& slots) noexcept;

// Checks a received tail: `sig_field` is the vec16 as it was on the wire. With
// `peer` the signature must verify (Err::bad_signature); without, it must be
// empty (Err::bad_value). Then the finished MAC (Err::bad_mac).
Status check_auth(crypto::Provider& p, keys::Transcript& th, ConstBytes sig_field, const PeerKey* peer,
                  const char* context, ConstBytes secret, ConstBytes finished) noexcept;

}  // namespace lockstep::handshake
