// SPDX-License-Identifier: Apache-2.0
// lockstep — the initial handshake, the server's side: HELLO -> HELLO ACK,
// then the client's ACK. Transcript items: handshake.cpp.
// spec: PROTOCOL.md §5, §6.2-6.5
#include <cstring>

#include "handshake/auth.hpp"
#include "handshake/handshake.hpp"
#include "handshake/hello.hpp"

namespace lockstep::handshake {

using namespace hello;

// ---------------------------------------------------------------- server: HELLO -> HELLO ACK
Status on_hello(Link& e, ConstBytes msg, const Now& now, std::uint32_t& peer_seq) noexcept {
    const Config& c = e.cfg_;
    crypto::Provider& p = e.provider();
    KeyState& k = e.keys_;
    auto h = wire::decode_hello(msg);
    if (!h) return h.error();
    e.trace_received(wire::Inner{MsgType::hello, h->seq, 0, h->ttl, {}, {}}, msg.size());
    peer_seq = h->seq;  // a clear CLOSE refusing this HELLO answers its c0 (spec §6.6)
    const wire::IdList sv = to_list(c.versions), ss = to_list(c.suites), sm = to_list(c.modes);
    auto choice = negotiate(h->versions, h->suites, h->modes, sv, ss, sm, !h->psk_id.empty(), h->kx == Kx::x25519);
    if (!choice) return choice.error();
    const bool relative = (h->flags & wire::kFlagRelativeTtl) != 0;
    if (!relative) LS_TRY(e.check_ttl(h->ttl, now));  // relative: HELLO is the origin
    LS_TRY(check_credentials(c, choice->mode));
    const Mode mode = choice->mode;

    // PSK: find it and check the s0 MAC before any public-key work (property 8).
    // An unknown identity costs the same HKDF and HMAC work as a known one
    // (no probing for identities by timing, spec §11.8).
    ConstBytes psk;
    static constexpr std::uint8_t kNoPsk[32] = {};
    bool known = true;
    if (features::uses_psk(mode)) {
        if (c.psk_store != nullptr) psk = c.psk_store->find(h->psk_id);
        known = psk.size() >= 16 && psk.size() <= 64;  // a store's short key counts as none (spec §6.7)
        if (!known) psk = kNoPsk;
    }
    auto early = keys::early_secret(p, psk);
    if (!early) return early.error();
    keys::Transcript th = k.th;
    LS_TRY(th.append(p, h->body));  // T1
    if (features::uses_psk(mode)) {
        keys::Secret32 mk;
        LS_TRY(keys::hello_mac_key(p, *early, Role::client, mk));
        const Status mac_ok = hmac_check(p, mk, th.span(), h->mac);
        if (!known) return Err::unknown_psk;
        LS_TRY(mac_ok);
    }
    keys::Secret32 shared;
    if (features::uses_ecdhe(mode)) {
        LS_TRY(p.x25519_keygen(k.x_priv.span(), k.x_pub));
        if (ct_equal(h->share, k.x_pub)) return Err::bad_value;  // a share equal to ours (spec §4.4)
        LS_TRY(p.x25519(k.x_priv.span(), k.x_pub, h->share, shared.span()));
        k.x_priv.wipe();
        e.keylog("ecdhe", shared.span());
    }

    // Commit: the HELLO passed every check that drops it; what follows fails only on our side.
    e.relative_ttl_ = relative;
    e.mode_ = mode;
    e.suite_ = choice->suite;
    e.accept_rx(h->seq, MsgType::hello, 0);
    k.th = th;
    k.peer_versions = h->versions;
    k.peer_suites = h->suites;
    k.peer_modes = h->modes;
    // cert+psk: remember psk_id; the client certificate's subject must equal it (spec §7.4).
    if (features::kModeCertPsk && mode == Mode::cert_psk) {
        std::memcpy(e.peer_subject_, h->psk_id.data(), h->psk_id.size());
        e.peer_subject_len_ = h->psk_id.size();
    }
    LS_TRY(p.hash(crypto::Hash::sha256, msg, {}, k.hello_digest));

    wire::HelloAck a;
    a.version = choice->version;
    a.suite = e.suite_;
    a.mode = e.mode_;
    a.flags = h->flags & wire::kFlagRelativeTtl;
    a.versions = sv;
    a.suites = ss;
    a.modes = sm;
    a.kx = features::uses_ecdhe(mode) ? Kx::x25519 : Kx::none;
    if (features::uses_ecdhe(mode)) a.share = k.x_pub;
    auto isn = random_u32(p);
    if (!isn || (a.share.empty() && !p.random(a.random))) return Err::rng_failure;
    a.seq = *isn;
    a.ack = h->seq;
    a.ttl = e.make_ttl(now);

    std::uint8_t* const slot = e.new_slot();
    Writer w({slot, e.kept_cap()});
    wire::encode_hello_ack_clear(a, w);
    LS_TRY(w.status());
    LS_TRY(k.th.append(p, w.written()));  // T2
    if (features::uses_psk(e.mode_)) {
        keys::Secret32 mk;
        LS_TRY(keys::hello_mac_key(p, *early, Role::server, mk));
        Bytes mac = w.reserve(wire::kMacLen);
        LS_TRY(w.status());
        LS_TRY(keys::mac(p, mk.span(), k.th.span(), mac));
    }
    Pending pk;
    auto hs = handshake_keys(e, e.mode_, e.suite_, k.th.span(), std::move(*early), shared, pk);
    if (!hs) return hs.error();
    pk.commit(k);

    // Sealed part: vec16 cert, vec16 sig, finished — written in place, then sealed.
    const bool cert = features::uses_cert(e.mode_);
    const ConstBytes my_cert = cert ? c.certificate : ConstBytes{};
    const std::size_t slen = cert ? crypto::sig_len(c.signer->alg()) : 0;
    const std::size_t pt_len = 2 + my_cert.size() + 2 + slen + wire::kFinishedLen;
    const std::size_t sealed_len = pt_len + record::suite_overhead(e.suite_);
    w.u16(static_cast<std::uint16_t>(sealed_len));
    LS_TRY(w.status());
    const ConstBytes aad = w.written();
    Bytes region = w.reserve(sealed_len);
    LS_TRY(w.status());
    Writer pw(region.first(pt_len));
    const wire::AuthSlots slots = wire::layout_hello_ack_auth(my_cert, slen, pw);
    LS_TRY(pw.status());
    LS_TRY(k.th.append(p, region.first(2 + my_cert.size())));  // T3
    LS_TRY(write_auth(p, k.th, cert ? c.signer : nullptr, keys::kServerSigContext, k.s_hs.span(),
                      slots));  // T4, T5
    LS_TRY(record::seal_payload(p, k.tx, 0, aad, region.first(pt_len), region));
    k.tx.next_rn = 1;

    auto master = keys::master_secret(p, std::move(*hs));
    if (!master) return master.error();
    k.master = std::move(*master);
    e.state_ = State::wait_ack;
    wire::Inner meta{MsgType::hello_ack, a.seq, a.ack, a.ttl, {}, {}};
    return e.send_kept(meta, w.size(), 0, true, now);
}

// ---------------------------------------------------------------- server: ACK

Status on_ack(Link& e, const wire::Inner& m, const Now& now) noexcept {
    crypto::Provider& p = e.provider();
    KeyState& k = e.keys_;
    auto a = wire::decode_ack_body(m.body);
    if (!a) return a.error();
    const bool cert = features::uses_cert(e.mode_);
    const std::uint8_t* inner = m.raw.data();
    const std::size_t t6_len = wire::kInnerHeaderLen + 4 + 2 + a->cert.size();
    const ConstBytes t6{inner, t6_len}, t7{inner + t6_len, 2 + a->sig.size()};
    const keys::Transcript th5 = k.th;
    Status checked = accept_peer_cert(e, e.mode_, a->cert, a->sig, CertRole::client, now);
    if (checked) checked = k.th.append(p, t6);  // T6
    if (checked) {
        const PeerKey client_key = peer_key(e);
        checked = check_auth(p, k.th, t7, cert ? &client_key : nullptr, keys::kClientSigContext,
                                        k.c_hs.span(), a->finished);  // T7, T8
    }
    if (checked) checked = peer_cert_signed(e, e.mode_, a->cert);
    if (!checked) {
        // Refused (certificate, signature or finished). The ACK opened under
        // c_hs, so its sender holds this handshake's keys and has entered
        // epoch 1: complete the transcript as it sent it and enter epoch 1 too,
        // so the caller's fail() sends CLOSE(reason) that the client can open
        // (spec §8.5). Nothing but CLOSE ACK is accepted after it.
        k.th = th5;
        LS_TRY(k.th.append(p, t6));
        LS_TRY(k.th.append(p, t7));
        LS_TRY(k.th.append(p, a->finished));
        LS_TRY(enter_epoch1(e, now));
        return checked;
    }
    // Downgrade (S2): the server chose by the published rule from the lists in
    // HELLO; the client's finished now authenticates exactly those lists, so a
    // tampered HELLO cannot reach this point (spec §5.5).
    LS_TRY(enter_epoch1(e, now));
    e.awaiting_reply_ = false;
    handshake_done(e);
    return {};
}

}  // namespace lockstep::handshake
