// SPDX-License-Identifier: Apache-2.0
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
// the next call into the engine, and the engine holds at most 4 events.
// Threading: one engine must not be used from two threads at once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>

#include "lockstep/config.hpp"
#include "lockstep/export.h"
#include "lockstep/features.hpp"
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
LOCKSTEP_API const char* state_name(State s) noexcept;

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
class LOCKSTEP_API Tracer {
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
// The room a handshake message needs (kept for retransmission, or the sealed
// part of a HELLO ACK opened): with certificates (up to RSA-3072) 2304 bytes;
// a build without certificate modes (features.hpp) needs far less (its bound
// is checked against the wire format in src/handshake/handshake.cpp).
inline constexpr std::size_t kMinInnerCapCert = 2304;
inline constexpr std::size_t kMinInnerCapNoCert = 384;
inline constexpr std::size_t kMinInnerCap = features::kCertModes ? kMinInnerCapCert : kMinInnerCapNoCert;
// Message slots: two kept messages (kept_cap), the receive buffer (inner_cap),
// and (only when the server role is compiled in) the stash for a request that
// crossed a re-key (inner_cap). A client opens the sealed part of HELLO ACK in
// the receive buffer, so a build without the server role needs no stash.
inline constexpr std::size_t kInnerSlots = features::kServerRole ? 2 : 1;
// A received record's plaintext: header, body, up to 255 bytes of padding.
constexpr std::size_t inner_cap(std::size_t max_data) {
    return std::max<std::size_t>(15 + max_data + 255, kMinInnerCap);
}
// A kept message: a data message is kept unpadded (header and body; padding is
// added when it is sealed into the transmit queue), a handshake message sealed
// within kMinInnerCap.
constexpr std::size_t kept_cap(std::size_t max_data) { return std::max<std::size_t>(15 + max_data, kMinInnerCap); }
constexpr std::size_t wire_cap(std::size_t max_data) { return 6 + inner_cap(max_data) + 16 + 64; }
// The client's HELLO behind a cookie and padding (frame 0x04, spec §6.8): the
// longest HELLO (kMaxHello, checked against the wire format in
// src/handshake/handshake.cpp) behind the 4-byte head with the longest cookie
// (64 bytes), padded by at most 1200 bytes. A build without certificate modes
// accepts Config::hello_pad_to only up to kMaxHelloPadToNoCert (a psk HELLO ACK
// is short, so a server under the amplification limit answers an unpadded
// HELLO), which bounds its padded HELLO to that length.
inline constexpr std::size_t kMaxHello = 169;
inline constexpr std::size_t kMaxHelloPadToNoCert = 384;
inline constexpr std::size_t kMaxHelloFrame = features::kCertModes
                                                  ? 4 + 64 + 1200 + kMaxHello
                                                  : std::max<std::size_t>(4 + 64 + kMaxHello, kMaxHelloPadToNoCert);
// The transmit queue, each message behind a 2-byte length: what one call
// queues, two records at most (RESEND LAST answered with both kept messages),
// or a client's HELLO and a record, or a HELLO copy behind an unsent one.
constexpr std::size_t txq_cap(std::size_t max_data) {
    const std::size_t rec = 2 + wire_cap(max_data);
    return rec + std::max<std::size_t>(rec, features::kClientRole ? 2 + kMaxHelloFrame : 0);
}
// The state's bytes only a build with certificate modes has: the peer
// certificate's public key (up to RSA-3072) and subject (handshake/link.hpp).
inline constexpr std::size_t kPeerKeyCap = features::kCertModes ? 384 : 1;
inline constexpr std::size_t kPeerSubjectCap = features::kCertModes ? 64 : 1;
}  // namespace detail

class LOCKSTEP_API Engine {
public:
    // Workspace bytes needed for a given Config::max_data.
    static constexpr std::size_t workspace_size(std::size_t max_data) {
        return detail::txq_cap(max_data) + 2 * detail::kept_cap(max_data) +
               detail::kInnerSlots * detail::inner_cap(max_data);
    }
    // Largest message poll_transmit can produce.
    static constexpr std::size_t max_message_size(std::size_t max_data) { return detail::wire_cap(max_data); }

    Engine(const Config& cfg, std::span<std::uint8_t> workspace) noexcept;
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Borrowed; null stops tracing. No effect in a build without the tracer (features::kTrace).
    void set_tracer(Tracer* t) noexcept;

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

    State state() const noexcept;
    bool established() const noexcept;
    bool is_closed() const noexcept;
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
    std::uint32_t epoch() const noexcept;
    Mode mode() const noexcept;
    Suite suite() const noexcept;
    std::span<const std::uint8_t> peer_subject() const noexcept;
    const Stats& stats() const noexcept;
    Err last_error() const noexcept;
    // Why the last message dropped without effect (it did not authenticate,
    // decode, or fit the state; stats().dropped counts them) was dropped, for
    // logs (spec: PROTOCOL.md §8.6). Err::ok if none was.
    Err last_drop() const noexcept;
    // Server: the client's address is proved by other means (a valid cookie,
    // spec: PROTOCOL.md §6.8): lifts Config::amplification_limit.
    void set_address_validated() noexcept;
    bool address_validated() const noexcept;
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

    // The connection's state lives in this opaque block (its layout is private
    // to src/session), so internals change without touching this header.
    // Sized with slack for 32- and 64-bit targets; the engine static_asserts that
    // its state fits. A build without certificate modes keeps no peer
    // certificate key and subject (detail::kPeerKeyCap, kPeerSubjectCap).
    static constexpr std::size_t kStateSize = 1792 + 48 * sizeof(void*) -
        (features::kCertModes ? 0 : 480);  // 2176 / 1984 B on 64 / 32-bit; without certificate modes 1696 / 1504 B
    static constexpr std::size_t kStateAlign = 8;

private:
    friend struct Conn;
    alignas(kStateAlign) unsigned char storage_[kStateSize];
};

}  // namespace lockstep
