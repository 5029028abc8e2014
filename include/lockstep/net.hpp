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

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
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
inline constexpr std::chrono::milliseconds kUdpResendTimeout{1000};
LOCKSTEP_API Config with_transport_defaults(Config cfg, Transport t) noexcept;

struct PeerInfo {
    std::string address;                  // "127.0.0.1:40123"
    std::span<const std::uint8_t> subject;  // certificate subject (cert modes)
    Mode mode = Mode::cert;
    std::uint32_t epoch = 0;
};

// Called for every DATA REQUEST; returns the DATA RESPONSE body.
using RequestHandler = std::function<std::vector<std::uint8_t>(std::span<const std::uint8_t> request,
                                                                const PeerInfo& peer)>;
// Optional per-connection tracer factory (trace lines); may return nullptr.
// Called on the loop's thread when a connection is accepted; the tracer lives
// as long as the connection.
using TracerFactory = std::function<std::unique_ptr<Tracer>(const std::string& peer_address)>;

struct ServerOptions {
    std::string bind = "127.0.0.1";  // numeric address or host name
    bool tcp = true, udp = false;    // which listeners exist
    std::uint16_t tcp_port = 0;      // 0: an ephemeral port (see Server::tcp_port())
    std::uint16_t udp_port = 0;      // 0: an ephemeral port (see Server::udp_port())
    int threads = 1;                 // event loops (>= 1)
    // Caps over all loops. A TCP connection beyond either is closed right after
    // accept; a UDP HELLO beyond either is dropped. Both count as `rejected`.
    std::size_t max_connections = 20000;
    std::size_t max_handshakes = 512;  // connections in State::start / wait_ack (half-open)
    std::chrono::milliseconds shutdown_grace{3000};
    // A TCP connection that sends no HELLO within timers.receive_timeout is dropped.
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
        std::uint64_t rejected = 0;     // refused by max_connections / max_handshakes
        std::uint64_t requests = 0, rekeys = 0;
        // Connections that ended badly: an engine fault, a transport error or
        // EOF before the engine closed, an oversized frame, a half-open timeout,
        // or still open when the shutdown grace ran out.
        std::uint64_t errors = 0;
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
    Status start(const std::string& host, std::uint16_t port) noexcept;  // non-blocking connect + HELLO
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
