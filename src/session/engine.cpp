// lockstep — the session layer of the engine: dispatch, data, RESEND LAST,
// timers and close. Handshake and re-key messages live in src/handshake.
// spec: PROTOCOL.md §8 (sequence numbers, timers, policies), §10 (API)
#include <cstring>

#include "session/engine_impl.hpp"

namespace lockstep {

using handshake::Action;
using I = Engine::Impl;

namespace {

// Whether a configuration stays within what this build contains (features.hpp).
// Mode values outside 1..4 are not judged here: they never get negotiated.
bool within_build(const Config& c) noexcept {
    if (!features::role_compiled(c.role)) return false;
    for (std::uint8_t i = 0; i < c.modes.count; ++i) {
        const Mode m = c.modes.items[i];
        const auto v = static_cast<std::uint8_t>(m);
        if (v >= 1 && v <= 4 && !features::mode_compiled(m)) return false;
    }
    return features::kInsecureKeyLog || c.insecure_key_log == nullptr;
}

}  // namespace

const char* state_name(State s) noexcept {
    switch (s) {
        case State::start: return "START";
        case State::wait_hello_ack: return "WAIT HELLO ACK";
        case State::wait_ack: return "WAIT ACK";
        case State::idle: return "IDLE";
        case State::wait_response: return "WAIT DATA RESPONSE";
        case State::serving: return "SERVING";
        case State::wait_data_ack: return "WAIT DATA ACK";
        case State::rekey_wait_hello_ack: return "REKEY WAIT HELLO ACK";
        case State::rekey_wait_ack: return "REKEY WAIT ACK";
        case State::wait_close_ack: return "WAIT CLOSE ACK";
        case State::closed: return "CLOSED";
    }
    return "?";
}

Engine::Engine(const Config& cfg, std::span<std::uint8_t> ws) noexcept : cfg_(cfg) {
    if (cfg_.policy != Policy::tolerant) cfg_.policy = Policy::strict;
    static_assert(sizeof(KeyState) <= sizeof(keystate_), "grow Engine::keystate_");
    static_assert(alignof(KeyState) <= 8, "align Engine::keystate_");
    new (keystate_) KeyState();
    if (cfg_.max_data > wire::kMaxData) cfg_.max_data = static_cast<std::uint16_t>(wire::kMaxData);
    if (cfg_.timers.ttl_lifetime > kMaxTtlLifetime || cfg_.timers.ttl_lifetime.count() < 0) {
        fatal_ = Err::invalid_argument;  // spec §8.3: a peer would refuse our ttls
        state_ = State::closed;
        return;
    }
    inner_cap_ = detail::inner_cap(cfg_.max_data);
    const std::size_t wcap = detail::wire_cap(cfg_.max_data);
    if (ws.size() < workspace_size(cfg_.max_data) || cfg_.provider == nullptr) {
        fatal_ = Err::invalid_argument;
        state_ = State::closed;
        return;
    }
    if (!within_build(cfg_)) {
        fatal_ = Err::unsupported;
        state_ = State::closed;
        return;
    }
    std::uint8_t* p = ws.data();
    txq_ = p;
    txq_cap_ = 2 * wcap + 2048;
    p += txq_cap_;
    kept_[0].buf = p;
    p += inner_cap_;
    kept_[1].buf = p;
    p += inner_cap_;
    stash_ = p;
    p += inner_cap_;
    rx_ = p;
}

Engine::~Engine() {
    I::ks(*this).~KeyState();
    secure_wipe(keystate_, sizeof(keystate_));
    if (txq_) secure_wipe(txq_, txq_cap_);
    if (kept_[0].buf) secure_wipe(kept_[0].buf, inner_cap_);
    if (kept_[1].buf) secure_wipe(kept_[1].buf, inner_cap_);
    if (stash_) secure_wipe(stash_, inner_cap_);
    if (rx_) secure_wipe(rx_, inner_cap_);
}

bool Engine::established() const noexcept {
    switch (state_) {
        case State::idle:
        case State::wait_response:
        case State::serving:
        case State::wait_data_ack:
        case State::rekey_wait_hello_ack:
        case State::rekey_wait_ack: return true;
        default: return false;
    }
}

std::size_t Engine::live_workspace(std::span<WorkspaceRange, kLiveRanges> out) const noexcept {
    std::size_t n = 0;
    if (txq_ == nullptr) return 0;  // no workspace taken (a refused Config)
    const auto at = [&](const std::uint8_t* p, std::size_t len) {
        if (len > 0) out[n++] = {static_cast<std::size_t>(p - txq_), len};
    };
    at(txq_, txq_len_);
    for (const Kept& k : kept_)
        if (k.used) at(k.buf, k.len);
    if (stash_used_) at(stash_, stash_len_);
    return n;
}

bool Engine::can_send_request() const noexcept {
    return I::client(*this) && state_ == State::idle && fatal_ == Err::ok;
}

// ---------------------------------------------------------------- events, queue
void I::push_event(Engine& e, const Event& ev) noexcept {
    // A call queues at most 3; only a caller that does not drain after every
    // call fills the queue, and then the oldest goes (so `closed` is never lost).
    if (e.ev_count_ == kMaxEvents) {
        e.ev_head_ = (e.ev_head_ + 1) % kMaxEvents;
        --e.ev_count_;
    }
    e.events_[(e.ev_head_ + e.ev_count_) % kMaxEvents] = ev;
    ++e.ev_count_;
}

bool Engine::poll_event(Event& ev) noexcept {
    if (ev_count_ == 0) return false;
    ev = events_[ev_head_];
    ev_head_ = (ev_head_ + 1) % kMaxEvents;
    --ev_count_;
    return true;
}

bool I::within_amplification_limit(Engine& e, std::size_t n) noexcept {
    // spec: PROTOCOL.md §8.6 — counted here, where every message (new or
    // retransmitted) is queued, so no path can send around it.
    if (e.address_validated_ || e.cfg_.amplification_limit == 0 || !server(e)) return true;
    const std::uint64_t budget = std::uint64_t{e.cfg_.amplification_limit} * e.unproved_rx_;
    if (e.unproved_tx_ + n > budget) {
        ++e.stats_.amplification_held;
        return false;
    }
    e.unproved_tx_ += static_cast<std::uint32_t>(n);
    return true;
}

Result<std::uint8_t*> I::reserve_wire(Engine& e, std::size_t n) noexcept {
    if (e.txq_len_ + 2 + n > e.txq_cap_) return Err::buffer_too_small;
    if (!within_amplification_limit(e, n)) return nullptr;  // held back, as if lost
    return e.txq_ + e.txq_len_ + 2;
}

void I::commit_wire(Engine& e, std::size_t n, const Now& now) noexcept {
    store_be16(e.txq_ + e.txq_len_, static_cast<std::uint16_t>(n));
    e.txq_len_ += 2 + n;
    e.stats_.bytes_sent += n;
    if (e.epoch_ == 0) e.stats_.handshake_bytes += n;
    e.last_send_ = now.mono;
}

Status I::queue_wire(Engine& e, ConstBytes bytes, const Now& now) noexcept {
    auto out = reserve_wire(e, bytes.size());
    if (!out) return out.error();
    if (*out == nullptr) return {};
    std::memmove(*out, bytes.data(), bytes.size());
    commit_wire(e, bytes.size(), now);
    return {};
}

Status I::queue_raw(Engine& e, const Kept& k, const Now& now) noexcept {
    // A client's HELLO goes out behind the server's cookie and padding when it
    // has either (spec §6.8); the HELLO itself is unchanged.
    const std::size_t cookie_len = e.state_ == State::wait_hello_ack ? e.cookie_len_ : 0;
    const bool wrap = client(e) && k.type == MsgType::hello && (cookie_len > 0 || e.cfg_.hello_pad_to > k.len);
    if (!wrap) return queue_wire(e, {k.buf, k.len}, now);
    const std::size_t head = 1 + 1 + cookie_len + 2;
    std::size_t pad = e.cfg_.hello_pad_to > head + k.len ? e.cfg_.hello_pad_to - head - k.len : 0;
    pad = std::min(pad, wire::kMaxHelloPadding);
    const std::size_t total = head + pad + k.len;
    auto out = reserve_wire(e, total);
    if (!out) return out.error();
    if (*out == nullptr) return {};
    Writer w({*out, total});
    wire::encode_cookie_hello_head({cookie_bytes(e), cookie_len}, pad, w);
    w.bytes({k.buf, k.len});
    LS_TRY(w.status());
    commit_wire(e, total, now);
    return {};
}

Result<std::size_t> Engine::poll_transmit(std::span<std::uint8_t> out) noexcept {
    if (txq_len_ == 0) return std::size_t{0};
    const std::size_t n = load_be16(txq_);
    if (out.size() < n) return Err::buffer_too_small;
    std::memcpy(out.data(), txq_ + 2, n);
    std::memmove(txq_, txq_ + 2 + n, txq_len_ - 2 - n);
    txq_len_ -= 2 + n;
    return n;
}

void I::trace_message(Engine& e, bool sent, const wire::Inner& m, std::size_t wire_len, bool retrans) noexcept {
    TraceEntry t;
    t.sent = sent;
    t.retransmission = retrans;
    t.type = m.type;
    t.seq = m.seq;
    t.ack = m.ack;
    t.ttl = m.ttl;
    t.epoch = e.epoch_;
    t.wire_len = wire_len;
    if ((m.type == MsgType::ack || m.type == MsgType::data_ack) && m.body.size() >= 4) {
        t.has_nonce = true;
        t.nonce = load_be32(m.body.data());
    }
    if (m.type == MsgType::data_request || m.type == MsgType::data_response) t.data_len = m.body.size();
    if (m.type == MsgType::close && m.body.size() == 1) t.reason = static_cast<Reason>(m.body[0]);
    e.tracer_->on_message(t);
}

// ---------------------------------------------------------------- time
std::uint32_t I::make_ttl(Engine& e, const Now& now) noexcept {
    const auto life = e.cfg_.timers.ttl_lifetime;
    if (e.relative_ttl_) {
        auto ms = (now.mono.since_origin - e.origin_.since_origin + life).count();
        return static_cast<std::uint32_t>(ms < 0 ? 0 : std::min<std::int64_t>(ms, 0xffffffff));  // never wraps
    }
    auto s = now.wall.seconds() + whole_seconds(life);
    return static_cast<std::uint32_t>(s < 0 ? 0 : s);
}

Status I::check_ttl(Engine& e, std::uint32_t ttl, const Now& now) noexcept {
    // spec: PROTOCOL.md §8.3 — refused when past (expired), or further ahead
    // than any sender may set it (kMaxTtlLifetime + clock_skew: a far-future
    // ttl would let a recorded message be replayed for ever within its epoch).
    const auto skew = e.cfg_.timers.clock_skew;
    const std::int64_t t = ttl;
    if (e.relative_ttl_) {
        const std::int64_t age = (now.mono.since_origin - e.origin_.since_origin).count();
        // Close well before the u32 wraps: a relative-ttl connection lives < 2^31 ms.
        if (age >= kRelativeTtlMaxAge) return Err::limit_exceeded;
        if (age > t + skew.count() || t > age + kMaxTtlLifetime.count() + skew.count()) return Err::expired;
        return {};
    }
    const std::int64_t skew_s = whole_seconds(skew), wall = now.wall.seconds();
    if (wall > t + skew_s || t > wall + whole_seconds(kMaxTtlLifetime) + skew_s) return Err::expired;
    return {};
}

std::optional<Instant> Engine::next_deadline() const noexcept {
    if (state_ == State::closed || state_ == State::start) return std::nullopt;
    const Timers& t = cfg_.timers;
    if (state_ == State::wait_close_ack) return last_send_ + t.close_timeout;
    Instant d;
    if (awaiting_reply_) {
        d = last_send_ + (cfg_.policy == Policy::tolerant ? t.resend_timeout : t.receive_timeout);
    } else {
        d = std::max(last_send_, last_recv_) + t.receive_timeout;
    }
    if (I::server(*this) && state_ == State::idle && cfg_.rekey.after_time.count() > 0)
        d = std::min(d, epoch_start_ + cfg_.rekey.after_time);
    return d;
}

Status Engine::on_timeout(Now now) noexcept {
    if (state_ == State::closed) return fatal_ == Err::ok ? Status{} : Status{Err::closed};
    auto dl = next_deadline();
    if (!dl || now.mono < *dl) return {};
    const Timers& t = cfg_.timers;
    if (state_ == State::wait_close_ack) {
        if (close_retries_ < t.max_close_retries) {
            ++close_retries_;
            ++stats_.retransmissions;
            return I::retransmit(*this, kept_[1], now);
        }
        // R10: no CLOSE ACK after the retries: CLOSED WITHOUT ACK, then closed.
        auto m = I::next_inner(*this, MsgType::closed_without_ack, now);
        m.seq = tx_seq_;  // the peer may never have seen our CLOSE
        auto st = I::seal_and_queue(*this, I::ks(*this).tx, m, now, false);
        I::enter_closed(*this, Reason::timeout, false, false, fatal_);
        return st;
    }
    if (I::server(*this) && state_ == State::idle && I::rekey_due(*this, now))
        return I::start_rekey(*this, now);
    if (awaiting_reply_ && cfg_.policy == Policy::tolerant) {
        // Before keys exist the handshake message itself is resent; afterwards RESEND LAST.
        if (state_ == State::wait_hello_ack || state_ == State::wait_ack) {
            // Out of retries: if the peer's answers were dropped, say why.
            if (resends_ >= t.max_resends)
                return I::fail(*this, hs_dropped_ != Err::ok ? hs_dropped_ : Err::resend_exhausted, now);
            ++resends_;
            ++stats_.retransmissions;
            return I::retransmit(*this, kept_[1], now);
        }
        return I::send_resend_last(*this, now);
    }
    return I::fail(*this, Err::timeout, now);
}

// ---------------------------------------------------------------- sending
wire::Inner I::next_inner(Engine& e, MsgType t, const Now& now) noexcept {
    wire::Inner m;
    m.type = t;
    m.seq = e.tx_next_;
    m.ack = e.rx_seq_;
    m.ttl = make_ttl(e, now);
    return m;
}

Engine::Kept& I::keep_slot(Engine& e) noexcept {
    // kept_[1] is the newest; the older one is dropped.
    std::swap(e.kept_[0], e.kept_[1]);
    e.kept_[1].used = false;
    return e.kept_[1];
}

void I::commit_tx(Engine& e, MsgType, std::uint32_t seq, std::uint32_t nonce, bool awaits) noexcept {
    e.tx_recent_[e.tx_recent_pos_] = seq;
    e.tx_recent_pos_ = static_cast<std::uint8_t>((e.tx_recent_pos_ + 1) % 4);
    if (e.tx_recent_n_ < 4) ++e.tx_recent_n_;
    e.tx_seq_ = seq;
    e.tx_next_ = seq + 1 + nonce;  // R5: advanced by the nonce the message carried
    e.awaiting_reply_ = awaits;
    e.resends_ = 0;
}

Status I::seal_and_queue(Engine& e, record::DirectionKeys& k, const wire::Inner& m, const Now& now,
                         bool retrans) noexcept {
    // Build the padded plaintext in the scratch area of the rx buffer's tail? No:
    // seal straight into the queue, building the plaintext in place first.
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
    // The plaintext is written where the ciphertext will go (in-place sealing).
    Writer w({rec + wire::kRecordHeaderLen, inner_len});
    wire::encode_inner(m, pad, w);
    LS_TRY(w.status());
    const bool closing =
        m.type == MsgType::close || m.type == MsgType::close_ack || m.type == MsgType::closed_without_ack;
    LS_TRY(record::may_seal(k, limits(e), ks(e).key_bytes, total, closing));
    ks(e).key_bytes += total;
    Writer hw({rec, wire::kRecordHeaderLen});
    wire::encode_record_header({k.epoch, k.next_rn}, hw);
    LS_TRY(record::seal_payload(*e.cfg_.provider, k, k.next_rn, {rec, wire::kRecordHeaderLen},
                                {rec + wire::kRecordHeaderLen, inner_len},
                                {rec + wire::kRecordHeaderLen, total - wire::kRecordHeaderLen}));
    ++k.next_rn;
    store_be16(e.txq_ + e.txq_len_, static_cast<std::uint16_t>(total));
    e.txq_len_ += 2 + total;
    e.stats_.bytes_sent += total;
    e.last_send_ = now.mono;
    trace(e, true, m, total, retrans);
    return {};
}

Status I::send_message(Engine& e, MsgType t, ConstBytes body, std::uint32_t nonce, bool awaits,
                       const Now& now) noexcept {
    wire::Inner m = next_inner(e, t, now);
    Kept& k = keep_slot(e);
    if (wire::kInnerHeaderLen + body.size() > e.inner_cap_) return Err::too_long;
    Writer w({k.buf, e.inner_cap_});
    m.body = body;
    wire::encode_inner(m, 0, w);  // stored without padding; ack and ttl refreshed on resend
    LS_TRY(w.status());
    k.len = w.size();
    k.used = true;
    k.raw = false;
    k.type = t;
    k.seq = m.seq;
    m.body = {k.buf + wire::kInnerHeaderLen, body.size()};
    if (auto st = seal_and_queue(e, ks(e).tx, m, now, false); !st) {
        // A key at its limit (spec §6.7): close, with the reserve CLOSE may use.
        if (st.error() == Err::limit_exceeded && t != MsgType::close) return fail(e, st.error(), now);
        return st;
    }
    commit_tx(e, t, m.seq, nonce, awaits);
    return {};
}

Status I::send_raw(Engine& e, const wire::Inner& meta, std::size_t len, std::uint32_t nonce, bool awaits,
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
    commit_tx(e, meta.type, meta.seq, nonce, awaits);
    return {};
}

void I::trace_kept(Engine& e, const Kept& k, bool retrans) noexcept {
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

Result<std::size_t> I::seal_in_place(Engine& e, record::DirectionKeys& k, std::uint8_t* buf,
                                     std::size_t inner_len) noexcept {
    const std::size_t total = wire::kRecordHeaderLen + inner_len + record::suite_overhead(k.suite);
    if (total > e.inner_cap_) return Err::too_long;
    LS_TRY(record::may_seal(k, limits(e), ks(e).key_bytes, total, false));
    ks(e).key_bytes += total;
    Writer hw({buf, wire::kRecordHeaderLen});
    wire::encode_record_header({k.epoch, k.next_rn}, hw);
    Bytes body{buf + wire::kRecordHeaderLen, total - wire::kRecordHeaderLen};
    LS_TRY(record::seal_payload(*e.cfg_.provider, k, k.next_rn, {buf, wire::kRecordHeaderLen},
                                body.first(inner_len), body));
    ++k.next_rn;
    return total;
}

Status I::retransmit(Engine& e, Kept& k, const Now& now) noexcept {
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
    return seal_and_queue(e, ks(e).tx, m, now, true);
}

Status I::retransmit_after(Engine& e, std::uint32_t ack, const Now& now) noexcept {
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

Status I::send_resend_last(Engine& e, const Now& now) noexcept {
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
    return seal_and_queue(e, ks(e).tx, m, now, false);
}

// ---------------------------------------------------------------- faults, close
void I::enter_closed(Engine& e, Reason r, bool by_peer, bool acknowledged, Err err) noexcept {
    if (e.state_ == State::closed) return;
    e.state_ = State::closed;
    e.awaiting_reply_ = false;
    KeyState& k = ks(e);
    k.wipe_handshake();
    k.master.s.wipe();
    k.rekey_psk.wipe();
    k.tx.wipe();
    k.rx.wipe();
    k.next_tx.wipe();
    k.other_rx.wipe();
    Event ev;
    ev.kind = EventKind::closed;
    ev.reason = r;
    ev.by_peer = by_peer;
    ev.acknowledged = acknowledged;
    ev.error = err;
    ev.epoch = e.epoch_;
    push_event(e, ev);
}

Status I::fail(Engine& e, Err err, const Now& now) noexcept {
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
    } else if (e.state_ != State::start || server(e)) {
        // An unknown PSK identity and a wrong s0 MAC look the same on the wire,
        // so an unauthenticated sender cannot probe for identities.
        (void)send_clear_close(e, r == Reason::unknown_psk ? Reason::bad_mac : r, now);
    }
    enter_closed(e, r, false, false, err);
    return err;
}

Status I::send_clear_close(Engine& e, Reason r, const Now& now) noexcept {
    // No authenticated channel yet: an unauthenticated CLOSE (spec §6.6).
    wire::ClearClose c{r, e.tx_next_, e.rx_seq_, make_ttl(e, now)};
    std::uint8_t buf[16];
    Writer w(buf);
    wire::encode_clear_close(c, w);
    LS_TRY(w.status());
    LS_TRY(queue_wire(e, w.written(), now));
    const std::uint8_t reason = static_cast<std::uint8_t>(r);
    wire::Inner meta{MsgType::close, c.seq, c.ack, c.ttl, {&reason, 1}};
    trace(e, true, meta, w.size(), false);
    return {};
}

namespace {

// Failures of our own side (configuration, provider), never the message's.
bool local_failure(Err err) noexcept {
    switch (err) {
        case Err::crypto_failure:
        case Err::rng_failure:
        case Err::invalid_argument:
        case Err::buffer_too_small:
        case Err::internal:
        case Err::unsupported: return true;
        default: return false;
    }
}

}  // namespace

Status I::handshake_step(Engine& e, const Now& now, FunctionRef step) noexcept {
    // HELLO and HELLO ACK arrive unauthenticated (spec §6.2, §6.3, §8.6).
    // Under the tolerant policy a HELLO that fails a check of its own
    // (malformed, expired, failing mac_c, unknown PSK) and a HELLO ACK that
    // fails anything before finished_s verified (its `ack`, the choice, a
    // certificate, a signature or a MAC someone else could have made) is
    // dropped, the transcript and receive sequence restored, so the genuine one
    // can still complete the handshake. What the authenticated peer said stays
    // fatal: the downgrade check after finished_s, no common parameters.
    const keys::Transcript saved = ks(e).th;
    const std::uint32_t saved_rx_seq = e.rx_seq_;
    auto st = step();
    if (st) return st;
    bool drop = false;
    if (e.cfg_.policy == Policy::tolerant) {
        switch (st.error()) {
            case Err::truncated:
            case Err::trailing_bytes:
            case Err::too_long:
            case Err::bad_value:
            case Err::bad_sequence:
            case Err::expired:
            case Err::bad_mac:
            case Err::unknown_psk:  // silent like a wrong MAC: no probing for identities
                drop = true;
                break;
            default:
                drop = client(e) && !e.peer_proved_ && !local_failure(st.error());
                break;
        }
    }
    if (!drop) return fail(e, st.error(), now);
    ks(e).th = saved;
    e.rx_seq_ = saved_rx_seq;
    e.hs_dropped_ = e.last_drop_ = st.error();
    ++e.stats_.dropped;
    note_fault(e, st.error(), false);
    return {};
}

Status I::drop(Engine& e, Err err, const Now& now) noexcept {
    // Unauthenticated: under the tolerant policy no RESEND LAST, no counter of
    // the protocol, no state (spec §8.5, §8.6). The strict policy (streams,
    // where only an on-path attacker can inject) stays fatal.
    if (e.cfg_.policy == Policy::strict) return fail(e, err, now);
    ++e.stats_.dropped;
    e.last_drop_ = err;
    note_fault(e, err, false);
    return {};
}

Status I::fault(Engine& e, Err err, const Now& now) noexcept {
    if (e.cfg_.policy == Policy::tolerant) {
        switch (err) {
            case Err::replay:  // a duplicated datagram: drop silently
                note_fault(e, err, false);
                return {};
            case Err::bad_mac:
            case Err::truncated:
            case Err::trailing_bytes:
            case Err::too_long:
            case Err::bad_value:
            case Err::bad_sequence:
            case Err::expired:
            case Err::unexpected_message:
                note_fault(e, err, false);
                if (!e.established()) return {};  // nothing authenticated to answer with
                return send_resend_last(e, now);
            default: break;
        }
    }
    return fail(e, err, now);
}

Status Engine::close(Now now, Reason reason) noexcept {
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
Status Engine::start(Now now) noexcept {
    if (fatal_ != Err::ok) return fatal_;
    if (state_ != State::start) return Err::wrong_state;
    origin_ = now.mono;
    last_send_ = last_recv_ = now.mono;
    if (I::server(*this)) return {};
    return I::client_start(*this, now);
}

Status Engine::send_request(std::span<const std::uint8_t> body, Now now) noexcept {
    if (fatal_ != Err::ok) return Err::closed;
    if (!can_send_request()) return Err::wrong_state;
    if (body.size() > cfg_.max_data) return Err::too_long;
    LS_TRY(I::send_message(*this, MsgType::data_request, body, 0, true, now));
    request_outstanding_ = true;
    state_ = State::wait_response;
    ++stats_.requests;
    return {};
}

Status Engine::send_response(std::span<const std::uint8_t> body, Now now) noexcept {
    if (fatal_ != Err::ok) return Err::closed;
    if (!I::server(*this) || state_ != State::serving) return Err::wrong_state;
    if (body.size() > cfg_.max_data) return Err::too_long;
    LS_TRY(I::send_message(*this, MsgType::data_response, body, 0, true, now));
    state_ = State::wait_data_ack;
    bytes_in_epoch_ += body.size();
    ++stats_.responses;
    return {};
}

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

void I::adopt_early_stash(Engine& e) noexcept {
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

Status I::process_stash(Engine& e, const Now&) noexcept {
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

Status Engine::receive(std::span<const std::uint8_t> msg, Now now) noexcept {
    // spec: PROTOCOL.md §8.6 — what does not authenticate is dropped (I::drop):
    // nothing is answered, counted toward a limit or changed.
    if (state_ == State::closed) return Err::closed;
    if (msg.empty()) return I::drop(*this, Err::truncated, now);
    stats_.bytes_received += msg.size();
    // (what came from another address than the connection's earns it nothing, spec §6.9)
    if (!address_validated_ && path_ == 0) unproved_rx_ += static_cast<std::uint32_t>(std::min<std::size_t>(msg.size(), 65535));
    KeyState& k = I::ks(*this);
    switch (static_cast<wire::Frame>(msg[0])) {
        case wire::Frame::cookie_hello: {
            // A HELLO behind a cookie and padding (spec §6.8). The transport
            // checked the cookie (and then called set_address_validated); here
            // it is only unwrapped, and the HELLO inside is what counts.
            auto env = wire::decode_cookie_hello(msg);
            if (!env || !I::server(*this)) return I::drop(*this, env ? Err::unexpected_message : env.error(), now);
            msg = env->hello;
            [[fallthrough]];
        }
        case wire::Frame::hello:
            if (I::server(*this) && state_ == State::start) {
                last_recv_ = now.mono;
                if (epoch_ == 0) stats_.handshake_bytes += msg.size();
                return I::handshake_step(*this, now, [&] { return I::on_hello(*this, msg, now); });
            }
            if (I::server(*this) && cfg_.policy == Policy::tolerant && state_ == State::wait_ack &&
                I::same_frame(*this, msg, k.hello_digest)) {
                // The same HELLO again: our HELLO ACK was lost, resend it byte for byte.
                ++stats_.retransmissions;
                return I::retransmit(*this, kept_[1], now);
            }
            return I::drop(*this, Err::unexpected_message, now);
        case wire::Frame::hello_ack:
            if (I::client(*this) && state_ == State::wait_hello_ack) {
                last_recv_ = now.mono;
                stats_.handshake_bytes += msg.size();
                return I::handshake_step(*this, now, [&] { return I::on_hello_ack(*this, msg, now); });
            }
            if (I::client(*this) && cfg_.policy == Policy::tolerant && established() && epoch_ == 1 &&
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
            if (!I::client(*this) || state_ != State::wait_hello_ack || c->ack != tx_seq_ || cookies_taken_ >= 2)
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
                wire::Inner meta{MsgType::close, c->seq, c->ack, c->ttl, {&reason, 1}};
                I::trace(*this, false, meta, msg.size(), false);
                // A HELLO ACK we dropped (tolerant) is the likelier cause: keep it.
                I::enter_closed(*this, c->reason, true, false, I::client(*this) ? hs_dropped_ : Err::ok);
                return {};
            }
            // Unauthenticated and not an answer to us: ignored under every policy (§11.12).
            ++stats_.dropped;
            last_drop_ = Err::unexpected_message;
            I::note_fault(*this, Err::unexpected_message, false);
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
    if (keys == &k.other_rx && k.other_is_prev && m->type != MsgType::resend_last) {
        // Healing: the previous key takes one record sealed before the re-key, then goes.
        const bool crossed = rec->header.rn < k.prev_rn_limit;
        k.other_rx.wipe();
        k.other_is_prev = false;
        if (!crossed) return I::fault(*this, Err::old_epoch, now);
    }
    if (epoch_ == 0) stats_.handshake_bytes += msg.size();
    I::trace(*this, false, *m, msg.size(), false);
    seq_refused_ = false;
    auto st = I::dispatch(*this, *m, now);
    if (seq_refused_ && keys->valid) keys->window.unmark(rec->header.rn);
    return st;
}

Status Engine::receive_moved(std::span<const std::uint8_t> msg, Now now, bool& moved) noexcept {
    // spec: PROTOCOL.md §6.9 — only a record that opens moves the connection.
    path_ = I::server(*this) ? 1 : 0;
    auto st = receive(msg, now);
    moved = path_ == 2;
    path_ = 0;
    return st;
}

std::size_t Engine::connection_ids(std::span<ConnectionId, 2> out) const noexcept {
    if (epoch_ == 0 || state_ == State::closed) return 0;
    const KeyState& k = I::ks(const_cast<Engine&>(*this));
    std::size_t n = 0;
    if (I::client(*this)) {
        if (k.tx.valid) out[n++] = k.tx.cid;
        return n;
    }
    if (k.rx.valid) out[n++] = k.rx.cid;
    if (k.other_rx.valid) out[n++] = k.other_rx.cid;
    return n;
}

Status I::check_rx_limits(Engine& e, const record::DirectionKeys& k, std::uint32_t rn, std::size_t len) noexcept {
    // spec: PROTOCOL.md §6.7 — forgeries per receive key are bounded by the
    // suite's integrity limit; an authenticated peer past a record or byte
    // limit is refused. Both close (limit_exceeded): the server re-keys at half.
    const record::Limits l = limits(e);
    if (k.failed >= l.failed_opens || rn >= l.records) return Err::limit_exceeded;
    ks(e).key_bytes += len;
    return ks(e).key_bytes > l.bytes ? Status{Err::limit_exceeded} : Status{};
}

bool I::same_frame(Engine& e, ConstBytes msg, const std::array<std::uint8_t, 32>& digest) noexcept {
    // Duplicates are recognised by the whole frame, never by a field an
    // attacker can copy from the clear part.
    std::array<std::uint8_t, 32> d{};
    return e.cfg_.provider->hash(crypto::Hash::sha256, msg, {}, d) && ct_equal(d, digest);
}

Status I::dispatch(Engine& e, const wire::Inner& m, const Now& now) noexcept {
    // spec: PROTOCOL.md §8.6 step 3 — an authenticated body over our max_data is
    // fatal under both policies, wherever the message would go (handler or stash).
    if ((m.type == MsgType::data_request || m.type == MsgType::data_response) && m.body.size() > e.cfg_.max_data)
        return I::fail(e, Err::too_long, now);
    auto st = I::check_ttl(e, m.ttl, now);
    if (!st) return I::fault(e, st.error(), now);
    const Role role = e.cfg_.role;
    auto t = handshake::lookup(role, e.state_, m.type);

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
        if (e.cfg_.policy == Policy::tolerant && I::server(e) && m.type == MsgType::data_request &&
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

    switch (t->action) {
        case Action::on_close: {
            auto reason = wire::decode_close_body(m.body);
            if (!reason) return I::fail(e, reason.error(), now);
            wire::Inner a = I::next_inner(e, MsgType::close_ack, now);
            (void)I::seal_and_queue(e, I::ks(e).tx, a, now, false);
            I::enter_closed(e, *reason, true, true, Err::ok);
            return {};
        }
        case Action::on_close_ack: {
            if (auto b = wire::decode_empty_body(m.body); !b) return I::fail(e, b.error(), now);
            I::enter_closed(e, e.close_reason_, false, true, e.fatal_);
            return {};
        }
        default: return I::role_action(e, t->action, m, now);
    }
}

namespace {

// A handler that leaves its faults to the caller: the first fault is fatal.
Status fatal_on_error(Engine& e, Status r, const Now& now) noexcept { return r ? r : I::fail(e, r.error(), now); }

}  // namespace

Status I::role_action(Engine& e, Action a, const wire::Inner& m, const Now& now) noexcept {
    // Only the compiled roles' handlers are named here, so a build without a
    // role links none of them; the compiled table has no row that selects them.
    if constexpr (features::kClientRole) {
        switch (a) {
            case Action::on_rekey_hello: return fatal_on_error(e, on_rekey_hello(e, m, now), now);
            case Action::on_rekey_ack: return fatal_on_error(e, on_rekey_ack(e, m, now), now);
            case Action::on_data_response: return on_data_response(e, m, now);
            default: break;
        }
    }
    if constexpr (features::kServerRole) {
        switch (a) {
            case Action::on_ack: {
                // A refused ACK gets one CLOSE under epoch 1, no retries, and
                // the connection is gone: its sender was never authenticated (spec §8.5).
                auto r = on_ack(e, m, now);
                if (r) return r;
                auto st = fail(e, r.error(), now);
                enter_closed(e, e.close_reason_, false, false, r.error());
                return st;
            }
            case Action::on_rekey_hello_ack: return fatal_on_error(e, on_rekey_hello_ack(e, m, now), now);
            case Action::on_data_request: return on_data_request(e, m, now);
            case Action::stash_request: return stash_request(e, m, now);
            case Action::on_data_ack: return on_data_ack(e, m, now);
            default: break;
        }
    }
    return fail(e, Err::internal, now);
}

// ---------------------------------------------------------------- data messages
Status I::on_data_request(Engine& e, const wire::Inner& m, const Now& now) noexcept {
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

Status I::stash_request(Engine& e, const wire::Inner& m, const Now& now) noexcept {
    if (m.body.size() > e.cfg_.max_data) return fail(e, Err::too_long, now);
    if (e.stash_used_ && e.stash_checked_) return fail(e, Err::unexpected_message, now);
    Writer w({e.stash_, e.inner_cap_});
    wire::encode_inner(m, 0, w);
    e.stash_len_ = w.size();
    e.stash_used_ = true;
    e.stash_checked_ = true;  // accepted here; served after the re-key
    return {};
}

Status I::on_data_response(Engine& e, const wire::Inner& m, const Now& now) noexcept {
    if (m.body.size() > e.cfg_.max_data) return fail(e, Err::too_long, now);
    std::uint32_t nonce = 0;
    if (!P(e).random({reinterpret_cast<std::uint8_t*>(&nonce), sizeof nonce})) return fail(e, Err::rng_failure, now);
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

Status I::on_data_ack(Engine& e, const wire::Inner& m, const Now& now) noexcept {
    auto n = wire::decode_nonce_body(m.body);
    if (!n) return fail(e, n.error(), now);
    e.awaiting_reply_ = false;
    e.state_ = State::idle;
    ++e.responses_in_epoch_;
    adopt_early_stash(e);
    if (rekey_due(e, now)) return start_rekey(e, now);
    return process_stash(e, now);
}

}  // namespace lockstep
