// SPDX-License-Identifier: Apache-2.0
// lockstep net — Prometheus text, status lines and the metrics endpoint (metrics.hpp).
#include "net/metrics.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string_view>

namespace lockstep::net {

namespace {

struct Field {
    const char* name;
    std::uint64_t value;
};

std::string fmt_u64(std::uint64_t v) { return std::to_string(v); }

std::size_t mode_index(Mode m) noexcept { return static_cast<std::size_t>(m) - 1; }
std::string mode_label(Mode m) { return "mode=\"" + std::string(mode_name(m)) + "\""; }

void metric(std::string& out, const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const char* name, const char* labels, std::uint64_t v) {
    out += name;
    if (labels[0] != '\0') out += std::string("{") + labels + "}";
    out += " " + fmt_u64(v) + "\n";
}

}  // namespace

namespace detail {
void Tally::on_event(const Event& ev, Mode mode) noexcept {
    const std::size_t m = mode_index(mode);
    if (m >= kModes) return;
    if (ev.kind == EventKind::handshake_done) ++handshakes_[m];
    if (ev.kind == EventKind::rekeyed) ++rekeys_[m];
    const auto r = static_cast<std::size_t>(ev.reason);
    if (ev.kind == EventKind::closed && ev.error != Err::ok && r < kReasons) ++faults_[r];
}

void Tally::fill(Server::Counters& c) const noexcept {
    for (std::size_t m = 0; m < kModes; ++m) {
        c.handshakes_by_mode[m] = handshakes_[m].load();
        c.rekeys_by_mode[m] = rekeys_[m].load();
    }
    for (std::size_t r = 0; r < kReasons; ++r) c.faults_by_reason[r] = faults_[r].load();
    for (std::size_t t = 0; t < 2; ++t) {
        c.bytes_received[t] = bytes_in_[t].load(std::memory_order_relaxed);
        c.bytes_sent[t] = bytes_out_[t].load(std::memory_order_relaxed);
    }
}
}  // namespace detail

std::string prometheus_text(const Server::Counters& c) {
    std::string o;
    metric(o, "lockstep_connections", "gauge", "Connections by state (half_open: before the handshake completes).");
    sample(o, "lockstep_connections", "state=\"open\"", c.open);
    sample(o, "lockstep_connections", "state=\"half_open\"", c.half_open_tcp + c.half_open_udp);
    metric(o, "lockstep_half_open", "gauge", "Half-open connection slots in use, per transport.");
    sample(o, "lockstep_half_open", "transport=\"tcp\"", c.half_open_tcp);
    sample(o, "lockstep_half_open", "transport=\"udp\"", c.half_open_udp);
    metric(o, "lockstep_connections_total", "counter", "Connection events since start.");
    const Field events[] = {{"accepted", c.accepted}, {"closed", c.closed},   {"rejected", c.rejected},
                            {"evicted", c.evicted},   {"errors", c.errors},   {"revoked", c.revoked}};
    for (const Field& f : events) sample(o, "lockstep_connections_total", ("event=\"" + std::string(f.name) + "\"").c_str(), f.value);
    const Mode modes[] = {Mode::cert, Mode::psk, Mode::cert_psk, Mode::psk_only};
    metric(o, "lockstep_handshakes_total", "counter", "Handshakes completed, by mode.");
    for (const Mode m : modes)
        sample(o, "lockstep_handshakes_total", mode_label(m).c_str(), c.handshakes_by_mode[mode_index(m)]);
    metric(o, "lockstep_rekeys_total", "counter", "Re-keys completed, by mode.");
    for (const Mode m : modes)
        sample(o, "lockstep_rekeys_total", mode_label(m).c_str(), c.rekeys_by_mode[mode_index(m)]);
    metric(o, "lockstep_faults_total", "counter", "Connections closed on a fault, by CLOSE reason.");
    for (std::size_t r = 0; r < c.faults_by_reason.size(); ++r)
        sample(o, "lockstep_faults_total",
               ("reason=\"" + std::string(reason_name(static_cast<Reason>(r))) + "\"").c_str(), c.faults_by_reason[r]);
    metric(o, "lockstep_requests_total", "counter", "DATA REQUESTs answered.");
    sample(o, "lockstep_requests_total", "", c.requests);
    metric(o, "lockstep_cookies_total", "counter", "UDP cookie messages sent.");
    sample(o, "lockstep_cookies_total", "", c.cookies);
    metric(o, "lockstep_received_bytes_total", "counter", "Bytes read from the server's sockets, by transport.");
    sample(o, "lockstep_received_bytes_total", "transport=\"tcp\"", c.bytes_received[0]);
    sample(o, "lockstep_received_bytes_total", "transport=\"udp\"", c.bytes_received[1]);
    metric(o, "lockstep_sent_bytes_total", "counter", "Bytes written to the server's sockets, by transport.");
    sample(o, "lockstep_sent_bytes_total", "transport=\"tcp\"", c.bytes_sent[0]);
    sample(o, "lockstep_sent_bytes_total", "transport=\"udp\"", c.bytes_sent[1]);
    return o;
}

namespace {
std::array<Field, 10> status_fields(const Server::Counters& c) {
    return {{{"open", c.open},
             {"half_open_tcp", c.half_open_tcp},
             {"half_open_udp", c.half_open_udp},
             {"established", c.established},
             {"requests", c.requests},
             {"rekeys", c.rekeys},
             {"rejected", c.rejected},
             {"evicted", c.evicted},
             {"errors", c.errors},
             {"revoked", c.revoked}}};
}
}  // namespace

std::string status_line(const Server::Counters& c) {
    std::string s = "status:";
    for (const Field& f : status_fields(c)) s += std::string(" ") + f.name + "=" + fmt_u64(f.value);
    return s;
}

std::string status_json(const Server::Counters& c, std::int64_t unix_ms) {
    std::string s = "{\"ts\":" + std::to_string(unix_ms) + ",\"kind\":\"status\"";
    for (const Field& f : status_fields(c)) s += std::string(",\"") + f.name + "\":" + fmt_u64(f.value);
    return s + "}";
}

// ---------------------------------------------------------------- endpoint
Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::start(const std::string& host, std::uint16_t port,
                                                                Render render) {
    auto where = detail::resolve(host, port, true);
    if (!where) return Err::invalid_argument;
    auto fd = detail::open_socket(where->ss.ss_family, Transport::tcp);
    if (!fd) return Err::internal;
    const int one = 1;
    (void)::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd->get(), where->sa(), where->len) != 0 || ::listen(fd->get(), 16) != 0) return Err::internal;
    detail::Address bound;
    bound.len = sizeof bound.ss;
    if (::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&bound.ss), &bound.len) != 0) return Err::internal;
    detail::Fd stop(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!stop) return Err::internal;
    return std::unique_ptr<MetricsEndpoint>(
        new MetricsEndpoint(std::move(*fd), std::move(stop), bound.port(), std::move(render)));
}

MetricsEndpoint::MetricsEndpoint(detail::Fd listener, detail::Fd stop, std::uint16_t port, Render render)
    : listener_(std::move(listener)), stop_(std::move(stop)), port_(port), render_(std::move(render)) {
    thread_ = std::thread([this] { run(); });
}

MetricsEndpoint::~MetricsEndpoint() {
    const std::uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    if (thread_.joinable()) thread_.join();
}

void MetricsEndpoint::run() noexcept {
    for (;;) {
        pollfd p[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) continue;
        if (p[1].revents != 0) return;
        if ((p[0].revents & POLLIN) == 0) continue;
        detail::Fd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (c) answer(c.get());
    }
}

void MetricsEndpoint::answer(int fd) noexcept {
    constexpr std::size_t kMaxHead = 8192;
    constexpr int kWaitMs = 2000;
    std::string head;
    char buf[1024];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (head.find("\r\n\r\n") == std::string::npos) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        head.append(buf, static_cast<std::size_t>(n));
        if (head.size() > kMaxHead) return;
    }
    std::string body;
    std::string status = "404 Not Found";
    const std::string_view line(head.data(), head.find("\r\n"));
    if (line.rfind("GET /metrics ", 0) == 0 || line == "GET /metrics") {
        try {
            body = render_();
            status = "200 OK";
        } catch (...) {
            status = "500 Internal Server Error";
        }
    }
    std::string out = "HTTP/1.0 " + status + "\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    std::size_t sent = 0;
    while (sent < out.size()) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, kWaitMs) <= 0) return;
        const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<std::size_t>(n);
    }
}

}  // namespace lockstep::net
