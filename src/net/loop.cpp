// SPDX-License-Identifier: Apache-2.0
// The server's event loop: waiting, dispatch, accepting TCP connections, the
// stream side, events, timers, idle memory, budgets and stopping (loop.hpp;
// how it all works: server.cpp). The datagram side is in datagram.cpp.
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>

#include "net/loop.hpp"

namespace lockstep::net::detail {

Status Loop::bind(const Address& where, std::uint16_t& tcp_port, std::uint16_t& udp_port) {
    ep_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_) return Err::internal;
    if (s_.opts.tcp) LS_TRY(open(where, Transport::tcp, tcp_port, listener_, kListenerId));
    if (s_.opts.udp) LS_TRY(open(where, Transport::udp, udp_port, udp_, kUdpId));
    if (s_.opts.tcp) reserve_fd_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    return {};
}

void Loop::run() {
    watch(s_.stop_fd.get(), kStopId, EPOLLIN);
    if (s_.opts.still_allowed && s_.opts.revalidate_every.count() > 0)
        next_recheck_ = clock_now().mono + s_.opts.revalidate_every;
    if (g_signal_fd.load() >= 0) watch(g_signal_fd.load(), kSignalId, EPOLLIN);
    epoll_event evs[kMaxEvents];
    for (;;) {
        Now now = clock_now();
        if (stopping_ && (conns_.empty() || now.mono >= stop_deadline_)) break;
        if (conns_.empty()) pool_.discard_hot();  // no connection: no workspace pages
        const int n = ::epoll_wait(ep_.get(), evs, kMaxEvents, wait_ms(now));
        if (n < 0 && errno != EINTR) break;
        now = clock_now();
        for (int i = 0; i < n; ++i) dispatch(evs[i], now);
        fire_timers(now);
        if (next_recheck_ && now.mono >= *next_recheck_) recheck_all(now);
        resume_accepting(now);
        trim_after_flood();
        trim_idle(now);
        if (out_n_ != 0) flush_datagrams();
    }
    for (auto& [id, c] : conns_) c->failed = true;  // still open after the grace period
    while (!conns_.empty()) remove(*conns_.begin()->second);
    flush_datagrams();
}

Status Loop::open(const Address& where, Transport t, std::uint16_t& port, Fd& out, std::uint64_t id) {
    auto fd = open_socket(where.ss.ss_family, t);
    if (!fd) return fd.error();
    int one = 1;
    (void)::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return Err::internal;
    if (t == Transport::udp) {
        // One socket for every UDP client of the loop: room for a burst of
        // handshakes (the kernel caps it at net.core.rmem_max / wmem_max).
        int bytes = static_cast<int>(kUdpSocketBuffer);
        (void)::setsockopt(fd->get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
        (void)::setsockopt(fd->get(), SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    }
    Address a = where;
    if (a.ss.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&a.ss)->sin6_port = htons(port);
    else reinterpret_cast<sockaddr_in*>(&a.ss)->sin_port = htons(port);
    if (::bind(fd->get(), a.sa(), a.len) != 0) return Err::internal;
    if (t == Transport::tcp && ::listen(fd->get(), SOMAXCONN) != 0) return Err::internal;
    Address bound;
    bound.len = sizeof bound.ss;
    if (::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&bound.ss), &bound.len) != 0) return Err::internal;
    port = bound.port();
    out = std::move(*fd);
    watch(out.get(), id, EPOLLIN);
    return {};
}

void Loop::watch(int fd, std::uint64_t id, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    (void)::epoll_ctl(ep_.get(), op, fd, &ev);
}

int Loop::wait_ms(Now now) const {
    std::optional<std::int64_t> until;
    if (!timers_.empty()) until = timers_.begin()->first;
    if (stopping_) until = std::min(until.value_or(INT64_MAX), stop_deadline_.since_origin.count());
    if (next_recheck_) until = std::min(until.value_or(INT64_MAX), next_recheck_->since_origin.count());
    if (accept_paused_until_) until = std::min(until.value_or(INT64_MAX), accept_paused_until_->since_origin.count());
    if (!idle_.empty()) until = std::min(until.value_or(INT64_MAX), idle_.front().first + s_.opts.idle_trim.count());
    if (!until) return -1;
    const std::int64_t ms = *until - now.mono.since_origin.count();
    return static_cast<int>(std::clamp<std::int64_t>(ms, 0, 60'000));
}

void Loop::dispatch(const epoll_event& ev, Now now) {
    // A copy: epoll_event is packed on x86-64, so its u64 is misaligned for a reference.
    const std::uint64_t id = ev.data.u64;
    switch (id) {
        case kListenerId: accept_all(now); return;
        case kUdpId: receive_datagrams(now); return;
        case kStopId:
        case kSignalId: begin_stop(now); return;
        default: break;
    }
    auto it = conns_.find(id);
    if (it == conns_.end()) {
        if (auto p = pending_.find(id); p != pending_.end()) on_first_frame(p, ev.events, now);
        return;
    }
    Conn& c = wake(*it->second, now);
    if (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) read_stream(c, now);
    settle(c);
}

// ------------------------------------------------------------ accepting
Conn& Loop::add(Transport t, std::uint64_t id, std::string address, const PrefixKey& prefix, Now now) {
    auto c = std::make_unique<Conn>(t == Transport::tcp ? cfg_tcp_ : cfg_udp_, t, id, std::move(address),
                                    now.mono, static_cast<bool>(s_.opts.still_allowed), pool_, tx_);
    c->prefix = prefix;
    if (s_.tracers) c->tracer = s_.tracers(c->address);
    c->engine.set_tracer(c->tracer.get());
    (void)c->engine.start(now);
    return *conns_.emplace(id, std::move(c)).first->second;
}

// A slot for one more half-open connection of transport t from prefix p:
// evicts the oldest half-open one of the lowest rank (of that prefix, or of
// the transport) when a budget is full; refuses only when nothing can be evicted.
bool Loop::admit(Transport t, const PrefixKey& p, Now now) {
    auto& half_open = s_.half_open[index(t)];
    const bool full = half_open.load() >= s_.opts.max_handshakes || s_.live.load() >= s_.opts.max_connections;
    if (auto victim = budget_.victim(t, p, full)) {
        evict(*victim);
        log(log_budget_, "half-open budget full: evicting the oldest half-open connections", now);
    }
    if (!ServerState::reserve(s_.live, s_.opts.max_connections)) {
        ++s_.rejected;
        log(log_budget_, "connection limit reached: refusing new connections", now);
        return false;
    }
    if (!ServerState::reserve(half_open, s_.opts.max_handshakes)) {
        --s_.live;
        ++s_.rejected;
        log(log_budget_, "handshake limit reached on every loop: refusing new connections", now);
        return false;
    }
    return true;
}

void Loop::evict(std::uint64_t id) {
    ++s_.evicted;
    if (auto it = pending_.find(id); it != pending_.end()) return drop_pending(it);
    Conn& v = *conns_.at(id);
    v.failed = v.dead = true;
    remove(v);
}

void Loop::log(RateLimitedLog& which, const std::string& what, Now now) {
    if (!s_.opts.log) return;
    if (auto line = which.note(what, now.mono)) s_.opts.log(*line);
}

PrefixKey Loop::prefix(const Address& a) const noexcept {
    return prefix_of(a, s_.opts.prefix_v4_bits, s_.opts.prefix_v6_bits);
}

// After a flood, give the freed heap back (RSS falls back near its level before).
void Loop::trim_after_flood() {
    peak_ = std::max(peak_, conns_.size());
    if (peak_ < kTrimAbove || conns_.size() > peak_ / 4) return;
    conns_.rehash(0);
    udp_peers_.rehash(0);
    pending_.rehash(0);
    cids_.shrink();
    pool_.discard_hot();
    (void)::malloc_trim(0);
    peak_ = conns_.size();
}

// ------------------------------------------------------------ per connection
// Reads until a read leaves room in the buffer (level-triggered: anything
// that arrives later wakes epoll_wait again).
void Loop::read_stream(Conn& c, Now now) {
    for (;;) {
        const ssize_t n = ::read(c.fd.get(), buf_.data(), buf_.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {  // EOF or reset
            c.dead = true;
            c.failed = c.failed || !c.engine.is_closed();
            return;
        }
        s_.tally.received(Transport::tcp, static_cast<std::size_t>(n));
        auto st = c.stream.consume({buf_.data(), static_cast<std::size_t>(n)}, [&](auto msg) {
            (void)c.engine.receive(msg, now);
            pump(c, now);
            return !c.engine.is_closed() && !c.dead;
        });
        if (!st) c.failed = c.dead = true;  // oversized frame: the stream is garbage
        if (c.dead || c.engine.is_closed() || static_cast<std::size_t>(n) < buf_.size()) return;
    }
}

// Takes the engine's events and queues its output (after every engine call:
// the engine's event and transmit queues are small).
void Loop::pump(Conn& c, Now now) {
    Event ev;
    while (c.engine.poll_event(ev)) on_event(c, ev, now);
    if (c.t == Transport::udp) {
        queue_datagrams(c);
    } else if (!c.stream.queue_from(c.engine)) {
        c.failed = c.dead = true;
    }
}

void Loop::on_event(Conn& c, const Event& ev, Now now) {
    s_.tally.on_event(ev, c.engine.mode());
    switch (ev.kind) {
        case EventKind::handshake_done:
            ++s_.established;
            if (c.t == Transport::udp) strangers_.refund(c.prefix, kConnectionCost, now.mono);  // not a stranger's work
            break;
        case EventKind::rekeyed:
            ++s_.rekeys;
            recheck(c, now);
            break;
        case EventKind::response: break;
        case EventKind::closed:
            if (ev.error != Err::ok) c.failed = true;
            break;
        case EventKind::request: {
            ++s_.requests;
            const PeerInfo peer{c.address, c.engine.peer_subject(), c.engine.mode(), c.engine.epoch()};
            bool ok = false;
            try {
                const std::size_t n = s_.handler(ev.data, peer, resp_);
                ok = n <= resp_.size() && c.engine.send_response({resp_.data(), n}, now).has_value();
            } catch (...) {
            }
            if (!ok) {
                c.failed = true;
                (void)c.engine.close(now, Reason::internal_error);
            }
            break;
        }
    }
}

// Writes, keeps the half-open count, removes a finished connection or re-arms its timer.
void Loop::settle(Conn& c) {
    if (c.t == Transport::tcp && !c.dead) {
        if (auto n = c.stream.write(c.fd.get())) s_.tally.sent(Transport::tcp, *n);
        else c.failed = c.dead = true;
    }
    if (c.half_open && !half_open_state(c.engine.state())) leave_half_open(c);
    // A UDP connection is made by its HELLO: one the engine dropped leaves nothing to wait for.
    if (c.t == Transport::udp && c.engine.state() == State::start) c.failed = c.dead = true;
    if (c.dead || c.engine.is_closed()) return remove(c);
    if (c.t == Transport::udp) {
        std::array<ConnectionId, 2> ids;
        cids_.update(c.id, c.cids, std::span(ids).first(c.engine.connection_ids(ids)));
    }
    if (c.t == Transport::tcp && c.stream.pending() != c.watching_out) {
        c.watching_out = !c.watching_out;
        watch(c.fd.get(), c.id, kConnEvents | (c.watching_out ? EPOLLOUT : 0u), EPOLL_CTL_MOD);
    }
    // A half-open connection lives no longer than its budget allows,
    // whatever its engine's timers say (the engine has none before HELLO).
    auto d = c.engine.next_deadline();
    if (c.half_open) d = d ? std::min(*d, half_open_end(c)) : half_open_end(c);
    c.deadline = d ? std::optional(d->since_origin.count()) : std::nullopt;
    // An armed timer at or before the deadline stays: most exchanges push the
    // deadline back a little, and an early timer only re-arms (fire_timers).
    if (c.deadline && (!c.timer || *c.timer > *c.deadline)) arm(c, *c.deadline);
    if (s_.opts.idle_trim.count() == 0) return trim(c);
    if (!c.idle_queued && !c.ws.trimmed) {
        idle_.emplace_back(c.active.since_origin.count(), c.id);
        c.idle_queued = true;
    }
}

// ------------------------------------------------------------ idle memory
// Before any call into a connection's engine: its workspace back in place.
Conn& Loop::wake(Conn& c, Now now) noexcept {
    c.ws.wake();
    c.active = now.mono;
    return c;
}

void Loop::trim(Conn& c) noexcept {
    try {
        c.ws.trim(c.engine);
    } catch (...) {  // no memory for the saved bytes: stay as it is
    }
}

// Trims the connections that had no traffic for idle_trim.
void Loop::trim_idle(Now now) {
    const std::int64_t after = s_.opts.idle_trim.count(), t = now.mono.since_origin.count();
    while (!idle_.empty() && idle_.front().first + after <= t) {
        const std::uint64_t id = idle_.front().second;
        idle_.pop_front();
        auto it = conns_.find(id);
        if (it == conns_.end()) continue;
        Conn& c = *it->second;
        c.idle_queued = false;
        if (c.ws.trimmed) continue;
        if (c.active.since_origin.count() + after > t) {  // woke since it was queued
            idle_.emplace_back(c.active.since_origin.count(), id);
            c.idle_queued = true;
            continue;
        }
        trim(c);
    }
}

void Loop::arm(Conn& c, std::int64_t at) {
    if (c.timer) timers_.erase({*c.timer, c.id});
    c.timer = at;
    timers_.emplace(at, c.id);
}

void Loop::fire_timers(Now now) {
    const std::int64_t t = now.mono.since_origin.count();
    while (!timers_.empty() && timers_.begin()->first <= t) {
        const std::uint64_t id = timers_.begin()->second;
        if (auto p = pending_.find(id); p != pending_.end()) {  // no first frame in time
            drop_pending(p);
            continue;
        }
        Conn& early = *conns_.at(id);
        if (!early.deadline || *early.deadline > t) {  // armed before the deadline moved: not due
            timers_.erase(timers_.begin());
            early.timer.reset();
            if (early.deadline) arm(early, *early.deadline);
            continue;
        }
        Conn& c = wake(early, now);
        timers_.erase(timers_.begin());
        c.timer.reset();
        if (c.half_open && now.mono >= half_open_end(c)) {
            c.failed = c.dead = true;  // no HELLO (TCP: no first frame) or no ACK in time
        } else {
            (void)c.engine.on_timeout(now);
            pump(c, now);
        }
        settle(c);
    }
}

Instant Loop::half_open_end(const Conn& c) const noexcept {
    const bool first_frame = c.t == Transport::tcp && c.engine.state() == State::start;
    return c.created + (first_frame ? s_.opts.first_frame_timeout : s_.opts.handshake_timeout);
}

void Loop::leave_half_open(Conn& c) noexcept {
    c.half_open = false;
    --s_.half_open[index(c.t)];
    budget_.remove(c.id);
}

void Loop::remove(Conn& c) {
    if (c.timer) timers_.erase({*c.timer, c.id});
    if (c.half_open) leave_half_open(c);
    --s_.live;
    ++s_.closed;
    if (c.failed) ++s_.errors;
    if (c.t == Transport::udp) {
        if (auto it = udp_peers_.find(key_of(c.peer)); it != udp_peers_.end() && it->second == c.id)
            udp_peers_.erase(it);
        cids_.forget(c.id, c.cids);
    }
    conns_.erase(c.id);  // closes a TCP socket (and so leaves the epoll set)
}

// ------------------------------------------------------------ revocation
// Closes an established connection whose identity is no longer allowed.
void Loop::recheck(Conn& c, Now now) {
    if (!c.who || !c.engine.established() || s_.opts.still_allowed(c.who->identity())) return;
    ++s_.revoked;
    (void)c.engine.close(now, Reason::revoked);
}

void Loop::recheck_all(Now now) {
    next_recheck_ = now.mono + s_.opts.revalidate_every;
    std::vector<std::uint64_t> ids;
    for (auto& [id, c] : conns_)
        if (c->engine.established()) ids.push_back(id);
    for (std::uint64_t id : ids) {
        Conn& c = wake(*conns_.at(id), now);
        if (c.engine.is_closed()) continue;
        recheck(c, now);
        pump(c, now);
        settle(c);
    }
}

void Loop::begin_stop(Now now) {
    if (stopping_) return;
    stopping_ = true;
    stop_deadline_ = now.mono + s_.opts.shutdown_grace;
    (void)::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, s_.stop_fd.get(), nullptr);
    if (g_signal_fd.load() >= 0) (void)::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, g_signal_fd.load(), nullptr);
    listener_.reset();
    while (!pending_.empty()) drop_pending(pending_.begin(), false);
    std::vector<std::uint64_t> ids;
    for (auto& [id, c] : conns_) ids.push_back(id);
    for (std::uint64_t id : ids) {
        Conn& c = wake(*conns_.at(id), now);
        (void)c.engine.close(now, Reason::shutdown);
        pump(c, now);
        settle(c);
    }
}

}  // namespace lockstep::net::detail
