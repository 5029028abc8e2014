// lockstep — transports: TCP (length-framed) and UDP (one message per datagram)
// loops around the one sans-I/O engine. This is the only layer with sockets,
// clocks and threads. spec: PROTOCOL.md §6.1 (framing)
//
// Ownership: a Server or Client borrows the Config's provider, signer, PSK store
// and certificate spans; they must outlive it. Errors are reported as
// lockstep::Err through Result; nothing here throws across the API.
// Threading: a Client is used from one thread. A Server runs its loops on
// `threads` threads (SO_REUSEPORT, one epoll loop each); the request handler
// is called on those threads and must be thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lockstep/config.hpp"
#include "lockstep/engine.hpp"
#include "lockstep/result.hpp"

namespace lockstep::net {

enum class Transport : std::uint8_t { tcp, udp };

// The wall clock and monotonic clock as the engine's Now.
Now clock_now() noexcept;

// TCP framing: a big-endian u16 length, then the message.
inline constexpr std::size_t kFrameHeader = 2;

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
using TracerFactory = std::function<std::unique_ptr<Tracer>(const std::string& peer_address)>;

struct ServerOptions {
    std::string bind = "127.0.0.1";
    std::uint16_t tcp_port = 0;  // 0: no TCP listener unless both are 0 (then an ephemeral TCP port)
    std::uint16_t udp_port = 0;  // 0: no UDP socket
    bool tcp = true, udp = false;
    int threads = 1;
    std::size_t max_connections = 20000;
    std::size_t max_handshakes = 512;  // connections not yet established (half-open cap)
    std::chrono::milliseconds shutdown_grace{3000};
};

class Server {
public:
    Server(Config base, ServerOptions opts, RequestHandler handler, TracerFactory tracers = nullptr);
    ~Server();
    // Binds the sockets; after this, tcp_port()/udp_port() give the real ports.
    Status bind() noexcept;
    // Runs until stop() or SIGINT/SIGTERM (when install_signal_handlers was called);
    // on stop every open connection is sent CLOSE and the server waits up to
    // shutdown_grace for the CLOSE ACKs.
    Status run() noexcept;
    void stop() noexcept;  // thread- and signal-safe
    static void install_signal_handlers() noexcept;
    std::uint16_t tcp_port() const noexcept;
    std::uint16_t udp_port() const noexcept;
    struct Counters {
        std::uint64_t accepted = 0, established = 0, closed = 0, rejected = 0, requests = 0, rekeys = 0;
        std::uint64_t errors = 0;
    };
    Counters counters() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A blocking client: one connection, one request at a time.
class Client {
public:
    Client(Config cfg, Transport t);
    ~Client();
    void set_tracer(Tracer* t) noexcept;
    // Resolves host:port, connects (TCP) and runs the handshake until done or timeout.
    Status connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) noexcept;
    // Sends one DATA REQUEST and waits for its DATA RESPONSE (re-keys happen inside).
    Result<std::vector<std::uint8_t>> request(std::span<const std::uint8_t> body,
                                              std::chrono::milliseconds timeout) noexcept;
    // Orderly close: CLOSE, then wait (bounded) for CLOSE ACK.
    Status close(std::chrono::milliseconds timeout) noexcept;
    const Engine& engine() const noexcept;
    // The reason the connection closed, if it did.
    std::optional<Event> closed_event() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A non-blocking client for applications that own their event loop: the
// caller polls fd() for readability and calls on_readable() / on_timer().
class AsyncClient {
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

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lockstep::net
