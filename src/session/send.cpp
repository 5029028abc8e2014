// SPDX-License-Identifier: Apache-2.0
// lockstep — the session layer, sending: new messages, the kept copies and
// their retransmission (RESEND LAST), faults by the policy table, close, and
// the application's calls that send. spec: PROTOCOL.md §8.4, §8.5, §9, §10
#include <cstring>

#include "session/conn.hpp"
#include "session/policy.hpp"

namespace lockstep {

using handshake::Action;
using I = Conn;

// ---------------------------------------------------------------- sending
wire::Inner I::next_inner(Conn& e, MsgType t, const Now& now) noexcept {
    wire::Inner m;
    m.type = t;
    m.seq = e.tx_next_;
    m.ack = e.rx_seq_;
    m.ttl = make_ttl(e, now);
    return m;
}

Conn::Kept& I::keep_slot(Conn& e) noexcept {
    // kept_[1] is the newest; the older one is dropped.
    std::swap(e.kept_[0], e.kept_[1]);
    e.kept_[1].used = false;
    return e.kept_[1];
}

void I::commit_tx(Conn& e, std::uint32_t seq, std::uint32_t nonce, bool awaits) noexcept {
    e.tx_recent_[e.tx_recent_pos_] = seq;
    e.tx_recent_pos_ = static_cast<std::uint8_t>((e.tx_recent_pos_ + 1) % 4);
    if (e.tx_recent_n_ < 4) ++e.tx_recent_n_;
    e.tx_seq_ = seq;
    e.tx_next_ = seq + 1 + nonce;  // R5: advanced by the nonce the message carried
    e.awaiting_reply_ = awaits;
    e.resends_ = 0;
}

Status I::seal_and_queue(Conn& e, record::DirectionKeys& k, const wire::Inner& m, const Now& now,
                         bool retrans) noexcept {
    // The plaintext is written where the ciphertext goes: sealed in place in the queue.
    const std::size_t body_len = m.body.size();
    std::size_t inner_len = wire::kInnerHeaderLen + body_len;
    std::size_t pad = 0;
    if (e.cfg_.pad_to > 1) {
        pad = (e.cfg_.pad_to - inner_len % e.cfg_.pad_to) % e.cfg_.pad_to;
        if (pad > wire::kMaxPadding) pad = wire::kMaxPadding;
    }
    inner_len += pad;
    const std::size_t total = wire::kRecordHeaderLen + inner_len + record::suite_overhead(k.suite);
    if (e.txq_len_ + 2 + total > e.txq_cap_) return Err::buffer_too_small;
    if (!within_amplification_limit(e, total)) return {};  // held back, as if lost
    std::uint8_t* rec = e.txq_ + e.txq_len_ + 2;
    Writer w({rec + wire::kRecordHeaderLen, inner_len});
    wire::encode_inner(m, pad, w);
    LS_TRY(w.status());
    const bool closing =
        m.type == MsgType::close || m.type == MsgType::close_ack || m.type == MsgType::closed_without_ack;
    auto sealed = e.seal(k, w.written(), {rec, total}, closing);
    if (!sealed) return sealed.error();
    store_be16(e.txq_ + e.txq_len_, static_cast<std::uint16_t>(total));
    e.txq_len_ += 2 + total;
    e.stats_.bytes_sent += total;
    e.last_send_ = now.mono;
    trace(e, true, m, total, retrans);
    return {};
}

Status I::send_message(Conn& e, MsgType t, ConstBytes body, std::uint32_t nonce, bool awaits,
                       const Now& now) noexcept {
    wire::Inner m = next_inner(e, t, now);
    Kept& k = keep_slot(e);
    if (wire::kInnerHeaderLen + body.size() > e.kept_cap()) return Err::too_long;
    Writer w({k.buf, e.kept_cap()});
    m.body = body;
    wire::encode_inner(m, 0, w);  // stored without padding; ack and ttl refreshed on resend
    LS_TRY(w.status());
    k.len = w.size();
    k.used = true;
    k.raw = false;
    k.type = t;
    k.seq = m.seq;
    m.body = {k.buf + wire::kInnerHeaderLen, body.size()};
    if (auto st = seal_and_queue(e, e.keys_.tx, m, now, false); !st) {
        // A key at its limit (spec §6.7): close, with the reserve CLOSE may use.
        if (st.error() == Err::limit_exceeded && t != MsgType::close) return fail(e, st.error(), now);
        return st;
    }
    commit_tx(e, m.seq, nonce, awaits);
    return {};
}

Status I::send_raw(Conn& e, const wire::Inner& meta, std::size_t len, std::uint32_t nonce, bool awaits,
                   const Now& now) noexcept {
    Kept& k = e.kept_[1];
    k.len = len;
    k.used = true;
    k.raw = true;
    k.type = meta.type;
    k.seq = meta.seq;
    k.ack = meta.ack;
    k.ttl = meta.ttl;
    k.nonce = nonce;
    k.epoch = e.epoch_;
    LS_TRY(queue_raw(e, k, now));
    trace_raw(e, k, false);
    commit_tx(e, meta.seq, nonce, awaits);
    return {};
}

void I::trace_kept(Conn& e, const Kept& k, bool retrans) noexcept {
    // Raw frames are already sealed: trace from what was kept, never the bytes.
    TraceEntry t;
    t.sent = true;
    t.retransmission = retrans;
    t.type = k.type;
    t.seq = k.seq;
    t.ack = k.ack;
    t.ttl = k.ttl;
    t.has_nonce = k.type == MsgType::ack;
    t.nonce = k.nonce;
    t.epoch = k.epoch;
    t.wire_len = k.len;
    e.tracer_->on_message(t);
}

Status I::retransmit(Conn& e, Kept& k, const Now& now) noexcept {
    if (!k.used) return {};
    if (k.raw) {
        LS_TRY(queue_raw(e, k, now));
        trace_raw(e, k, true);
        return {};
    }
    auto inner = wire::decode_inner({k.buf, k.len});
    if (!inner) return Err::internal;
    wire::Inner m = *inner;
    m.ack = e.rx_seq_;  // fresh ack and ttl: the resent copy must not expire
    m.ttl = make_ttl(e, now);
    return seal_and_queue(e, e.keys_.tx, m, now, true);
}

Status I::retransmit_after(Conn& e, std::uint32_t ack, const Now& now) noexcept {
    // Resend every kept message sent after `ack`, the peer's last accepted
    // sequence number (spec §8.4): none, the newest, or both.
    Kept& older = e.kept_[0];
    Kept& newer = e.kept_[1];
    if (!newer.used || newer.seq == ack) return {};
    if (older.used && older.seq != ack) {
        ++e.stats_.retransmissions;
        LS_TRY(retransmit(e, older, now));
    }
    ++e.stats_.retransmissions;
    return retransmit(e, newer, now);
}

Status I::send_resend_last(Conn& e, const Now& now) noexcept {
    // At most max_resends RESEND LAST in a row, whatever prompted them (timer,
    // a refused message, or the peer's own RESEND LAST); progress resets the count.
    if (e.resends_ >= e.cfg_.timers.max_resends) return fail(e, Err::resend_exhausted, now);
    ++e.resends_;
    wire::Inner m;
    m.type = MsgType::resend_last;
    m.seq = e.tx_seq_;
    m.ack = e.rx_seq_;
    m.ttl = make_ttl(e, now);
    ++e.stats_.resend_lasts_sent;
    return seal_and_queue(e, e.keys_.tx, m, now, false);
}

// ---------------------------------------------------------------- faults, close
void I::enter_closed(Conn& e, Reason r, bool by_peer, bool acknowledged, Err err) noexcept {
    if (e.state_ == State::closed) return;
    e.state_ = State::closed;
    e.awaiting_reply_ = false;
    e.keys_.wipe_all();
    Event ev;
    ev.kind = EventKind::closed;
    ev.reason = r;
    ev.by_peer = by_peer;
    ev.acknowledged = acknowledged;
    ev.error = err;
    ev.epoch = e.epoch_;
    push_event(e, ev);
}

Status I::fail(Conn& e, Err err, const Now& now) noexcept {
    note_fault(e, err, true);
    if (e.fatal_ == Err::ok) e.fatal_ = err;
    if (e.state_ == State::closed || e.state_ == State::wait_close_ack) return err;
    const Reason r = err_reason(err);
    if (e.established()) {
        // Seed: invalid message or timer -> snd CLOSE, set TIMER, WAIT CLOSE ACK.
        std::uint8_t reason = static_cast<std::uint8_t>(r);
        e.close_reason_ = r;
        if (send_message(e, MsgType::close, {&reason, 1}, 0, false, now)) {
            e.state_ = State::wait_close_ack;
            e.close_retries_ = 0;
            return err;
        }
    } else if (e.state_ != State::start || e.server()) {
        // An unknown PSK identity and a wrong s0 MAC look the same on the wire,
        // so an unauthenticated sender cannot probe for identities.
        (void)send_clear_close(e, r == Reason::unknown_psk ? Reason::bad_mac : r, now);
    }
    enter_closed(e, r, false, false, err);
    return err;
}

Status I::send_clear_close(Conn& e, Reason r, const Now& now) noexcept {
    // No authenticated channel yet: an unauthenticated CLOSE (spec §6.6).
    wire::ClearClose c{r, e.tx_next_, e.rx_seq_, make_ttl(e, now)};
    std::uint8_t buf[16];
    Writer w(buf);
    wire::encode_clear_close(c, w);
    LS_TRY(w.status());
    LS_TRY(queue_wire(e, w.written(), now));
    const std::uint8_t reason = static_cast<std::uint8_t>(r);
    wire::Inner meta{MsgType::close, c.seq, c.ack, c.ttl, {&reason, 1}, {}};
    trace(e, true, meta, w.size(), false);
    return {};
}

Status I::handshake_step(Conn& e, Status st, std::uint32_t peer_seq, const Now& now) noexcept {
    // HELLO and HELLO ACK arrive unauthenticated (spec §6.2, §6.3, §8.6).
    // Under the tolerant policy a HELLO that fails a check of its own
    // (malformed, expired, failing mac_c, unknown PSK) and a HELLO ACK that
    // fails anything before finished_s verified (its `ack`, the choice, a
    // certificate, a signature or a MAC someone else could have made) is
    // dropped; its handler changed nothing (compute-then-commit,
    // handshake.hpp), so the genuine one can still complete the handshake.
    // What the authenticated peer said stays fatal: the downgrade check after
    // finished_s, no common parameters.
    if (st) return st;
    bool drop = false;
    switch (session::outcome(e.cfg_.policy, session::Stage::hello_frame, st.error())) {
        case session::Outcome::drop: drop = true; break;
        case session::Outcome::drop_unproved: drop = e.client() && !e.peer_proved_; break;
        default: break;
    }
    if (!drop) {
        e.rx_seq_ = peer_seq;  // the clear CLOSE answers the refused message
        return fail(e, st.error(), now);
    }
    e.hs_dropped_ = st.error();
    note_drop(e, st.error());
    return {};
}

Status I::drop(Conn& e, Err err, const Now& now) noexcept {
    // Unauthenticated: under the tolerant policy no RESEND LAST, no counter of
    // the protocol, no state (spec §8.5, §8.6). The strict policy (streams,
    // where only an on-path attacker can inject) stays fatal.
    if (session::outcome(e.cfg_.policy, session::Stage::unauthenticated, err) != session::Outcome::drop)
        return fail(e, err, now);
    note_drop(e, err);
    return {};
}

Status I::fault(Conn& e, Err err, const Now& now) noexcept {
    switch (session::outcome(e.cfg_.policy, session::Stage::record, err)) {
        case session::Outcome::drop:  // e.g. a duplicated datagram
            note_fault(e, err, false);
            return {};
        case session::Outcome::resend_last:
            note_fault(e, err, false);
            if (!e.established()) return {};  // nothing authenticated to answer with
            return send_resend_last(e, now);
        default: return fail(e, err, now);
    }
}

Status Conn::close(const Now& now, Reason reason) noexcept {
    if (state_ == State::closed || state_ == State::wait_close_ack) return {};
    close_reason_ = reason;
    if (!established()) {
        if (state_ != State::start) (void)I::send_clear_close(*this, reason, now);
        I::enter_closed(*this, reason, false, false, Err::ok);
        return {};
    }
    std::uint8_t r = static_cast<std::uint8_t>(reason);
    LS_TRY(I::send_message(*this, MsgType::close, {&r, 1}, 0, false, now));
    state_ = State::wait_close_ack;
    close_retries_ = 0;
    return {};
}

// ---------------------------------------------------------------- application calls
Status Conn::start(const Now& now) noexcept {
    if (fatal_ != Err::ok) return fatal_;
    if (state_ != State::start) return Err::wrong_state;
    origin_ = now.mono;
    last_send_ = last_recv_ = now.mono;
    if (server()) return {};
    return handshake::client_start(*this, now);
}

Status Conn::send_request(ConstBytes body, const Now& now) noexcept {
    if (fatal_ != Err::ok) return Err::closed;
    if (!can_send_request()) return Err::wrong_state;
    if (body.size() > cfg_.max_data) return Err::too_long;
    LS_TRY(I::send_message(*this, MsgType::data_request, body, 0, true, now));
    request_outstanding_ = true;
    state_ = State::wait_response;
    ++stats_.requests;
    return {};
}

Status Conn::send_response(ConstBytes body, const Now& now) noexcept {
    if (fatal_ != Err::ok) return Err::closed;
    if (!server() || state_ != State::serving) return Err::wrong_state;
    if (body.size() > cfg_.max_data) return Err::too_long;
    LS_TRY(I::send_message(*this, MsgType::data_response, body, 0, true, now));
    state_ = State::wait_data_ack;
    bytes_in_epoch_ += body.size();
    ++stats_.responses;
    return {};
}

}  // namespace lockstep
