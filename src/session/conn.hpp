// SPDX-License-Identifier: Apache-2.0
// lockstep — one connection's state and the session layer's code: dispatch,
// data, RESEND LAST, timers and close (spec: PROTOCOL.md §8, §10).
//
// How the engine works:
//  * Engine (include/lockstep/engine.hpp) is opaque storage holding a Conn;
//    its calls forward here (api.cpp).
//  * receive() (receive.cpp): frame byte -> clear HELLO / HELLO ACK / CLOSE /
//    COOKIE or a record -> pick the epoch's keys -> open -> decode inner ->
//    ttl -> sequence checks -> the transition table (handshake/table.hpp) ->
//    the row's handler; the state after it must be one the row allows.
//  * Handshake and re-key messages are handled in src/handshake through
//    handshake::Link, which Conn implements (the services below).
//  * Every new message we send is kept (the last two) so RESEND LAST can
//    retransmit what the peer lacks: handshake messages byte for byte, data
//    messages re-sealed under a fresh record number with a fresh ttl (send.cpp).
//  * What a fault does under each policy is one table (policy.hpp).
#pragma once

#include <new>

#include "handshake/handshake.hpp"
#include "handshake/link.hpp"
#include "handshake/table.hpp"
#include "keys/keys.hpp"
#include "lockstep/engine.hpp"
#include "lockstep/features.hpp"
#include "record/record.hpp"
#include "wire/wire.hpp"

namespace lockstep {

using handshake::KeyState;

// A relative-ttl connection is closed (limit_exceeded) once it is this old,
// long before the u32 ttl could wrap (2^32 ms). spec: PROTOCOL.md §8.3
inline constexpr std::int64_t kRelativeTtlMaxAge = std::int64_t{1} << 31;

struct Conn final : handshake::Link {
    Conn(const Config& cfg, std::span<std::uint8_t> workspace) noexcept;
    ~Conn();

    // The Conn constructed in an Engine's storage (api.cpp).
    static Conn& of(Engine& e) noexcept { return *std::launder(static_cast<Conn*>(static_cast<void*>(e.storage_))); }
    static const Conn& of(const Engine& e) noexcept {
        return *std::launder(static_cast<const Conn*>(static_cast<const void*>(e.storage_)));
    }

    static constexpr int kMaxEvents = 4;  // a call queues at most 3 (the caller drains after each)
    struct Kept {
        std::uint8_t* buf = nullptr;
        std::size_t len = 0;
        bool used = false;
        bool raw = false;  // a pre-key frame (HELLO / HELLO ACK) resent byte for byte
        MsgType type = MsgType::hello;
        std::uint32_t seq = 0, ack = 0, ttl = 0, nonce = 0;  // for the trace of raw frames
        std::uint32_t epoch = 0;
    };

    Tracer* tracer_ = nullptr;
    Err fatal_ = Err::ok;

    // sequence numbers (spec §8.1); tx_seq_ / rx_seq_ are in Link
    std::uint32_t tx_next_ = 0;
    std::uint32_t tx_recent_[4] = {};  // our last sent sequence numbers (acks may lag)
    std::uint8_t tx_recent_pos_ = 0, tx_recent_n_ = 0;
    bool sent_recently(std::uint32_t seq) const noexcept {
        for (std::uint8_t i = 0; i < tx_recent_n_; ++i)
            if (tx_recent_[i] == seq) return true;
        return false;
    }
    std::uint32_t rx_next_ = 0;
    MsgType rx_type_ = MsgType::hello;
    bool rx_any_ = false;
    std::uint32_t rx_recent_[4] = {};  // the last accepted sequence numbers (stale copies)
    std::uint8_t rx_recent_pos_ = 0, rx_recent_n_ = 0;
    // Accept a new message from the peer (spec §8.1): the next one must carry
    // seq + 1 + the nonce this one carried.
    void commit_rx(std::uint32_t seq, MsgType type, std::uint32_t nonce) noexcept {
        rx_any_ = true;
        rx_recent_[rx_recent_pos_] = seq;
        rx_recent_pos_ = static_cast<std::uint8_t>((rx_recent_pos_ + 1) % 4);
        if (rx_recent_n_ < 4) ++rx_recent_n_;
        rx_seq_ = seq;
        rx_type_ = type;
        rx_next_ = seq + 1 + nonce;
    }
    bool seen_recently(std::uint32_t seq) const noexcept {
        for (std::uint8_t i = 0; i < rx_recent_n_; ++i)
            if (rx_recent_[i] == seq) return true;
        return false;
    }

    // timers (spec §8.3)
    Instant origin_{};
    Instant last_send_{}, last_recv_{};
    std::uint8_t resends_ = 0, close_retries_ = 0;
    std::uint16_t rx_resends_ = 0;     // counts to 2 * max_resends (up to 510)
    std::uint8_t dup_hello_acks_ = 0;  // client: duplicate HELLO ACKs answered (at most max_resends)
    Err hs_dropped_ = Err::ok;         // tolerant: why the last unauthenticated handshake message was dropped
    Err last_drop_ = Err::ok;          // why the last message was dropped unopened (Engine::last_drop())

    // amplification limit (spec §8.6): bytes received from / sent to an unproved address
    bool address_validated_ = false;
    std::uint32_t unproved_rx_ = 0, unproved_tx_ = 0;
    // a move to a new address (receive_moved, spec §6.9): path_ is 1 inside the
    // call and 2 once its record opened; the new address is proved by an
    // authenticated ack of a seq >= path_mark_ (our first message after the move)
    std::uint8_t path_ = 0;
    bool path_probe_ = false;
    std::uint32_t path_mark_ = 0;
    // client: the server's cookie (spec §6.8), sent in front of every later copy of
    // HELLO; kept in the tail of the HELLO's kept slot (cookie_bytes())
    std::uint8_t cookie_len_ = 0, cookies_taken_ = 0;

    // data bookkeeping
    bool stash_used_ = false;
    bool stash_checked_ = false;  // the kept request's sequence was already accepted (crossed a re-key)
    bool seq_refused_ = false;    // tolerant: the record just opened was refused for its seq; free its number
    Reason close_reason_ = Reason::normal;
    std::size_t stash_len_ = 0;

    // workspace views
    std::uint8_t* txq_ = nullptr;
    std::size_t txq_cap_ = 0, txq_len_ = 0;
    Kept kept_[2];
    std::uint8_t* stash_ = nullptr;
    std::uint8_t* rx_ = nullptr;

    Event events_[kMaxEvents];
    int ev_head_ = 0, ev_count_ = 0;

    // ---- the application's calls (Engine forwards them)
    Status start(const Now& now) noexcept;
    Status receive(ConstBytes message, const Now& now) noexcept;
    Status receive_moved(ConstBytes message, const Now& now, bool& moved) noexcept;
    std::size_t connection_ids(std::span<ConnectionId, 2> out) const noexcept;
    Status on_timeout(const Now& now) noexcept;
    Status send_request(ConstBytes body, const Now& now) noexcept;
    Status send_response(ConstBytes body, const Now& now) noexcept;
    Status close(const Now& now, Reason reason) noexcept;
    Result<std::size_t> poll_transmit(Bytes out) noexcept;
    bool poll_event(Event& ev) noexcept;
    std::optional<Instant> next_deadline() const noexcept;
    bool established() const noexcept;
    bool can_send_request() const noexcept;
    std::size_t live_workspace(std::span<Engine::WorkspaceRange, Engine::kLiveRanges> out) const noexcept;

    // ---- session internals
    // A rejected message, for the tracer (fatal: the connection closes).
    static void note_fault(const Conn& e, Err err, bool fatal) noexcept {
        if constexpr (features::kTrace)
            if (e.tracer_) e.tracer_->on_fault(err, fatal);
    }
    static Status fail(Conn& e, Err err, const Now& now) noexcept;
    // What the policy table (policy.hpp) says a fault of a received message does.
    static Status fault(Conn& e, Err err, const Now& now) noexcept;
    // An unauthenticated message that failed: dropped under the tolerant policy, fatal under strict (spec §8.5).
    static Status drop(Conn& e, Err err, const Now& now) noexcept;
    // A message dropped without effect: counted, its cause kept for last_drop().
    static void note_drop(Conn& e, Err err) noexcept {
        ++e.stats_.dropped;
        e.last_drop_ = err;
        note_fault(e, err, false);
    }
    // After a record opened (authenticated) or failed to: is a key past its
    // hard limit? (spec §6.7) len: the record's bytes when it opened, else 0.
    static Status check_rx_limits(Conn& e, const record::DirectionKeys& k, std::uint32_t rn, std::size_t len) noexcept;
    static bool same_frame(Conn& e, ConstBytes msg, const std::array<std::uint8_t, 32>& digest) noexcept;
    // Server, before the client proved its address: may n more bytes go out? (spec §8.6)
    static bool within_amplification_limit(Conn& e, std::size_t n) noexcept;
    static void enter_closed(Conn& e, Reason r, bool by_peer, bool acknowledged, Err err) noexcept;
    static void push_event(Conn& e, const Event& ev) noexcept;
    static Status queue_wire(Conn& e, ConstBytes bytes, const Now& now) noexcept;
    // Room for an n-byte message in the transmit queue: its address, or null
    // when the amplification limit holds it back; commit_wire queues it.
    static Result<std::uint8_t*> reserve_wire(Conn& e, std::size_t n) noexcept;
    static void commit_wire(Conn& e, std::size_t n, const Now& now) noexcept;
    // A kept pre-key frame, as it goes on the wire (a client's HELLO with its cookie, §6.8).
    static Status queue_raw(Conn& e, const Kept& k, const Now& now) noexcept;
    // Where the client keeps the server's cookie: the tail of the slot holding
    // its HELLO (far longer than any HELLO), valid while in WAIT HELLO ACK.
    static std::uint8_t* cookie_bytes(Conn& e) noexcept { return e.kept_[1].buf + e.kept_cap() - wire::kMaxCookie; }
    static std::uint32_t make_ttl(Conn& e, const Now& now) noexcept;
    static Status check_ttl(Conn& e, std::uint32_t ttl, const Now& now) noexcept;
    static wire::Inner next_inner(Conn& e, MsgType t, const Now& now) noexcept;
    static Kept& keep_slot(Conn& e) noexcept;  // rotate: returns the slot for a new message
    static void commit_tx(Conn& e, std::uint32_t seq, std::uint32_t nonce, bool awaits) noexcept;
    // Send a new data-phase message (kept as plaintext).
    static Status send_message(Conn& e, MsgType t, ConstBytes body, std::uint32_t nonce, bool awaits,
                               const Now& now) noexcept;
    // Send the new handshake message built in kept_[1] (see keep_slot), len
    // bytes, already encoded and sealed; it is kept and resent byte for byte.
    static Status send_raw(Conn& e, const wire::Inner& meta, std::size_t len, std::uint32_t nonce, bool awaits,
                           const Now& now) noexcept;
    // Seal an inner message under keys and queue it (no bookkeeping), within
    // the per-key limits (Link::seal).
    static Status seal_and_queue(Conn& e, record::DirectionKeys& k, const wire::Inner& m, const Now& now,
                                 bool retransmission) noexcept;
    static Status send_resend_last(Conn& e, const Now& now) noexcept;
    static Status retransmit_after(Conn& e, std::uint32_t ack, const Now& now) noexcept;
    static Status send_clear_close(Conn& e, Reason r, const Now& now) noexcept;
    static Status retransmit(Conn& e, Kept& k, const Now& now) noexcept;
    // The tracer's view of a message (nothing at all in a build without kTrace).
    static void trace(Conn& e, bool sent, const wire::Inner& m, std::size_t wire_len, bool retrans) noexcept {
        if constexpr (features::kTrace)
            if (e.tracer_) trace_message(e, sent, m, wire_len, retrans);
    }
    static void trace_raw(Conn& e, const Kept& k, bool retrans) noexcept {
        if constexpr (features::kTrace)
            if (e.tracer_) trace_kept(e, k, retrans);
    }
    static void trace_message(Conn& e, bool sent, const wire::Inner& m, std::size_t wire_len, bool retrans) noexcept;
    static void trace_kept(Conn& e, const Kept& k, bool retrans) noexcept;
    // The outcome of a clear HELLO / HELLO ACK handler under the policy table:
    // dropped (nothing changed) or fatal (a clear CLOSE answering peer_seq).
    static Status handshake_step(Conn& e, Status st, std::uint32_t peer_seq, const Now& now) noexcept;
    static Status dispatch(Conn& e, const wire::Inner& m, const Now& now) noexcept;
    // The row's handler (run_action), then the check that the state it left is
    // one the row allows (handshake::allowed_after); otherwise Err::internal,
    // closed cleanly. frame: the clear HELLO / HELLO ACK (empty for records).
    static Status run_row(Conn& e, const handshake::Transition& row, const wire::Inner& m, ConstBytes frame,
                          const Now& now) noexcept;
    // The handler of an action; a role left out of the build has none.
    static Status run_action(Conn& e, handshake::Action a, const wire::Inner& m, ConstBytes frame,
                             const Now& now) noexcept;
    static Status on_data_request(Conn& e, const wire::Inner& m, const Now& now) noexcept;
    static Status stash_request(Conn& e, const wire::Inner& m, const Now& now) noexcept;
    static Status on_data_response(Conn& e, const wire::Inner& m, const Now& now) noexcept;
    static Status on_data_ack(Conn& e, const wire::Inner& m, const Now& now) noexcept;
    static void adopt_early_stash(Conn& e) noexcept;
    static Status process_stash(Conn& e, const Now& now) noexcept;
};

static_assert(sizeof(Conn) <= Engine::kStateSize, "grow Engine::kStateSize (include/lockstep/engine.hpp)");
static_assert(alignof(Conn) <= Engine::kStateAlign, "raise Engine::kStateAlign (include/lockstep/engine.hpp)");

}  // namespace lockstep
