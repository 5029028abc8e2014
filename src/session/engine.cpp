// SPDX-License-Identifier: Apache-2.0
// lockstep — the session layer: a connection's construction, its transmit
// queue and events, and the timers (pure deadline arithmetic). Sending is in
// send.cpp, receiving in receive.cpp; handshake and re-key messages live in
// src/handshake. spec: PROTOCOL.md §8.3 (timers), §8.6 (amplification), §10 (API)
#include <cstring>

#include "session/conn.hpp"

namespace lockstep {

using handshake::Action;
using I = Conn;

namespace {

// Whether a configuration stays within what this build contains (features.hpp).
// Mode values outside 1..4 are not judged here: they never get negotiated.
// Without certificate modes a client pads its HELLO to at most
// detail::kMaxHelloPadToNoCert bytes (the transmit queue is sized for that).
bool within_build(const Config& c) noexcept {
    if (!features::role_compiled(c.role)) return false;
    if (!features::kCertModes && features::is_client(c.role) && c.hello_pad_to > detail::kMaxHelloPadToNoCert)
        return false;
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

Conn::Conn(const Config& cfg, std::span<std::uint8_t> ws) noexcept : Link(cfg) {
    if (cfg_.policy != Policy::tolerant) cfg_.policy = Policy::strict;
    if (cfg_.max_data > wire::kMaxData) cfg_.max_data = static_cast<std::uint16_t>(wire::kMaxData);
    if (cfg_.timers.ttl_lifetime > kMaxTtlLifetime || cfg_.timers.ttl_lifetime.count() < 0) {
        fatal_ = Err::invalid_argument;  // spec §8.3: a peer would refuse our ttls
        state_ = State::closed;
        return;
    }
    inner_cap_ = detail::inner_cap(cfg_.max_data);
    if (ws.size() < Engine::workspace_size(cfg_.max_data) || cfg_.provider == nullptr) {
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
    txq_cap_ = detail::txq_cap(cfg_.max_data);
    p += txq_cap_;
    kept_[0].buf = p;
    p += kept_cap();
    kept_[1].buf = p;
    p += kept_cap();
    if constexpr (features::kServerRole) {  // detail::kInnerSlots
        stash_ = p;
        p += inner_cap_;
    }
    rx_ = p;
}

Conn::~Conn() {
    if (txq_) secure_wipe(txq_, txq_cap_);
    if (kept_[0].buf) secure_wipe(kept_[0].buf, kept_cap());
    if (kept_[1].buf) secure_wipe(kept_[1].buf, kept_cap());
    if (stash_) secure_wipe(stash_, inner_cap_);
    if (rx_) secure_wipe(rx_, inner_cap_);
}

bool Conn::established() const noexcept {
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

std::size_t Conn::live_workspace(std::span<Engine::WorkspaceRange, Engine::kLiveRanges> out) const noexcept {
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

bool Conn::can_send_request() const noexcept {
    return client() && state_ == State::idle && fatal_ == Err::ok;
}

// ---------------------------------------------------------------- events, queue
void I::push_event(Conn& e, const Event& ev) noexcept {
    // A call queues at most 3; only a caller that does not drain after every
    // call fills the queue, and then the oldest goes (so `closed` is never lost).
    if (e.ev_count_ == kMaxEvents) {
        e.ev_head_ = (e.ev_head_ + 1) % kMaxEvents;
        --e.ev_count_;
    }
    e.events_[(e.ev_head_ + e.ev_count_) % kMaxEvents] = ev;
    ++e.ev_count_;
}

bool Conn::poll_event(Event& ev) noexcept {
    if (ev_count_ == 0) return false;
    ev = events_[ev_head_];
    ev_head_ = (ev_head_ + 1) % kMaxEvents;
    --ev_count_;
    return true;
}

bool I::within_amplification_limit(Conn& e, std::size_t n) noexcept {
    // spec: PROTOCOL.md §8.6 — counted here, where every message (new or
    // retransmitted) is queued, so no path can send around it.
    if (e.address_validated_ || e.cfg_.amplification_limit == 0 || !e.server()) return true;
    const std::uint64_t budget = std::uint64_t{e.cfg_.amplification_limit} * e.unproved_rx_;
    if (e.unproved_tx_ + n > budget) {
        ++e.stats_.amplification_held;
        return false;
    }
    e.unproved_tx_ += static_cast<std::uint32_t>(n);
    return true;
}

Result<std::uint8_t*> I::reserve_wire(Conn& e, std::size_t n) noexcept {
    if (e.txq_len_ + 2 + n > e.txq_cap_) return Err::buffer_too_small;
    if (!within_amplification_limit(e, n)) return nullptr;  // held back, as if lost
    return e.txq_ + e.txq_len_ + 2;
}

void I::commit_wire(Conn& e, std::size_t n, const Now& now) noexcept {
    store_be16(e.txq_ + e.txq_len_, static_cast<std::uint16_t>(n));
    e.txq_len_ += 2 + n;
    e.stats_.bytes_sent += n;
    if (e.epoch_ == 0) e.stats_.handshake_bytes += n;
    e.last_send_ = now.mono;
}

Status I::queue_wire(Conn& e, ConstBytes bytes, const Now& now) noexcept {
    auto out = reserve_wire(e, bytes.size());
    if (!out) return out.error();
    if (*out == nullptr) return {};
    std::memmove(*out, bytes.data(), bytes.size());
    commit_wire(e, bytes.size(), now);
    return {};
}

Status I::queue_raw(Conn& e, const Kept& k, const Now& now) noexcept {
    // A client's HELLO goes out behind the server's cookie and padding when it
    // has either (spec §6.8); the HELLO itself is unchanged.
    const std::size_t cookie_len = e.state_ == State::wait_hello_ack ? e.cookie_len_ : 0;
    const bool wrap = e.client() && k.type == MsgType::hello && (cookie_len > 0 || e.cfg_.hello_pad_to > k.len);
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

Result<std::size_t> Conn::poll_transmit(Bytes out) noexcept {
    if (txq_len_ == 0) return std::size_t{0};
    const std::size_t n = load_be16(txq_);
    if (out.size() < n) return Err::buffer_too_small;
    std::memcpy(out.data(), txq_ + 2, n);
    std::memmove(txq_, txq_ + 2 + n, txq_len_ - 2 - n);
    txq_len_ -= 2 + n;
    return n;
}

void I::trace_message(Conn& e, bool sent, const wire::Inner& m, std::size_t wire_len, bool retrans) noexcept {
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
std::uint32_t I::make_ttl(Conn& e, const Now& now) noexcept {
    const auto life = e.cfg_.timers.ttl_lifetime;
    if (e.relative_ttl_) {
        auto ms = (now.mono.since_origin - e.origin_.since_origin + life).count();
        return static_cast<std::uint32_t>(ms < 0 ? 0 : std::min<std::int64_t>(ms, 0xffffffff));  // never wraps
    }
    auto s = now.wall.seconds() + whole_seconds(life);
    return static_cast<std::uint32_t>(s < 0 ? 0 : s);
}

Status I::check_ttl(Conn& e, std::uint32_t ttl, const Now& now) noexcept {
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

std::optional<Instant> Conn::next_deadline() const noexcept {
    if (state_ == State::closed || state_ == State::start) return std::nullopt;
    const Timers& t = cfg_.timers;
    if (state_ == State::wait_close_ack) return last_send_ + t.close_timeout;
    Instant d;
    if (awaiting_reply_) {
        d = last_send_ + (cfg_.policy == Policy::tolerant ? t.resend_timeout : t.receive_timeout);
    } else {
        d = std::max(last_send_, last_recv_) + t.receive_timeout;
    }
    if (server() && state_ == State::idle && cfg_.rekey.after_time.count() > 0)
        d = std::min(d, epoch_start_ + cfg_.rekey.after_time);
    return d;
}

Status Conn::on_timeout(const Now& now) noexcept {
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
        auto st = I::seal_and_queue(*this, keys_.tx, m, now, false);
        I::enter_closed(*this, Reason::timeout, false, false, fatal_);
        return st;
    }
    if (server() && state_ == State::idle && handshake::rekey_due(*this, now))
        return handshake::start_rekey(*this, now);
    if (awaiting_reply_ && cfg_.policy == Policy::tolerant) {
        // Before keys exist the handshake message itself is resent; afterwards RESEND LAST.
        const std::uint64_t held = stats_.amplification_held;
        Status st;
        if (state_ == State::wait_hello_ack || state_ == State::wait_ack) {
            // Out of retries: if the peer's answers were dropped, say why.
            if (resends_ >= t.max_resends)
                return I::fail(*this, hs_dropped_ != Err::ok ? hs_dropped_ : Err::resend_exhausted, now);
            ++resends_;
            ++stats_.retransmissions;
            st = I::retransmit(*this, kept_[1], now);
        } else {
            st = I::send_resend_last(*this, now);
        }
        if (st && stats_.amplification_held != held && state_ != State::closed) {
            // Held back by the amplification limit (spec §8.6): not a resend.
            // Wait a period for the peer (a HELLO copy raises the allowance),
            // within receive_timeout of the last message received.
            --resends_;
            last_send_ = now.mono;
            if (now.mono >= last_recv_ + t.receive_timeout) return I::fail(*this, Err::timeout, now);
        }
        return st;
    }
    return I::fail(*this, Err::timeout, now);
}

}  // namespace lockstep
