// SPDX-License-Identifier: Apache-2.0
// lockstep — the session layer, receiving: frames and records, the order of
// checks (ttl, sequence numbers), the transition table's dispatch with the
// check of every handler's outcome, and the data messages.
// spec: PROTOCOL.md §8.1, §8.2, §8.6
#include <cstring>

#include "session/conn.hpp"

namespace lockstep {

using handshake::Action;
using I = Conn;

// ---------------------------------------------------------------- receiving
namespace {

bool is_reply(MsgType t) noexcept {
    switch (t) {
        case MsgType::hello_ack:
        case MsgType::ack:
        case MsgType::data_response:
        case MsgType::data_ack:
        case MsgType::close_ack: return true;
        default: return false;
    }
}

std::uint32_t nonce_of(const wire::Inner& m) noexcept {
    // ACK bodies start with the nonce; a DATA ACK body is exactly the nonce.
    if ((m.type == MsgType::ack && m.body.size() >= 4) || (m.type == MsgType::data_ack && m.body.size() == 4))
        return load_be32(m.body.data());
    return 0;
}

}  // namespace

void I::adopt_early_stash(Conn& e) noexcept {
    // An early request kept before its predecessor arrived: now it must fit.
    if (!e.stash_used_ || e.stash_checked_) return;
    auto m = wire::decode_inner({e.stash_, e.stash_len_});
    if (!m || m->seq != e.rx_next_) {
        e.stash_used_ = false;  // stale; the client resends it after RESEND LAST
        return;
    }
    e.commit_rx(m->seq, m->type, 0);
    e.stash_checked_ = true;
}

Status I::process_stash(Conn& e, const Now&) noexcept {
    if (!e.stash_used_ || !e.stash_checked_ || e.state_ != State::idle) return {};
    e.stash_used_ = false;
    e.stash_checked_ = false;
    auto m = wire::decode_inner({e.stash_, e.stash_len_});
    if (!m) return Err::internal;
    Event ev;
    ev.kind = EventKind::request;
    ev.data = m->body;
    ev.epoch = e.epoch_;
    e.state_ = State::serving;
    e.awaiting_reply_ = false;
    push_event(e, ev);
    return {};
}

Status Conn::receive(ConstBytes msg, const Now& now) noexcept {
    // spec: PROTOCOL.md §8.6 — what does not authenticate is dropped (I::drop):
    // nothing is answered, counted toward a limit or changed.
    if (state_ == State::closed) return Err::closed;
    if (msg.empty()) return I::drop(*this, Err::truncated, now);
    stats_.bytes_received += msg.size();
    // (what came from another address than the connection's earns it nothing, spec §6.9)
    if (!address_validated_ && path_ == 0)
        unproved_rx_ += static_cast<std::uint32_t>(std::min<std::size_t>(msg.size(), 65535));
    KeyState& k = keys_;
    switch (static_cast<wire::Frame>(msg[0])) {
        case wire::Frame::cookie_hello: {
            // A HELLO behind a cookie and padding (spec §6.8). The transport
            // checked the cookie (and then called set_address_validated); here
            // it is only unwrapped, and the HELLO inside is what counts.
            // A client takes none (it is the client's frame): not even decoded.
            if (!server()) return I::drop(*this, Err::unexpected_message, now);
            auto env = wire::decode_cookie_hello(msg);
            if (!env) return I::drop(*this, env.error(), now);
            msg = env->hello;
            [[fallthrough]];
        }
        case wire::Frame::hello:
            if (auto row = handshake::lookup(cfg_.role, state_, MsgType::hello);
                row && row->action == Action::on_hello) {
                last_recv_ = now.mono;
                if (epoch_ == 0) stats_.handshake_bytes += msg.size();
                return I::run_row(*this, *row, wire::Inner{}, msg, now);
            }
            if (server() && cfg_.policy == Policy::tolerant && state_ == State::wait_ack &&
                I::same_frame(*this, msg, k.hello_digest)) {
                // The same HELLO again: our HELLO ACK was lost, resend it byte for byte.
                ++stats_.retransmissions;
                return I::retransmit(*this, kept_[1], now);
            }
            return I::drop(*this, Err::unexpected_message, now);
        case wire::Frame::hello_ack:
            if (auto row = handshake::lookup(cfg_.role, state_, MsgType::hello_ack);
                row && row->action == Action::on_hello_ack) {
                last_recv_ = now.mono;
                stats_.handshake_bytes += msg.size();
                return I::run_row(*this, *row, wire::Inner{}, msg, now);
            }
            if (client() && cfg_.policy == Policy::tolerant && established() && epoch_ == 1 &&
                dup_hello_acks_ < cfg_.timers.max_resends && I::same_frame(*this, msg, k.hello_digest)) {
                // The very HELLO ACK again (whole frame): our ACK was lost. Resend what followed HELLO.
                ++dup_hello_acks_;
                auto h = wire::decode_hello_ack(msg);
                if (h) return I::retransmit_after(*this, h->ack, now);
            }
            return I::drop(*this, Err::unexpected_message, now);
        case wire::Frame::cookie: {
            // Prove your address (spec §6.8): answer at once with the HELLO
            // behind the cookie. Only an answer to our HELLO (its c0) counts,
            // and at most twice per connection.
            auto c = wire::decode_cookie(msg);
            if (!c) return I::drop(*this, c.error(), now);
            if (!client() || state_ != State::wait_hello_ack || c->ack != tx_seq_ || cookies_taken_ >= 2)
                return I::drop(*this, Err::unexpected_message, now);
            ++cookies_taken_;
            std::memcpy(I::cookie_bytes(*this), c->cookie.data(), c->cookie.size());
            cookie_len_ = static_cast<std::uint8_t>(c->cookie.size());
            last_recv_ = now.mono;
            ++stats_.retransmissions;
            return I::retransmit(*this, kept_[1], now);
        }
        case wire::Frame::close: {
            auto c = wire::decode_clear_close(msg);
            if (!c) return I::drop(*this, c.error(), now);
            // Honoured only before keys are confirmed, and only when it answers
            // our random initial sequence number (spec §6.6): a blind sender
            // cannot guess it.
            if ((state_ == State::wait_hello_ack || state_ == State::wait_ack) && c->ack == tx_seq_) {
                const std::uint8_t reason = static_cast<std::uint8_t>(c->reason);
                wire::Inner meta{MsgType::close, c->seq, c->ack, c->ttl, {&reason, 1}, {}};
                I::trace(*this, false, meta, msg.size(), false);
                // A HELLO ACK we dropped (tolerant) is the likelier cause: keep it.
                I::enter_closed(*this, c->reason, true, false, client() ? hs_dropped_ : Err::ok);
                return {};
            }
            // Unauthenticated and not an answer to us: ignored under every policy (§11.12).
            I::note_drop(*this, Err::unexpected_message);
            return {};
        }
        case wire::Frame::record: break;
        default: return I::drop(*this, Err::bad_value, now);
    }

    // A protected record: choose the keys by epoch.
    auto rec = wire::decode_record(msg, 0);
    if (!rec) return I::drop(*this, rec.error(), now);
    record::DirectionKeys* keys = nullptr;
    const std::uint8_t ep = rec->header.epoch;
    if (k.other_is_prev && now.mono >= epoch_start_ + cfg_.timers.resend_timeout * (cfg_.timers.max_resends + 1))
        k.other_rx.wipe();  // the previous epoch's grace period is over (spec §5.6)
    if (k.rx.valid && ep == k.rx.epoch) keys = &k.rx;
    else if (k.other_rx.valid && ep == k.other_rx.epoch) keys = &k.other_rx;
    if (keys == nullptr) return I::drop(*this, k.rx.valid ? Err::old_epoch : Err::unexpected_message, now);
    auto pt = record::open_record(*cfg_.provider, *keys, *rec, {rx_, inner_cap_});
    if (auto lim = I::check_rx_limits(*this, *keys, pt ? rec->header.rn : 0, pt ? msg.size() : 0); !lim)
        return I::fail(*this, lim.error(), now);
    if (!pt) return I::drop(*this, pt.error(), now);  // bad tag or a replayed record number
    if (path_ == 1) {
        // From a new address (receive_moved): the connection moves there, but
        // the address is unproved until it acknowledges what we send it. spec §6.9
        path_ = 2;
        path_probe_ = true;
        path_mark_ = tx_next_;
        address_validated_ = false;
        unproved_rx_ = static_cast<std::uint32_t>(std::min<std::size_t>(msg.size(), 65535));
        unproved_tx_ = 0;
    } else if (!path_probe_) {
        address_validated_ = true;  // only the receiver of our HELLO ACK holds these keys
    }
    if (keys == &k.rx && k.other_is_prev) {  // the peer has moved to the new epoch
        k.other_rx.wipe();
        k.other_is_prev = false;
    }
    auto m = wire::decode_inner(*pt);
    if (!m) return I::fault(*this, m.error(), now);
    if (path_probe_ && m->ack - path_mark_ < 0x80000000u && tx_seq_ - m->ack < 0x80000000u) {
        path_probe_ = false;  // it acknowledges a message sent to the new address (spec §6.9)
        address_validated_ = true;
    }
    if (keys == &k.other_rx && k.other_is_prev && m->type != MsgType::resend_last && m->type != MsgType::close) {
        // Healing: the previous key takes one record sealed before the re-key, then goes.
        const bool crossed = rec->header.rn < k.prev_rn_limit;
        k.other_rx.wipe();
        k.other_is_prev = false;
        // Not sealed before the re-key: never executed. Dropped, not fatal: a
        // genuine late copy (a DATA ACK re-sent for a duplicated response) looks alike.
        if (!crossed) return I::drop(*this, Err::old_epoch, now);
    }
    if (epoch_ == 0) stats_.handshake_bytes += msg.size();
    I::trace(*this, false, *m, msg.size(), false);
    seq_refused_ = false;
    auto st = I::dispatch(*this, *m, now);
    if (seq_refused_ && keys->valid) keys->window.unmark(rec->header.rn);
    return st;
}

Status Conn::receive_moved(ConstBytes msg, const Now& now, bool& moved) noexcept {
    // spec: PROTOCOL.md §6.9 — only a record that opens moves the connection.
    path_ = server() ? 1 : 0;
    auto st = receive(msg, now);
    moved = path_ == 2;
    path_ = 0;
    return st;
}

std::size_t Conn::connection_ids(std::span<ConnectionId, 2> out) const noexcept {
    if (epoch_ == 0 || state_ == State::closed) return 0;
    std::size_t n = 0;
    if (client()) {
        if (keys_.tx.valid) out[n++] = keys_.tx.cid;
        return n;
    }
    if (keys_.rx.valid) out[n++] = keys_.rx.cid;
    if (keys_.other_rx.valid) out[n++] = keys_.other_rx.cid;
    return n;
}

bool I::same_frame(Conn& e, ConstBytes msg, const std::array<std::uint8_t, 32>& digest) noexcept {
    // Duplicates are recognised by the whole frame, never by a field an
    // attacker can copy from the clear part.
    std::array<std::uint8_t, 32> d{};
    return e.cfg_.provider->hash(crypto::Hash::sha256, msg, {}, d) && ct_equal(d, digest);
}

Status I::check_rx_limits(Conn& e, const record::DirectionKeys& k, std::uint32_t rn, std::size_t len) noexcept {
    // spec: PROTOCOL.md §6.7 — forgeries per receive key are bounded by the
    // suite's integrity limit; an authenticated peer past a record or byte
    // limit is refused. Both close (limit_exceeded): the server re-keys at half.
    const record::Limits l = e.limits();
    if (k.failed >= l.failed_opens || rn >= l.records) return Err::limit_exceeded;
    e.keys_.key_bytes += len;
    return e.keys_.key_bytes > l.bytes ? Status{Err::limit_exceeded} : Status{};
}

Status I::dispatch(Conn& e, const wire::Inner& m, const Now& now) noexcept {
    // spec: PROTOCOL.md §8.6 step 3 — an authenticated body over our max_data is
    // fatal under both policies, wherever the message would go (handler or stash).
    if ((m.type == MsgType::data_request || m.type == MsgType::data_response) && m.body.size() > e.cfg_.max_data)
        return I::fail(e, Err::too_long, now);
    auto st = I::check_ttl(e, m.ttl, now);
    if (!st) return I::fault(e, st.error(), now);
    auto t = handshake::lookup(e.cfg_.role, e.state_, m.type);
    if (t && handshake::clear_frame_action(t->action)) t.reset();  // HELLO / HELLO ACK come as clear frames only

    // RESEND LAST and CLOSED WITHOUT ACK consume no sequence number the peer
    // could have missed: they are authenticated by the record layer and checked
    // here for place and body only (spec §8.1, §8.4).
    if (m.type == MsgType::resend_last || m.type == MsgType::closed_without_ack) {
        if (!t) return I::fault(e, Err::unexpected_message, now);
        if (auto b = wire::decode_empty_body(m.body); !b) return I::fault(e, b.error(), now);
        if (t->action == Action::on_closed_without_ack) {
            I::enter_closed(e, Reason::timeout, true, false, Err::ok);
            return {};
        }
        if (t->action == Action::ignore) return {};
        if (t->action != Action::on_resend_last) return I::fail(e, Err::internal, now);
        e.last_recv_ = now.mono;
        if (++e.rx_resends_ > 2 * e.cfg_.timers.max_resends) return I::fail(e, Err::resend_exhausted, now);
        const bool peer_ahead = m.seq != e.rx_seq_;  // they sent something we lack
        const bool ours_missing = !(e.kept_[1].used && e.kept_[1].seq == m.ack);
        if (ours_missing) {
            if (auto r = I::retransmit_after(e, m.ack, now); !r) return I::fail(e, r.error(), now);
        }
        if (peer_ahead) return I::send_resend_last(e, now);
        return {};
    }

    // WAIT CLOSE ACK: data that crossed our CLOSE is dropped, but its sequence
    // number still counts, so the peer's CLOSE ACK that follows it fits.
    if (t && t->action == Action::ignore) {
        if (m.seq == e.rx_next_) e.commit_rx(m.seq, m.type, nonce_of(m));
        return {};
    }

    // A CLOSE ACK that acknowledges our CLOSE ends the close even if a message
    // of the peer before it was refused (e.g. a CLOSE of its own, reordered).
    if (e.state_ == State::wait_close_ack && m.type == MsgType::close_ack && m.ack == e.tx_seq_ && t) {
        if (auto b = wire::decode_empty_body(m.body); !b) return I::fail(e, b.error(), now);
        I::enter_closed(e, e.close_reason_, false, true, e.fatal_);
        return {};
    }

    // Sequence checks (spec §8.1).
    if (e.rx_any_ && m.seq == e.rx_seq_ && m.type == e.rx_type_) {
        // A retransmission we did not need: dropped. Its ack is older than our
        // reply, which may just be in flight; answering copies with copies would
        // double every later message (spec §8.4 "Duplicates"). A lost reply is
        // recovered by the peer's reply timer and RESEND LAST.
        if (e.cfg_.policy == Policy::strict) return I::fail(e, Err::bad_sequence, now);
        I::note_fault(e, Err::replay, false);
        return {};
    }
    if (e.cfg_.policy == Policy::tolerant && m.seq != e.rx_next_ && e.seen_recently(m.seq)) {
        // A late copy of an older message (datagrams duplicate and reorder): drop it.
        I::note_fault(e, Err::replay, false);
        return {};
    }
    if (m.seq != e.rx_next_) {
        if (e.cfg_.policy == Policy::tolerant && e.server() && m.type == MsgType::data_request &&
            !e.stash_used_ && m.body.size() <= e.cfg_.max_data) {
            // Early DATA REQUEST (its DATA ACK is late or lost): keep it for later.
            Writer w({e.stash_, e.inner_cap_});
            wire::encode_inner(m, 0, w);
            e.stash_len_ = w.size();
            e.stash_used_ = w.ok();
            e.stash_checked_ = false;
            I::note_fault(e, Err::bad_sequence, false);
            return {};
        }
        e.seq_refused_ = e.cfg_.policy == Policy::tolerant;
        return I::fault(e, Err::bad_sequence, now);
    }
    // A reply must answer our last message; anything else may have crossed up to
    // three of ours (e.g. RESPONSE + CLOSE crossing DATA ACK + REQUEST).
    const bool ack_ok = is_reply(m.type) ? m.ack == e.tx_seq_ : e.sent_recently(m.ack);
    if (!ack_ok) return I::fault(e, Err::bad_sequence, now);
    if (!t) return I::fault(e, Err::unexpected_message, now);

    // Accepted: commit the receive sequence.
    e.commit_rx(m.seq, m.type, nonce_of(m));
    e.last_recv_ = now.mono;
    e.resends_ = 0;
    e.rx_resends_ = 0;

    return run_row(e, *t, m, {}, now);
}

Status I::run_row(Conn& e, const handshake::Transition& row, const wire::Inner& m, ConstBytes frame,
                  const Now& now) noexcept {
    const std::uint32_t dropped = e.stats_.dropped;
    auto st = run_action(e, row.action, m, frame, now);
    const State s = e.state_;
    if (s == State::closed || s == State::wait_close_ack) return st;  // a fault closed
    if (handshake::allowed_after(row, s) || (s == row.from && e.stats_.dropped != dropped)) return st;
    // The handler left a state its row does not allow: our own error. Close cleanly.
    return fail(e, Err::internal, now);
}

namespace {

// A handler that leaves its faults to the caller: the first fault is fatal.
Status fatal_on_error(Conn& e, Status r, const Now& now) noexcept { return r ? r : I::fail(e, r.error(), now); }

}  // namespace

Status I::run_action(Conn& e, Action a, const wire::Inner& m, ConstBytes frame, const Now& now) noexcept {
    // Only the compiled roles' handlers are named here, so a build without a
    // role links none of them; the compiled table has no row that selects them.
    switch (a) {
        case Action::on_close: {
            auto reason = wire::decode_close_body(m.body);
            if (!reason) return I::fail(e, reason.error(), now);
            wire::Inner ack = I::next_inner(e, MsgType::close_ack, now);
            (void)I::seal_and_queue(e, e.keys_.tx, ack, now, false);
            I::enter_closed(e, *reason, true, true, Err::ok);
            return {};
        }
        case Action::on_close_ack: {
            if (auto b = wire::decode_empty_body(m.body); !b) return I::fail(e, b.error(), now);
            I::enter_closed(e, e.close_reason_, false, true, e.fatal_);
            return {};
        }
        default: break;
    }
    if constexpr (features::kClientRole) {
        switch (a) {
            case Action::on_hello_ack: {
                std::uint32_t seq = e.rx_seq_;
                const Status st = handshake::on_hello_ack(e, frame, now, seq);
                return handshake_step(e, st, seq, now);
            }
            case Action::on_rekey_hello: return fatal_on_error(e, handshake::on_rekey_hello(e, m, now), now);
            case Action::on_rekey_ack: return fatal_on_error(e, handshake::on_rekey_ack(e, m, now), now);
            case Action::on_data_response: return on_data_response(e, m, now);
            default: break;
        }
    }
    if constexpr (features::kServerRole) {
        switch (a) {
            case Action::on_hello: {
                std::uint32_t seq = e.rx_seq_;
                const Status st = handshake::on_hello(e, frame, now, seq);
                return handshake_step(e, st, seq, now);
            }
            case Action::on_ack: {
                // A refused ACK gets one CLOSE under epoch 1, no retries, and
                // the connection is gone: its sender was never authenticated (spec §8.5).
                auto r = handshake::on_ack(e, m, now);
                if (r) return r;
                auto st = fail(e, r.error(), now);
                enter_closed(e, e.close_reason_, false, false, r.error());
                return st;
            }
            case Action::on_rekey_hello_ack: return fatal_on_error(e, handshake::on_rekey_hello_ack(e, m, now), now);
            case Action::on_data_request: return on_data_request(e, m, now);
            case Action::stash_request: return stash_request(e, m, now);
            case Action::on_data_ack: return on_data_ack(e, m, now);
            default: break;
        }
    }
    return fail(e, Err::internal, now);  // on_resend_last, ignore, closed_without_ack: handled in dispatch
}

// ---------------------------------------------------------------- data messages
Status I::on_data_request(Conn& e, const wire::Inner& m, const Now& now) noexcept {
    if (m.body.size() > e.cfg_.max_data) return fail(e, Err::too_long, now);
    e.state_ = State::serving;
    e.awaiting_reply_ = false;
    Event ev;
    ev.kind = EventKind::request;
    ev.data = m.body;
    ev.epoch = e.epoch_;
    push_event(e, ev);
    return {};
}

Status I::stash_request(Conn& e, const wire::Inner& m, const Now& now) noexcept {
    if (m.body.size() > e.cfg_.max_data) return fail(e, Err::too_long, now);
    if (e.stash_used_ && e.stash_checked_) return fail(e, Err::unexpected_message, now);
    Writer w({e.stash_, e.inner_cap_});
    wire::encode_inner(m, 0, w);
    e.stash_len_ = w.size();
    e.stash_used_ = true;
    e.stash_checked_ = true;  // accepted here; served after the re-key
    return {};
}

Status I::on_data_response(Conn& e, const wire::Inner& m, const Now& now) noexcept {
    if (m.body.size() > e.cfg_.max_data) return fail(e, Err::too_long, now);
    std::uint32_t nonce = 0;
    if (!e.provider().random({reinterpret_cast<std::uint8_t*>(&nonce), sizeof nonce})) return fail(e, Err::rng_failure, now);
    e.request_outstanding_ = false;
    e.state_ = State::idle;
    std::uint8_t body[4];
    store_be32(body, nonce);
    Event ev;
    ev.kind = EventKind::response;
    ev.data = m.body;
    ev.epoch = e.epoch_;
    LS_TRY(fatal_on_error(e, send_message(e, MsgType::data_ack, body, nonce, false, now), now));
    push_event(e, ev);
    return {};
}

Status I::on_data_ack(Conn& e, const wire::Inner& m, const Now& now) noexcept {
    auto n = wire::decode_nonce_body(m.body);
    if (!n) return fail(e, n.error(), now);
    e.awaiting_reply_ = false;
    e.state_ = State::idle;
    ++e.responses_in_epoch_;
    adopt_early_stash(e);
    if (handshake::rekey_due(e, now)) return handshake::start_rekey(e, now);
    return process_stash(e, now);
}

}  // namespace lockstep
