// SPDX-License-Identifier: Apache-2.0
// lockstep — the re-key handshake (R4, R14). spec: PROTOCOL.md §5.6
//
// After N acknowledged DATA RESPONSEs the server sends HELLO (fresh X25519
// share) and the client answers HELLO ACK (its share, a signature in cert modes,
// a finished MAC), both under the current epoch's keys; the server confirms with
// ACK (signature, finished) under the new keys. The new epoch secret chains
// from the old one: master(n+1) = Extract(Derive(master(n),"rekey"), ecdhe).
// Transcript items continue the chain of the initial handshake:
//   R1 HELLO plaintext               R2 HELLO ACK plaintext through its share (or random)
//   R3 vec16(client signature)       R4 client finished -> epoch n+1 secrets
//   R5 ACK plaintext up to vec16(empty certificate)
//   R6 vec16(server signature)       R7 server finished
#include <cstring>

#include "handshake/auth.hpp"
#include "handshake/handshake.hpp"

namespace lockstep::handshake {


namespace {

// Derive the four secrets of the new epoch: finished keys (after R2) are kept
// in c_hs / s_hs; traffic keys (after R4) go to next_tx / other_rx.
Status rekey_finished_secrets(Link& e, crypto::Provider& p, KeyState& k) noexcept {
    LS_TRY(keys::derive_secret(p, k.master.s.span(), "c rk traffic", k.th.span(), k.c_hs));
    LS_TRY(keys::derive_secret(p, k.master.s.span(), "s rk traffic", k.th.span(), k.s_hs));
    e.keylog("rekey thR2", k.th.span());
    e.keylog("rekey master secret", k.master.s.span());
    e.keylog("c rk traffic", k.c_hs.span());
    e.keylog("s rk traffic", k.s_hs.span());
    return {};
}

Status rekey_traffic(Link& e, crypto::Provider& p, KeyState& k, Role me, Suite suite, std::uint8_t epoch) noexcept {
    keys::Secret32 cap, sap;
    LS_TRY(keys::derive_secret(p, k.master.s.span(), "c ap traffic", k.th.span(), cap));
    LS_TRY(keys::derive_secret(p, k.master.s.span(), "s ap traffic", k.th.span(), sap));
    e.keylog("rekey thR4", k.th.span());
    e.keylog("rekey c ap traffic", cap.span());
    e.keylog("rekey s ap traffic", sap.span());
    LS_TRY(record::derive(p, suite, epoch, (me == Role::client ? cap : sap).span(), k.next_tx));
    k.other_is_prev = false;
    return record::derive(p, suite, epoch, (me == Role::client ? sap : cap).span(), k.other_rx);
}

// master(n+1) = Extract(Derive(master(n), "rekey"), ecdhe || rekey_psk || thR2):
// ecdhe in ECDHE modes, the PSK-derived key in PSK modes, and in psk-only thR2
// (both re-key randoms). Called with thR2 in k.th. spec: PROTOCOL.md §5.6
Status advance_master(Link& e, crypto::Provider& p, KeyState& k, Mode mode, ConstBytes peer_share) noexcept {
    Secret<3 * keys::kHashLen> ikm;
    std::size_t n = 0;
    if (features::uses_ecdhe(mode)) {
        if (peer_share.size() != crypto::kX25519Len) return Err::bad_value;
        if (std::memcmp(peer_share.data(), k.x_pub.data(), crypto::kX25519Len) == 0) return Err::bad_value;  // reflected
        LS_TRY(p.x25519(k.x_priv.span(), k.x_pub, peer_share, ikm.span().first(crypto::kX25519Len)));
        k.x_priv.wipe();
        e.keylog("rekey ecdhe", ikm.span().first(crypto::kX25519Len));
        n = crypto::kX25519Len;
    } else if (!peer_share.empty()) {
        return Err::bad_value;
    }
    if (features::uses_psk(mode)) {
        std::memcpy(ikm.data() + n, k.rekey_psk.data(), keys::kHashLen);
        n += keys::kHashLen;
    }
    if (!features::uses_ecdhe(mode)) {
        std::memcpy(ikm.data() + n, k.th.span().data(), keys::kHashLen);
        n += keys::kHashLen;
    }
    auto next = keys::next_epoch(p, std::move(k.master), ikm.span().first(n));
    if (!next) return next.error();
    k.master = std::move(*next);
    return {};
}

}  // namespace

bool rekey_due(Link& e, const Now& now) noexcept {
    if (!e.server() || e.state_ != State::idle) return false;
    const RekeyPolicy& r = e.cfg_.rekey;
    if (r.after_responses > 0 && e.responses_in_epoch_ >= r.after_responses) return true;
    if (r.after_bytes > 0 && e.bytes_in_epoch_ >= r.after_bytes) return true;
    if (r.after_time.count() > 0 && now.mono >= e.epoch_start_ + r.after_time) return true;
    KeyState& k = e.keys_;
    // Half of a per-key limit (spec §6.7): records either way, bytes, forgeries.
    const record::Limits l = e.limits();
    return k.tx.next_rn >= record::soft(l.records) || k.rx.window.highest() >= record::soft(l.records) ||
           k.key_bytes >= record::soft(l.bytes) || k.rx.failed >= record::soft(l.failed_opens);
}

namespace {

void install_epoch(Link& e, const Now& now) noexcept {
    KeyState& k = e.keys_;
    record::DirectionKeys next_rx = std::move(k.other_rx);
    k.other_rx.wipe();
    if (e.server()) {
        // Keep the old receive key for what crossed the re-key only: a request
        // sealed before the HELLO ACK (datagrams), RESEND LAST, or a CLOSE the
        // client sent while it waited for our ACK (both transports).
        k.prev_rn_limit = k.rx.window.highest();  // the HELLO ACK's record number
        k.other_rx = std::move(k.rx);
        k.other_is_prev = true;
    } else {
        k.rx.wipe();
    }
    k.rx = std::move(next_rx);
    k.tx = std::move(k.next_tx);
    k.next_tx.wipe();
    k.wipe_handshake();
    ++e.epoch_;
    k.key_bytes = 0;
    e.epoch_start_ = now.mono;
    e.responses_in_epoch_ = 0;
    e.bytes_in_epoch_ = 0;
    ++e.stats_.rekeys;
    Event ev;
    ev.kind = EventKind::rekeyed;
    ev.epoch = e.epoch_;
    e.push_event(ev);
}

}  // namespace

// ---------------------------------------------------------------- server: re-key HELLO
Status start_rekey(Link& e, const Now& now) noexcept {
    crypto::Provider& p = e.provider();
    KeyState& k = e.keys_;
    wire::RekeyHello h;
    if (features::uses_ecdhe(e.mode_)) {
        if (!p.x25519_keygen(k.x_priv.span(), k.x_pub)) return e.fail(Err::crypto_failure, now);
        k.have_x = true;
        h.kx = Kx::x25519;
        h.share = k.x_pub;
    } else {
        h.kx = Kx::none;
    }
    if (h.share.empty() && !p.random(h.random)) return e.fail(Err::rng_failure, now);
    wire::Inner m = e.next_inner(MsgType::hello, now);
    std::uint8_t* const slot = e.new_slot();
    std::uint8_t* inner = slot + wire::kRecordHeaderLen;
    Writer body_w({inner + wire::kInnerHeaderLen, e.kept_cap() - wire::kRecordHeaderLen - wire::kInnerHeaderLen});
    wire::encode_rekey_hello(h, body_w);
    if (!body_w.ok()) return e.fail(Err::internal, now);
    m.body = body_w.written();
    Writer w({inner, e.kept_cap() - wire::kRecordHeaderLen});
    wire::encode_inner_prefix(m, w);
    w.u16(static_cast<std::uint16_t>(m.body.size()));
    w.advance(m.body.size());
    auto st = k.th.append(p, w.written());  // R1
    if (!st) return e.fail(st.error(), now);
    auto len = e.seal_slot(slot, w.size());
    if (!len) return e.fail(len.error(), now);
    e.state_ = State::rekey_wait_hello_ack;
    st = e.send_kept(m, *len, 0, true, now);
    return st ? st : e.fail(st.error(), now);
}

// ---------------------------------------------------------------- client: HELLO -> HELLO ACK
Status on_rekey_hello(Link& e, const wire::Inner& m, const Now& now) noexcept {
    const Config& c = e.cfg_;
    crypto::Provider& p = e.provider();
    KeyState& k = e.keys_;
    auto h = wire::decode_rekey_hello(m.body);
    if (!h) return h.error();
    if (features::uses_ecdhe(e.mode_) != (h->kx == Kx::x25519)) return Err::bad_value;
    LS_TRY(k.th.append(p, m.raw));  // R1

    wire::RekeyHelloAck a;
    if (features::uses_ecdhe(e.mode_)) {
        LS_TRY(p.x25519_keygen(k.x_priv.span(), k.x_pub));
        a.share = k.x_pub;
    }
    if (a.share.empty()) LS_TRY(p.random(a.random));

    const bool cert = features::uses_cert(e.mode_);
    const std::size_t slen = cert ? crypto::sig_len(c.signer->alg()) : 0;
    wire::Inner r = e.next_inner(MsgType::hello_ack, now);
    const std::size_t body_len = 2 + a.share.size() + wire::random_len(a.share) + 2 + slen + wire::kFinishedLen;
    std::uint8_t* const slot = e.new_slot();
    std::uint8_t* inner = slot + wire::kRecordHeaderLen;
    Writer w({inner, e.kept_cap() - wire::kRecordHeaderLen});
    wire::encode_inner_prefix(r, w);
    w.u16(static_cast<std::uint16_t>(body_len));
    const wire::AuthSlots slots = wire::layout_rekey_hello_ack(a, slen, w);
    LS_TRY(w.status());
    LS_TRY(k.th.append(p, {inner, static_cast<std::size_t>(slots.sig_field.data() - inner)}));  // R2
    LS_TRY(advance_master(e, p, k, e.mode_, h->share));
    LS_TRY(rekey_finished_secrets(e, p, k));
    LS_TRY(write_auth(p, k.th, cert ? c.signer : nullptr, keys::kClientSigContext, k.c_hs.span(),
                      slots));  // R3, R4
    const std::uint8_t next_epoch = static_cast<std::uint8_t>(e.epoch_ + 1);
    LS_TRY(rekey_traffic(e, p, k, Role::client, e.suite_, next_epoch));
    auto len = e.seal_slot(slot, w.size());
    if (!len) return len.error();
    r.body = {inner + wire::kInnerHeaderLen, body_len};
    e.state_ = State::rekey_wait_ack;
    return e.send_kept(r, *len, 0, true, now);
}

// ---------------------------------------------------------------- server: HELLO ACK -> ACK
Status on_rekey_hello_ack(Link& e, const wire::Inner& m, const Now& now) noexcept {
    const Config& c = e.cfg_;
    crypto::Provider& p = e.provider();
    KeyState& k = e.keys_;
    auto a = wire::decode_rekey_hello_ack(m.body);
    if (!a) return a.error();
    const bool cert = features::uses_cert(e.mode_);
    if (cert == a->sig.empty()) return Err::bad_value;
    const std::uint8_t* inner = m.raw.data();
    const std::size_t r2_len = wire::kInnerHeaderLen + 2 + a->share.size() + wire::random_len(a->share);
    LS_TRY(k.th.append(p, {inner, r2_len}));  // R2
    LS_TRY(advance_master(e, p, k, e.mode_, a->share));
    LS_TRY(rekey_finished_secrets(e, p, k));
    const PeerKey client_key = peer_key(e);
    LS_TRY(check_auth(p, k.th, {inner + r2_len, 2 + a->sig.size()}, cert ? &client_key : nullptr,
                                 keys::kClientSigContext, k.c_hs.span(), a->finished));  // R3, R4
    const std::uint8_t next_epoch = static_cast<std::uint8_t>(e.epoch_ + 1);
    LS_TRY(rekey_traffic(e, p, k, Role::server, e.suite_, next_epoch));

    // ACK under the new keys: nonce, empty certificate, signature, finished.
    std::uint8_t nb[4];
    LS_TRY(p.random(nb));
    const std::uint32_t nonce = load_be32(nb);
    const std::size_t slen = cert ? crypto::sig_len(c.signer->alg()) : 0;
    wire::Inner r = e.next_inner(MsgType::ack, now);
    const std::size_t body_len = 4 + 2 + 2 + slen + wire::kFinishedLen;
    std::uint8_t* const slot = e.new_slot();
    std::uint8_t* out = slot + wire::kRecordHeaderLen;
    Writer w({out, e.kept_cap() - wire::kRecordHeaderLen});
    wire::encode_inner_prefix(r, w);
    w.u16(static_cast<std::uint16_t>(body_len));
    const wire::AuthSlots slots = wire::layout_ack_body(nonce, {}, slen, w);  // no certificate in a re-key
    LS_TRY(w.status());
    LS_TRY(k.th.append(p, {out, static_cast<std::size_t>(slots.sig_field.data() - out)}));  // R5
    LS_TRY(write_auth(p, k.th, cert ? c.signer : nullptr, keys::kServerSigContext, k.s_hs.span(),
                      slots));  // R6, R7
    install_epoch(e, now);
    auto len = e.seal_slot(slot, w.size());
    if (!len) return len.error();
    r.body = {out + wire::kInnerHeaderLen, body_len};
    e.state_ = State::idle;
    LS_TRY(e.send_kept(r, *len, nonce, false, now));
    return e.serve_stashed(now);  // a request that crossed the re-key is served now
}

// ---------------------------------------------------------------- client: ACK
Status on_rekey_ack(Link& e, const wire::Inner& m, const Now& now) noexcept {
    crypto::Provider& p = e.provider();
    KeyState& k = e.keys_;
    auto a = wire::decode_ack_body(m.body);
    if (!a) return a.error();
    const bool cert = features::uses_cert(e.mode_);
    if (!a->cert.empty() || cert == a->sig.empty()) return Err::bad_value;
    const std::uint8_t* inner = m.raw.data();
    const std::size_t r5_len = wire::kInnerHeaderLen + 4 + 2;
    LS_TRY(k.th.append(p, {inner, r5_len}));  // R5
    const PeerKey server_key = peer_key(e);
    LS_TRY(check_auth(p, k.th, {inner + r5_len, 2 + a->sig.size()}, cert ? &server_key : nullptr,
                                 keys::kServerSigContext, k.s_hs.span(), a->finished));  // R6, R7
    install_epoch(e, now);
    e.state_ = e.request_outstanding_ ? State::wait_response : State::idle;
    e.awaiting_reply_ = e.request_outstanding_;
    return {};
}

}  // namespace lockstep::handshake
