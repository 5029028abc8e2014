// SPDX-License-Identifier: Apache-2.0
// lockstep net — the operator's view of a Server: its counters as Prometheus
// text (served over HTTP by MetricsEndpoint, for `lockstep serve --metrics`)
// and as one status line (text or JSON). Not part of the engine: allocates,
// runs a thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "lockstep/engine.hpp"
#include "lockstep/net.hpp"
#include "net/io.hpp"

namespace lockstep::net {

namespace detail {
// The server's tallies by mode, reason and transport (kept by each loop, read by counters()).
class Tally {
public:
    // Called on a loop's thread for every engine event of a connection in `mode`.
    void on_event(const Event& ev, Mode mode) noexcept;
    // Called on a loop's thread with what a read / write on a socket moved.
    void received(Transport t, std::size_t n) noexcept { bytes_in_[slot(t)].fetch_add(n, std::memory_order_relaxed); }
    void sent(Transport t, std::size_t n) noexcept { bytes_out_[slot(t)].fetch_add(n, std::memory_order_relaxed); }
    void fill(Server::Counters& c) const noexcept;

private:
    static constexpr std::size_t kModes = 4;
    static constexpr std::size_t kReasons = static_cast<std::size_t>(kLastReason) + 1;
    static std::size_t slot(Transport t) noexcept { return t == Transport::tcp ? 0 : 1; }
    std::atomic<std::uint64_t> handshakes_[kModes] = {}, rekeys_[kModes] = {};
    std::atomic<std::uint64_t> faults_[kReasons] = {};
    std::atomic<std::uint64_t> bytes_in_[2] = {}, bytes_out_[2] = {};
};
}  // namespace detail

// Prometheus text exposition format 0.0.4: lockstep_connections{state=...},
// lockstep_half_open{transport=...}, lockstep_connections_total{event=...},
// lockstep_handshakes_total{mode=...}, lockstep_rekeys_total{mode=...},
// lockstep_faults_total{reason=...}, lockstep_requests_total, lockstep_cookies_total,
// lockstep_received_bytes_total{transport=...}, lockstep_sent_bytes_total{transport=...}.
std::string prometheus_text(const Server::Counters& c);
// "status: open=3 half_open=0/1 established=12 requests=40 rekeys=3 rejected=0 evicted=0 errors=0 revoked=0"
std::string status_line(const Server::Counters& c);
// The same fields as one JSON object, with "kind":"status" and "ts" (Unix ms).
std::string status_json(const Server::Counters& c, std::int64_t unix_ms);

// A minimal HTTP/1.0 server on its own thread: GET /metrics answers render()
// as text/plain; version=0.0.4; anything else 404. One request per connection,
// a request head over 8 KiB or slower than 2 s is dropped. Loopback use.
class MetricsEndpoint {
public:
    using Render = std::function<std::string()>;
    // Binds host:port (0: ephemeral) and starts the thread. Err::invalid_argument
    // for a bad address, Err::internal when the socket cannot be bound.
    static Result<std::unique_ptr<MetricsEndpoint>> start(const std::string& host, std::uint16_t port, Render render);
    ~MetricsEndpoint();  // stops and joins the thread
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;
    std::uint16_t port() const noexcept { return port_; }

private:
    MetricsEndpoint(detail::Fd listener, detail::Fd stop, std::uint16_t port, Render render);
    void run() noexcept;
    void answer(int fd) noexcept;

    detail::Fd listener_;
    detail::Fd stop_;
    std::uint16_t port_;
    Render render_;
    std::thread thread_;
};

}  // namespace lockstep::net
