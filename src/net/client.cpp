// SPDX-License-Identifier: Apache-2.0
// lockstep clients — how this works:
// detail::Channel is one connection: a non-blocking socket, one Engine and
// its workspace, TCP framing buffers, and a queue of the engine's events (with
// copies of their data). The blocking Client is the same Impl driven by poll()
// until a condition holds or a deadline passes.
// Reading: over TCP into a buffer of one largest frame (complete frames go
// from it to the engine without another copy), over UDP into one of the largest
// message (a longer datagram arrives cut short and is dropped by the engine). The AsyncClient reads until EAGAIN, as an edge-triggered caller
// needs; the blocking Client stops after a read that did not fill the buffer,
// saving the read that would only say EAGAIN.
// The blocking Client, once connected, waits in a blocking recv with a receive
// timeout (SO_RCVTIMEO, set only when the wait changes much) instead of poll +
// recv; over UDP it reads one datagram per wake-up (no recv that would say
// EAGAIN). Over TCP it holds the DATA ACK of a response until its next call,
// so an ACK and the next DATA REQUEST (or CLOSE) leave in one write. Holding
// it is safe on TCP, where the strict policy does not resend: the server waits
// for the ACK as long as it would wait idle (receive_timeout). Over UDP the
// tolerant server would resend its response meanwhile: the ACK leaves at once.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <deque>

#include "net/io.hpp"
#include "wire/wire.hpp"

namespace lockstep::net {

using namespace detail;

namespace {
Config client_config(Config c, Transport t) {
    c.role = Role::client;
    return with_transport_defaults(c, t);
}
// TCP: one largest frame. UDP: one largest message behind a connection id
// (the buffer also sends), plus a byte so that a longer datagram, which the
// engine would refuse, never looks like one that fits. Not 64 KiB: a fleet of
// clients in one process holds one each.
std::size_t read_buffer_size(const Config& c, Transport t) {
    return t == Transport::udp ? wire::kCidHeadLen + Engine::max_message_size(c.max_data) + 1
                               : kFrameHeader + Engine::max_message_size(c.max_data);
}
}  // namespace

namespace detail {
// One client connection (the AsyncClient itself; the Client drives one with poll()).
struct Channel {
    Channel(const Config& c, Transport tr)
        : cfg(client_config(c, tr)), t(tr), ws(new std::uint8_t[Engine::workspace_size(cfg.max_data)]),
          engine(cfg, {ws.get(), Engine::workspace_size(cfg.max_data)}),
          stream(Engine::max_message_size(cfg.max_data)), scratch(read_buffer_size(cfg, t)) {}

    Config cfg;
    Transport t;
    // Before engine: the engine borrows it. Not zero-filled: the engine writes
    // before it reads, so pages it never uses need not become resident.
    std::unique_ptr<std::uint8_t[]> ws;
    Engine engine;
    Stream stream;
    std::vector<std::uint8_t> scratch;  // read buffer (read_buffer_size); UDP transmit
    Fd fd;
    bool connecting = false;  // TCP connect in progress
    bool lost = false;        // transport gone
    bool hold_acks = false;   // blocking Client over TCP: hold the output that follows a response
    bool held = false;        // a response came: output waits for the next call
    struct Stored {
        Event ev;
        std::vector<std::uint8_t> data;
    };
    std::deque<Stored> events;
    std::vector<std::uint8_t> current;  // data of the event last handed out

    bool over() const noexcept { return lost || engine.is_closed(); }

    Status start(const std::string& host, std::uint16_t port, const std::string& source = {}) {
        if (fd) return Err::wrong_state;
        auto addr = resolve(host, port, false);
        if (!addr) return addr.error();
        auto s = open_socket(addr->ss.ss_family, t);
        if (!s) return s.error();
        fd = std::move(*s);
        if (!source.empty()) LS_TRY(bind_source(source));
        if (::connect(fd.get(), addr->sa(), addr->len) != 0) {
            if (t == Transport::udp || errno != EINPROGRESS) return lose();
            connecting = true;
        }
        LS_TRY(engine.start(clock_now()));
        return flush();
    }

    // The local address (port chosen at connect, so many sources can share ports).
    Status bind_source(const std::string& source) {
        auto local = resolve(source, 0, true);
        if (!local) return local.error();
        int one = 1;
        (void)::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (::bind(fd.get(), local->sa(), local->len) != 0) return Err::invalid_argument;
        return {};
    }

    // The transport ended without the engine closing: report it as a closed event.
    Status lose() {
        if (!lost && !engine.is_closed()) {
            Event ev;
            ev.kind = EventKind::closed;
            ev.by_peer = true;
            ev.error = Err::closed;
            events.push_back({ev, {}});
        }
        lost = true;
        fd.reset();
        return Err::closed;
    }

    void take_events() {
        Event ev;
        while (engine.poll_event(ev)) {
            if (ev.kind == EventKind::response && hold_acks) held = true;
            events.push_back({ev, {ev.data.begin(), ev.data.end()}});
        }
    }

    Status flush() {
        take_events();
        if (lost) return Err::closed;
        if (t == Transport::udp) {
            LS_TRY(send_datagrams(engine, fd.get(), nullptr, scratch));
        } else {
            if (!stream.queue_from(engine)) return lose();
            if (held && !engine.is_closed()) return {};  // goes with the next request or CLOSE
            if (connecting) {
                pollfd p{fd.get(), POLLOUT, 0};
                if (::poll(&p, 1, 0) <= 0) return {};  // not yet: the caller polls for writability
                int err = 0;
                socklen_t len = sizeof err;
                if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return lose();
                connecting = false;
            }
            if (!stream.write(fd.get())) return lose();
        }
        return engine.is_closed() ? Status{Err::closed} : Status{};
    }

    // One message in: the engine, then its events and output.
    void feed(std::span<const std::uint8_t> msg, Now now) {
        (void)engine.receive(msg, now);
        take_events();
        if (t == Transport::tcp && !stream.queue_from(engine)) (void)lose();
    }

    bool want_write() const noexcept { return connecting || (stream.pending() && !held); }

    // drain: read until EAGAIN (else stop after a TCP read that left room).
    // block: the first recv may wait (a blocking socket with SO_RCVTIMEO).
    Status on_readable(bool drain, bool block = false) {
        if (lost) return Err::closed;
        if (connecting) LS_TRY(flush());  // learn whether the connect succeeded
        for (int flags = block ? 0 : MSG_DONTWAIT;; flags = MSG_DONTWAIT) {
            const ssize_t n = ::recv(fd.get(), scratch.data(), scratch.size(), flags);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (t == Transport::udp) {
                if (n < 0) continue;  // an ICMP error: the datagram was lost
                feed({scratch.data(), static_cast<std::size_t>(n)}, clock_now());
                if (!drain) break;  // the caller comes back while it waits for more
                continue;
            }
            if (n <= 0) return lose();  // EOF or reset
            const Now now = clock_now();
            auto st = stream.consume({scratch.data(), static_cast<std::size_t>(n)}, [&](auto msg) {
                feed(msg, now);
                return !over();
            });
            if (!st) return lose();  // oversized frame: the stream is garbage
            if (over() || (!drain && static_cast<std::size_t>(n) < scratch.size())) break;
        }
        return flush();
    }

    Status on_timer() {
        if (lost) return Err::closed;
        (void)engine.on_timeout(clock_now());
        return flush();
    }

    bool poll_event(Event& ev) {
        take_events();
        if (events.empty()) return false;
        current = std::move(events.front().data);
        ev = events.front().ev;
        ev.data = current;
        events.pop_front();
        return true;
    }
};
}  // namespace detail

struct AsyncClient::Impl : Channel {
    using Channel::Channel;
};

// ---------------------------------------------------------------- AsyncClient
AsyncClient::AsyncClient(Config cfg, Transport t) : impl_(std::make_unique<Impl>(cfg, t)) {}
AsyncClient::~AsyncClient() = default;
Status AsyncClient::start(const std::string& host, std::uint16_t port, const std::string& source) noexcept {
    try {
        return impl_->start(host, port, source);
    } catch (...) {
        return Err::internal;
    }
}
int AsyncClient::fd() const noexcept { return impl_->fd.get(); }
Status AsyncClient::on_readable() noexcept { return impl_->on_readable(true); }
Status AsyncClient::on_timer() noexcept { return impl_->on_timer(); }
std::optional<Instant> AsyncClient::next_deadline() const noexcept { return impl_->engine.next_deadline(); }
Engine& AsyncClient::engine() noexcept { return impl_->engine; }
Status AsyncClient::flush() noexcept { return impl_->flush(); }
bool AsyncClient::want_write() const noexcept {
    return impl_->t == Transport::tcp && !impl_->lost && impl_->want_write();
}
bool AsyncClient::poll_event(Event& ev) noexcept { return impl_->poll_event(ev); }

// ---------------------------------------------------------------- Client
struct Client::Impl {
    Impl(const Config& cfg, Transport t) : a(cfg, t) {}
    Channel a;
    bool connected = false;
    bool blocking = false;          // connected: the socket blocks (recv with SO_RCVTIMEO)
    std::int64_t rcvtimeo_ms = -1;  // the SO_RCVTIMEO set last
    std::optional<Event> closed;
    std::optional<std::vector<std::uint8_t>> response;

    void take_events() {
        Event ev;
        while (a.poll_event(ev)) {
            if (ev.kind == EventKind::handshake_done) connected = true;
            // ev.data is a.current: take the buffer rather than copy it.
            if (ev.kind == EventKind::response) response = std::move(a.current);
            if (ev.kind == EventKind::closed) {
                closed = ev;
                closed->data = {};
            }
        }
    }

    // Drives the connection until done() or the deadline; false on timeout.
    template <class F>
    bool pump(F&& done, Instant deadline) {
        for (;;) {
            take_events();
            if (done()) return true;
            if (a.over()) return false;
            const Instant now = clock_now().mono;
            if (now >= deadline) return false;
            Instant wake = deadline;
            if (auto d = a.engine.next_deadline(); d && *d < wake) wake = *d;
            const auto ms = std::max<std::int64_t>(0, (wake.since_origin - now.since_origin).count());
            if (blocking && !a.want_write() && wait_in_recv(ms)) {
                (void)a.on_readable(false, true);
                if (auto d = a.engine.next_deadline(); d && clock_now().mono >= *d) (void)a.on_timer();
                continue;
            }
            pollfd p{a.fd.get(), static_cast<short>(POLLIN | (a.want_write() ? POLLOUT : 0)), 0};
            const int n = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(ms, 60'000)));
            if (n > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP))) (void)a.on_readable(false);
            if (n > 0 && (p.revents & POLLOUT) && !a.lost) (void)a.flush();
            if (auto d = a.engine.next_deadline(); d && clock_now().mono >= *d) (void)a.on_timer();
        }
    }

    // Sets the receive timeout for a wait of `ms` (rounded down to 100 ms, or
    // 10 ms below a second); false when the wait is too short for that (then
    // poll). A timeout already set is kept while it is no longer than the wait
    // and at least half of it: a recv that times out early only goes round the
    // pump loop once more, and successive waits of about the same length (each
    // request's timeout counted from its start) need no call.
    bool wait_in_recv(std::int64_t ms) {
        const std::int64_t step = ms > 1000 ? 100 : 10, t = std::min<std::int64_t>(ms, 60'000) / step * step;
        if (t <= 0) return false;
        if (rcvtimeo_ms <= 0 || rcvtimeo_ms > t || 2 * rcvtimeo_ms < t) {
            timeval tv{static_cast<time_t>(t / 1000), static_cast<suseconds_t>(t % 1000 * 1000)};
            if (::setsockopt(a.fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return false;
            rcvtimeo_ms = t;
        }
        return true;
    }

    // Connected: the socket blocks for recv (sends pass MSG_DONTWAIT). Over
    // TCP the DATA ACK waits for the next call; over UDP it leaves at once.
    void go_blocking() {
        if (!a.fd) return;
        const int fl = ::fcntl(a.fd.get(), F_GETFL);
        blocking = fl >= 0 && ::fcntl(a.fd.get(), F_SETFL, fl & ~O_NONBLOCK) == 0;
        a.hold_acks = blocking && a.t == Transport::tcp;
    }

    // Before each call that sends: what a response left waiting goes with it.
    void release() noexcept { a.held = false; }
};

Client::Client(Config cfg, Transport t) : impl_(std::make_unique<Impl>(cfg, t)) {}

Client::~Client() {
    // Best effort, without waiting: tell the peer we are gone.
    impl_->release();
    if (impl_->a.fd && !impl_->a.over()) {
        (void)impl_->a.engine.close(clock_now());
        (void)impl_->a.flush();
    }
}

void Client::set_tracer(Tracer* t) noexcept { impl_->a.engine.set_tracer(t); }

Status Client::connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) noexcept {
    Impl& c = *impl_;
    const Instant deadline = clock_now().mono + timeout;
    try {
        auto st = c.a.start(host, port);
        if (!st && st.error() != Err::closed) return st;
    } catch (...) {
        return Err::internal;
    }
    if (c.pump([&] { return c.connected || c.closed; }, deadline) && c.connected) {
        c.go_blocking();
        return {};
    }
    return c.closed ? Err::closed : Err::timeout;
}

Result<std::vector<std::uint8_t>> Client::request(std::span<const std::uint8_t> body,
                                                  std::chrono::milliseconds timeout) noexcept {
    Impl& c = *impl_;
    if (c.closed) return Err::closed;
    if (!c.connected) return Err::wrong_state;
    const Instant deadline = clock_now().mono + timeout;
    c.release();
    // A re-key may be under way: wait until the engine takes a request.
    if (!c.pump([&] { return c.a.engine.can_send_request() || c.closed; }, deadline))
        return c.closed ? Err::closed : Err::timeout;
    if (c.closed) return Err::closed;
    c.response.reset();
    auto st = c.a.engine.send_request(body, clock_now());
    (void)c.a.flush();
    if (!st) {
        c.take_events();
        return c.closed ? Err::closed : st.error();
    }
    if (c.pump([&] { return c.response || c.closed; }, deadline) && c.response) return std::move(*c.response);
    return c.closed ? Err::closed : Err::timeout;
}

Status Client::close(std::chrono::milliseconds timeout) noexcept {
    Impl& c = *impl_;
    c.take_events();
    c.release();
    if (c.closed || !c.a.fd) return Err::closed;
    (void)c.a.engine.close(clock_now());
    (void)c.a.flush();
    const bool done = c.pump([&] { return c.closed.has_value(); }, clock_now().mono + timeout);
    c.a.fd.reset();
    if (!done) return Err::timeout;
    return c.closed->acknowledged ? Status{} : Status{Err::closed};
}

const Engine& Client::engine() const noexcept { return impl_->a.engine; }

std::optional<Event> Client::closed_event() const noexcept { return impl_->closed; }

}  // namespace lockstep::net
