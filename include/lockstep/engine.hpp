// lockstep — the sans-I/O protocol engine (one per connection).
//
// How to drive it (spec: PROTOCOL.md §10):
//   Engine e(config, workspace);       // workspace: Engine::workspace_size(max_data) bytes
//   e.start(now);                      // client: queues HELLO
//   loop:
//     e.receive(bytes, now)            // one whole message (the transport frames them)
//     e.on_timeout(now)                // when now >= e.next_deadline()
//     e.send_request(body, now) / e.send_response(body, now) / e.close(now)
//     while (n = e.poll_transmit(buf)) send(buf[0..n])
//     while (e.poll_event(ev)) handle(ev)
//
// The engine never touches sockets, clocks, threads or the OS RNG; randomness
// comes from the provider. It does not allocate, throw or block. All buffers
// live in the caller-provided workspace, which must outlive the engine.
// Errors: a fatal fault queues a CLOSE (or, before keys exist, a clear CLOSE),
// is returned once and then sticks (every later call returns Err::closed).
// Drain poll_event() after every call: event data spans stay valid only until
// the next call into the engine, and the engine holds at most kMaxEvents.
// Threading: one engine must not be used from two threads at once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>

#include "lockstep/config.hpp"
#include "lockstep/result.hpp"
#include "lockstep/types.hpp"

namespace lockstep {

enum class State : std::uint8_t {
    start,                 // client: before start(); server: waiting for HELLO
    wait_hello_ack,        // client: HELLO sent
    wait_ack,              // server: HELLO ACK sent
    idle,                  // established; client may request, server waits
    wait_response,         // client: DATA REQUEST outstanding
    serving,               // server: request handed to the application
    wait_data_ack,         // server: DATA RESPONSE sent
    rekey_wait_hello_ack,  // server: re-key HELLO sent
    rekey_wait_ack,        // client: re-key HELLO ACK sent
    wait_close_ack,        // CLOSE sent
    closed,
};
inline constexpr int kStateCount = 11;
const char* state_name(State s) noexcept;

enum class EventKind : std::uint8_t {
    handshake_done,  // keys confirmed both ways; data may flow
    request,         // server: a DATA REQUEST body; answer with send_response
    response,        // client: the DATA RESPONSE body to the outstanding request
    rekeyed,         // a re-key completed; `epoch` is the new epoch
    closed,          // the connection is closed; see reason / by_peer / acknowledged
};

struct Event {
    EventKind kind = EventKind::closed;
    std::span<const std::uint8_t> data;  // request / response body
    std::uint32_t epoch = 0;
    Reason reason = Reason::normal;   // closed: the CLOSE reason (ours or the peer's)
    bool by_peer = false;             // closed: the peer closed
    bool acknowledged = false;        // closed: CLOSE ACK exchanged (clean close)
    Err error = Err::ok;              // closed: local cause of a fault, if any (by the peer in a handshake: why we dropped its HELLO ACK)
};

// One line of the trace, in the seed's field notation. Never contains key material.
struct TraceEntry {
    bool sent = false;
    bool retransmission = false;
    MsgType type = MsgType::hello;
    std::uint32_t seq = 0, ack = 0, ttl = 0;
    bool has_nonce = false;
    std::uint32_t nonce = 0;
    std::size_t data_len = 0;
    std::uint32_t epoch = 0;
    std::size_t wire_len = 0;
    Reason reason = Reason::normal;  // CLOSE
};
class Tracer {
public:
    virtual ~Tracer() = default;
    virtual void on_message(const TraceEntry& e) noexcept = 0;
    // A received message was rejected; fatal says whether the connection closes.
    virtual void on_fault(Err e, bool fatal) noexcept = 0;
};

struct Stats {
    std::uint32_t handshakes = 0, rekeys = 0;
    std::uint32_t requests = 0, responses = 0;
    std::uint32_t retransmissions = 0, resend_lasts_sent = 0;
    std::uint64_t bytes_sent = 0, bytes_received = 0;
    std::uint64_t handshake_bytes = 0;  // wire bytes of the initial handshake
    std::uint32_t dropped = 0;          // messages that did not authenticate: dropped, no effect
    std::uint32_t amplification_held = 0;  // messages not sent: over the amplification limit
};

namespace detail {
inline constexpr std::size_t kMinInnerCap = 2304;  // handshake messages with RSA-3072
constexpr std::size_t inner_cap(std::size_t max_data) {
    return std::max<std::size_t>(15 + max_data + 255, kMinInnerCap);
}
constexpr std::size_t wire_cap(std::size_t max_data) { return 6 + inner_cap(max_data) + 16 + 64; }
}  // namespace detail

class Engine {
public:
    // Workspace bytes needed for a given Config::max_data.
    static constexpr std::size_t workspace_size(std::size_t max_data) {
        return 2 * detail::wire_cap(max_data) + 2048 + 4 * detail::inner_cap(max_data);
    }
    // Largest message poll_transmit can produce.
    static constexpr std::size_t max_message_size(std::size_t max_data) { return detail::wire_cap(max_data); }

    Engine(const Config& cfg, std::span<std::uint8_t> workspace) noexcept;
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Borrowed; null stops tracing. No effect in a build without the tracer (features::kTrace).
    void set_tracer(Tracer* t) noexcept { tracer_ = t; }

    Status start(Now now) noexcept;
    Status receive(std::span<const std::uint8_t> message, Now now) noexcept;
    Status on_timeout(Now now) noexcept;
    Status send_request(std::span<const std::uint8_t> body, Now now) noexcept;
    Status send_response(std::span<const std::uint8_t> body, Now now) noexcept;
    Status close(Now now, Reason reason = Reason::normal) noexcept;

    // Copies the next message to send into out; returns its length, 0 if none.
    Result<std::size_t> poll_transmit(std::span<std::uint8_t> out) noexcept;
    bool poll_event(Event& ev) noexcept;
    std::optional<Instant> next_deadline() const noexcept;

    State state() const noexcept { return state_; }
    bool established() const noexcept;
    bool is_closed() const noexcept { return state_ == State::closed; }
    bool can_send_request() const noexcept;
    // The workspace bytes a later call reads again: the kept messages that a
    // retransmission resends, a stored request, unsent output. Every other
    // workspace byte is written before it is read. A transport holding many idle
    // connections may copy these ranges out, let the workspace's memory go (its
    // address must stay the engine's), and copy them back before the next call.
    // Returns the number of ranges written to out (at most kLiveRanges).
    struct WorkspaceRange {
        std::size_t offset = 0, length = 0;
    };
    static constexpr std::size_t kLiveRanges = 4;
    std::size_t live_workspace(std::span<WorkspaceRange, kLiveRanges> out) const noexcept;
    std::uint32_t epoch() const noexcept { return epoch_; }
    Mode mode() const noexcept { return mode_; }
    Suite suite() const noexcept { return suite_; }
    std::span<const std::uint8_t> peer_subject() const noexcept { return {peer_subject_, peer_subject_len_}; }
    const Stats& stats() const noexcept { return stats_; }
    Err last_error() const noexcept { return fatal_; }
    // Why the last message dropped without effect (it did not authenticate,
    // decode, or fit the state; stats().dropped counts them) was dropped, for
    // logs (spec: PROTOCOL.md §8.6). Err::ok if none was.
    Err last_drop() const noexcept { return last_drop_; }
    // Server: the client's address is proved by other means (a valid cookie,
    // spec: PROTOCOL.md §6.8): lifts Config::amplification_limit.
    void set_address_validated() noexcept { address_validated_ = true; }
    bool address_validated() const noexcept { return address_validated_; }
    // Datagrams: the connection ids (spec: PROTOCOL.md §6.9) of the client's
    // traffic keys this end holds; 0 before epoch 1. Client: its sending key's.
    // Server: its current receive key's and the other set's, if any (the next
    // epoch's during a re-key, the previous epoch's after one).
    std::size_t connection_ids(std::span<ConnectionId, 2> out) const noexcept;
    // Server, datagrams: receive() of a message that came from an address other
    // than the connection's (spec §6.9). `moved` is set if it authenticated (a
    // record that opened, not a replay): the transport sends to the new address
    // from then on, and that address is unproved (Config::amplification_limit,
    // counted from this message) until an authenticated message from it
    // acknowledges one of ours sent after the move. Otherwise nothing changed.
    Status receive_moved(std::span<const std::uint8_t> message, Now now, bool& moved) noexcept;

    struct Impl;  // handshake and session handlers (src/handshake, src/session)
    friend struct Impl;

private:
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

    Config cfg_;
    Tracer* tracer_ = nullptr;
    State state_ = State::start;
    Err fatal_ = Err::ok;
    Mode mode_ = Mode::cert;
    Suite suite_ = Suite::aes256gcm;
    bool relative_ttl_ = false;
    std::uint32_t epoch_ = 0;
    Stats stats_{};

    // sequence numbers (spec §8.1)
    std::uint32_t tx_seq_ = 0, tx_next_ = 0;
    std::uint32_t tx_recent_[4] = {};  // our last sent sequence numbers (acks may lag)
    std::uint8_t tx_recent_pos_ = 0, tx_recent_n_ = 0;
    bool sent_recently(std::uint32_t seq) const noexcept {
        for (std::uint8_t i = 0; i < tx_recent_n_; ++i)
            if (tx_recent_[i] == seq) return true;
        return false;
    }
    std::uint32_t rx_seq_ = 0, rx_next_ = 0;
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
    Instant last_send_{}, last_recv_{}, epoch_start_{};
    bool awaiting_reply_ = false;
    std::uint8_t resends_ = 0, close_retries_ = 0;
    std::uint16_t rx_resends_ = 0;  // counts to 2 * max_resends (up to 510)
    std::uint8_t dup_hello_acks_ = 0;  // client: duplicate HELLO ACKs answered (at most max_resends)
    bool peer_proved_ = false;         // the handshake peer's finished verified (initial handshake)
    Err hs_dropped_ = Err::ok;         // tolerant: why the last unauthenticated handshake message was dropped
    Err last_drop_ = Err::ok;          // why the last message was dropped unopened (last_drop())

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

    // data and re-key bookkeeping
    std::uint32_t responses_in_epoch_ = 0;
    std::uint64_t bytes_in_epoch_ = 0;
    bool request_outstanding_ = false;  // client: across a re-key
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
    std::uint8_t* scratch_ = nullptr;
    std::size_t inner_cap_ = 0;

    Event events_[kMaxEvents];
    int ev_head_ = 0, ev_count_ = 0;

    std::uint8_t peer_subject_[64] = {};
    std::size_t peer_subject_len_ = 0;
    std::uint8_t peer_key_[384] = {};
    std::uint8_t peer_key_alg_ = 0;

    // Key material lives in an opaque, wiped block (see src/session/engine_state.hpp).
    alignas(8) std::uint8_t keystate_[920];
};

}  // namespace lockstep
