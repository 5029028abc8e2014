// SPDX-License-Identifier: Apache-2.0
// lockstep — transports: TCP (length-framed) and UDP (one message per datagram)
// loops around the one sans-I/O engine. This is the only layer with sockets,
// clocks and threads. spec: PROTOCOL.md §6.1 (framing)
//
// Ownership: a Server or Client borrows the Config's provider, signer, PSK store
// and certificate spans; they must outlive it. A Server gives each loop its own
// OpenSslProvider and a FixedCertCache of the last 1024 client certificates
// verified (Config::provider and Config::cert_cache are not used). Errors are reported as
// lockstep::Err through Result; nothing here throws across the API.
// Threading: a Client is used from one thread. A Server runs its loops on
// `threads` threads (SO_REUSEPORT, one epoll loop each); the request handler
// is called on those threads and must be thread-safe.
// Time: engines are driven with clock_now(); deadlines are steady_clock Instants.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/config.hpp"
#include "lockstep/engine.hpp"
#include "lockstep/export.h"
#include "lockstep/result.hpp"

namespace lockstep::net {

enum class Transport : std::uint8_t { tcp, udp };

// The engine's Now: steady_clock as Instant (ms since its epoch), system_clock as UnixTime.
LOCKSTEP_API Now clock_now() noexcept;

// TCP framing: a big-endian u16 length, then the message. A frame longer than
// Engine::max_message_size(max_data) closes the connection (no CLOSE: the
// stream cannot be trusted any more).
inline constexpr std::size_t kFrameHeader = 2;

// Per-transport defaults, applied by Server and Client/AsyncClient to the
// Config they are given: Policy::transport_default (the Config default) runs
// strict on TCP and tolerant on UDP; over UDP a Config that keeps the default
// timers.resend_timeout runs kUdpResendTimeout. An explicit Policy::strict or
// Policy::tolerant is kept on both transports.
// Over UDP a client offering a cert mode pads its HELLO to kUdpHelloPadTo
// bytes (Config::hello_pad_to, if 0) so a server bound by the 3x amplification
// limit can send a HELLO ACK of up to 768 bytes at once.
inline constexpr std::chrono::milliseconds kUdpResendTimeout{1000};
inline constexpr std::uint16_t kUdpHelloPadTo = 256;
LOCKSTEP_API Config with_transport_defaults(Config cfg, Transport t) noexcept;

struct PeerInfo {
    std::string_view address;             // "127.0.0.1:40123" (valid during the call)
    std::span<const std::uint8_t> subject;  // certificate subject (cert modes)
    Mode mode = Mode::cert;
    std::uint32_t epoch = 0;
};

// Called for every DATA REQUEST: writes the DATA RESPONSE body into `response`
// (max_data bytes, owned by the server loop and reused, so answering allocates
// nothing) and returns its length. A length over response.size() is an error.
using RequestHandler = std::function<std::size_t(std::span<const std::uint8_t> request, const PeerInfo& peer,
                                                 std::span<std::uint8_t> response)>;
// Optional per-connection tracer factory (trace lines); may return nullptr.
// Called on the loop's thread when a connection is accepted; the tracer lives
// as long as the connection.
using TracerFactory = std::function<std::unique_ptr<Tracer>(const std::string& peer_address)>;

// The identity a connection authenticated with (ServerOptions::still_allowed).
struct PeerIdentity {
    std::array<std::uint8_t, 64> psk_id{};  // psk modes: the identity whose PSK was used
    std::size_t psk_id_len = 0;
    bool has_cert = false;  // cert modes: the peer certificate
    std::uint64_t cert_serial = 0;
    std::array<std::uint8_t, 8> cert_key_id{};  // spec: PROTOCOL.md §7.2
    std::array<std::uint8_t, 64> subject{};
    std::size_t subject_len = 0;
    std::span<const std::uint8_t> psk_identity() const noexcept { return {psk_id.data(), psk_id_len}; }
    std::span<const std::uint8_t> cert_subject() const noexcept { return {subject.data(), subject_len}; }
};

struct ServerOptions {
    std::string bind = "127.0.0.1";  // numeric address or host name
    bool tcp = true, udp = false;    // which listeners exist
    std::uint16_t tcp_port = 0;      // 0: an ephemeral port (see Server::tcp_port())
    std::uint16_t udp_port = 0;      // 0: an ephemeral port (see Server::udp_port())
    int threads = 1;                 // event loops (>= 1)
    // Budgets (spec: PROTOCOL.md §11.13). A connection is half-open from
    // accept (TCP) or its HELLO (UDP) until the client's ACK is accepted; only
    // then does it count as established.
    // max_connections: over all loops and both transports. max_handshakes:
    // half-open connections per transport, over all loops. A new connection
    // that finds the budget of its transport full evicts a half-open one of
    // that transport (counted as `evicted`); one whose source prefix already
    // holds max_handshakes_per_prefix half-open connections (per loop) evicts
    // one of that prefix. The victim is the oldest of the first kind there is:
    // TCP connections whose first frame has not arrived, UDP handshakes from
    // an address not proved, then the rest. Only when nothing can be evicted
    // (every slot holds an established connection) is it refused
    // (`rejected`): TCP closed right after accept, a UDP HELLO dropped.
    std::size_t max_connections = 20000;
    std::size_t max_handshakes = 512;
    std::size_t max_handshakes_per_prefix = 256;  // half a transport's budget: NAT and load tests share one
    int prefix_v4_bits = 24, prefix_v6_bits = 56;  // what counts as one source
    // A half-open connection is dropped this long after it began, whatever its
    // engine's timers say; a TCP connection whose first complete frame has not
    // arrived within first_frame_timeout is closed.
    std::chrono::milliseconds handshake_timeout{10'000};
    std::chrono::milliseconds first_frame_timeout{3'000};
    // UDP: answer HELLOs with a stateless cookie (spec §6.8) when this many
    // half-open UDP connections exist, or the HELLO's source prefix holds an
    // eighth of this many (0: always); the connection is created only when
    // the HELLO returns with a valid cookie. SIZE_MAX: never (a HELLO too
    // small to pay for a HELLO ACK with the certificate still gets one, as
    // the amplification limit requires). Work for strangers (cookies, new
    // connections) is also rate-limited per source prefix (spec §11.13).
    std::size_t cookie_threshold = 256;
    std::chrono::milliseconds shutdown_grace{3000};
    // Revocation of live connections (optional): every established connection
    // is re-checked each `revalidate_every` (0: only at re-keys) and after each
    // of its re-keys; still_allowed returning false closes it with
    // Reason::revoked (counted in Counters::revoked). Called on the loops'
    // threads: it must be thread-safe and quick (a cache, not a database
    // round trip per call). spec: PROTOCOL.md §7.4
    std::function<bool(const PeerIdentity&)> still_allowed;
    std::chrono::milliseconds revalidate_every{0};
    // Rate-limited operator lines (at most one per kind every 10 s): at the
    // connection or handshake budget, out of file descriptors. Called on the
    // loops' threads; may be empty.
    std::function<void(const std::string& line)> log;
    // A connection without traffic for this long gives back the memory of its
    // engine workspace, keeping only the few bytes the engine reads again (a
    // few hundred, against Engine::workspace_size(max_data)); 0: after every
    // wake-up (less memory, more work per exchange).
    std::chrono::milliseconds idle_trim{1000};
};

class LOCKSTEP_API Server {
public:
    Server(Config base, ServerOptions opts, RequestHandler handler, TracerFactory tracers = nullptr);
    ~Server();
    // Binds the sockets (one per loop and transport, SO_REUSEPORT); after this,
    // tcp_port()/udp_port() give the real ports. Errors: Err::invalid_argument
    // (bad address or options), Err::internal (a socket call failed).
    Status bind() noexcept;
    // Runs the loops (binding first if needed) until stop() or SIGINT/SIGTERM
    // (when install_signal_handlers was called). Then listeners close, every
    // open connection gets engine.close(Reason::shutdown) (a half-open one a
    // clear CLOSE), and each loop returns once its connections are closed or
    // shutdown_grace has passed. A Server runs once: after stop(), run() returns at once.
    // Per connection: a DATA REQUEST calls the handler and sends its result
    // (a handler that throws or returns more than max_data closes the
    // connection with Reason::internal_error); a closed connection is flushed
    // and removed.
    Status run() noexcept;
    void stop() noexcept;  // thread- and async-signal-safe (writes an eventfd)
    // SIGINT/SIGTERM stop every Server of the process, running or started later.
    static void install_signal_handlers() noexcept;
    std::uint16_t tcp_port() const noexcept;
    std::uint16_t udp_port() const noexcept;
    struct Counters {
        std::uint64_t accepted = 0;     // TCP connections accepted + UDP peers created
        std::uint64_t established = 0;  // handshakes completed
        std::uint64_t closed = 0;       // connections removed (accepted == closed + open)
        std::uint64_t rejected = 0;     // refused: nothing could be evicted, or out of fds
        std::uint64_t evicted = 0;      // half-open connections evicted for a newer one
        std::uint64_t cookies = 0;      // UDP cookie messages sent (no state kept)
        std::uint64_t requests = 0, rekeys = 0;
        // Connections that ended badly: an engine fault, a transport error or
        // EOF before the engine closed, an oversized frame, a half-open timeout,
        // or still open when the shutdown grace ran out.
        std::uint64_t errors = 0;
        std::uint64_t revoked = 0;  // closed by still_allowed (ServerOptions)
        std::uint64_t moved = 0;    // UDP connections moved to a new client address (spec §6.9)
        // Now: connections open (half-open included) and half-open slots in use per transport.
        std::uint64_t open = 0, half_open_tcp = 0, half_open_udp = 0;
        // By mode (index: the Mode value - 1): handshakes completed, re-keys completed.
        std::array<std::uint64_t, 4> handshakes_by_mode{}, rekeys_by_mode{};
        // Connections that closed on a fault (a local error), by the CLOSE reason
        // (index: the Reason value).
        std::array<std::uint64_t, 19> faults_by_reason{};
        // Bytes read from and written to the server's sockets, by transport
        // (index: 0 TCP, 1 UDP): TCP framing, cookies and UDP connection ids included.
        std::array<std::uint64_t, 2> bytes_received{}, bytes_sent{};
    };
    Counters counters() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A blocking client: one connection, one request at a time.
class LOCKSTEP_API Client {
public:
    Client(Config cfg, Transport t);
    ~Client();
    void set_tracer(Tracer* t) noexcept;  // borrowed: must outlive the Client (its destructor sends CLOSE)
    // Resolves host:port, connects (TCP) and runs the handshake until done or timeout.
    // Errors: Err::invalid_argument (cannot resolve), Err::closed (refused, or the
    // handshake failed: see closed_event()), Err::timeout, Err::wrong_state (called twice).
    Status connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) noexcept;
    // Sends one DATA REQUEST and waits for its DATA RESPONSE (re-keys happen inside).
    // Over TCP the DATA ACK of the response is held until the next call (request,
    // close, the destructor) and leaves in the same write as what that call sends;
    // the server waits for it as long as it would wait idle (receive_timeout).
    // Errors: Err::closed (see closed_event()), Err::timeout (no response in time:
    // the request is still outstanding; close the connection), Err::wrong_state
    // (not connected), Err::too_long (body over max_data).
    Result<std::vector<std::uint8_t>> request(std::span<const std::uint8_t> body,
                                              std::chrono::milliseconds timeout) noexcept;
    // Orderly close: CLOSE, then wait (bounded) for CLOSE ACK; the socket is
    // closed either way. Ok: acknowledged. Err::timeout: no CLOSE ACK in time.
    // Err::closed: already closed, or it ended without CLOSE ACK.
    Status close(std::chrono::milliseconds timeout) noexcept;
    const Engine& engine() const noexcept;
    // The reason the connection closed, if it did (data is empty). When the
    // transport ended without a CLOSE (EOF, reset, refused) the event has
    // by_peer = true, acknowledged = false, error = Err::closed.
    std::optional<Event> closed_event() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A non-blocking client for applications that own their event loop: the
// caller polls fd() for readability (and writability while want_write()) and
// calls on_readable() / flush() / on_timer(). The engine's events are taken
// out of the engine as they happen (its queue is small) and handed out by
// poll_event(); do not call engine().poll_event() directly.
// Errors from on_readable/on_timer/flush: Err::closed once the connection is
// over (a closed event is queued); other errors are the engine's.
class LOCKSTEP_API AsyncClient {
public:
    AsyncClient(Config cfg, Transport t);
    ~AsyncClient();
    // Non-blocking connect + HELLO. source: a numeric local address to bind
    // (port chosen by connect, so sources can share ports), empty: any.
    Status start(const std::string& host, std::uint16_t port, const std::string& source = {}) noexcept;
    int fd() const noexcept;
    Status on_readable() noexcept;  // read what is there, feed the engine, flush
    Status on_timer() noexcept;     // call when now >= next_deadline()
    std::optional<Instant> next_deadline() const noexcept;
    Engine& engine() noexcept;
    Status flush() noexcept;  // send what the engine queued (call after engine API calls)
    // TCP output is waiting (connect in progress or a full socket): poll for writability, then flush().
    bool want_write() const noexcept;
    // The next event; ev.data stays valid until the next poll_event call. A lost
    // transport gives a closed event as described at Client::closed_event().
    bool poll_event(Event& ev) noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lockstep::net
