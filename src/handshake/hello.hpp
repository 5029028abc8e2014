// SPDX-License-Identifier: Apache-2.0
// lockstep — what the client's and the server's initial-handshake handlers
// share (private to src/handshake; defined in handshake.cpp).
#pragma once

#include "handshake/link.hpp"

namespace lockstep::handshake::hello {

inline wire::IdList to_list(const std::uint8_t* items, std::uint8_t n) noexcept {
    wire::IdList l;
    for (std::uint8_t i = 0; i < n; ++i) l.push(items[i]);
    return l;
}
template <class T, std::size_t N>
wire::IdList to_list(const Prefs<T, N>& p) noexcept {
    std::uint8_t raw[N];
    for (std::uint8_t i = 0; i < p.count; ++i) raw[i] = static_cast<std::uint8_t>(p.items[i]);
    return to_list(raw, p.count);
}

// A certificate mode needs a signer, our certificate and the CA's (a client also server names).
Status check_credentials(const Config& c, Mode m) noexcept;
Result<std::uint32_t> random_u32(crypto::Provider& p) noexcept;
// An s0 MAC (HELLO, HELLO ACK): Err::bad_mac unless mac = mac(key, th).
Status hmac_check(crypto::Provider& p, const keys::Secret32& key, ConstBytes th, ConstBytes mac) noexcept;

// The handshake secret's products, computed before the handler commits them
// to the KeyState at one point (compute-then-commit, handshake.hpp).
struct Pending {
    keys::Secret32 rekey_psk, c_hs, s_hs;
    record::DirectionKeys tx, rx;
    void commit(KeyState& k) noexcept {
        k.rekey_psk = std::move(rekey_psk);
        k.c_hs = std::move(c_hs);
        k.s_hs = std::move(s_hs);
        k.tx = std::move(tx);
        k.rx = std::move(rx);
    }
};
// Handshake secret and the epoch-0 traffic keys, once th2 is known (spec §5.1, §5.3).
Result<keys::HandshakeSecret> handshake_keys(Link& e, Mode mode, Suite suite, ConstBytes th2,
                                             keys::EarlySecret&& early, keys::Secret32& shared,
                                             Pending& out) noexcept;

// Cert modes carry a certificate and a signature, PSK modes neither. A peer
// certificate is checked (fields, revocation, the cert+psk subject, the
// client's server names) and its key and subject remembered in the Link.
Status accept_peer_cert(Link& e, Mode mode, ConstBytes cert, ConstBytes sig, CertRole role, const Now& now) noexcept;
// The peer certificate's CA signature (through the cache), checked only
// after the transcript signature verified under its key (spec §7.4).
Status peer_cert_signed(Link& e, Mode mode, ConstBytes cert) noexcept;

// Epoch 1 (spec §5.3): the application traffic keys from master and the whole
// transcript (th8), the handshake secrets wiped; IDLE.
Status enter_epoch1(Link& e, const Now& now) noexcept;
// The handshake completed: counted, and the handshake_done event.
void handshake_done(Link& e) noexcept;

}  // namespace lockstep::handshake::hello
