// SPDX-License-Identifier: Apache-2.0
// lockstep server — how this works (the loop: loop.hpp, loop.cpp, datagram.cpp):
// `threads` Loops, each with its own epoll, SO_REUSEPORT listener / UDP socket,
// OpenSslProvider, certificate cache and Config copies (providers and caches are
// not thread-safe). A Loop owns its connections: one Engine + workspace each, TCP
// framing buffers or the UDP peer address, and one entry in a timer set ordered
// by deadline; epoll_wait sleeps until the earliest deadline. After every call
// into an engine the loop `pump`s it (events out, messages onto the wire) and
// `settle`s the connection (write, cap bookkeeping, remove when closed, re-arm
// the timer: only when the deadline moved earlier; a timer that fires before its
// connection's deadline is re-armed without calling the engine). Each loop's UDP
// socket asks for 4 MiB buffers, room for a burst of handshakes.
// Connection sockets are level-triggered (a Pending one edge-triggered): a
// read that did not fill the buffer has taken everything there was, so the
// loop goes back to epoll_wait instead of reading again for EAGAIN;
// writability (EPOLLOUT) is watched only while output is waiting in the Stream.
// Budgets (spec: PROTOCOL.md §11.13): half-open connections are entries of a
// HalfOpenBudget (budget.hpp) per loop, with a short lifetime of their own; a
// new one evicts the oldest of the lowest rank instead of being refused. A TCP
// connection is Pending (an fd, no engine) until its first frame is complete
// (accept.cpp). A UDP HELLO is answered with a stateless COOKIE (cookie.hpp,
// spec §6.8) when many handshakes are half-open (in all, or from its source
// prefix), or when its HELLO ACK would break the amplification limit; only a
// HELLO that returns with a valid cookie then gets an engine. What a stranger
// costs (a COOKIE, a new connection) is paid from its source prefix's token
// bucket (PrefixBuckets), so one prefix's flood cannot starve the others. At the fd limit
// a reserve descriptor lets the loop accept and close what waits instead of
// spinning. After a flood, freed memory goes back to the system (malloc_trim).
// Memory: workspaces come from the loop's WorkspacePool (pages untouched by
// the engine take nothing); a connection without traffic for idle_trim saves
// the few workspace bytes its engine reads again and gives the pages back
// (wake() restores them before the next engine call). Output is framed in one
// buffer per loop and only an unsent rest stays with the connection; request
// handlers write into one response buffer per loop. UDP datagrams come in by
// recvmmsg and leave by sendmmsg, a batch per wake-up.
// Caps and counters are shared atomics. Stop: an eventfd (stop()) or a
// process-wide one (signals) wakes every loop, which closes its listeners,
// closes every connection with Reason::shutdown and drains until empty or the
// grace period ends.
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "net/loop.hpp"

namespace lockstep::net {

using namespace detail;

namespace {

void on_signal(int) {
    const int fd = g_signal_fd.load();
    const std::uint64_t one = 1;
    if (fd >= 0) (void)!::write(fd, &one, sizeof one);
}

void notify(int fd) noexcept {
    const std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
}

}  // namespace

struct Server::Impl : ServerState {
    using ServerState::ServerState;
};

// ---------------------------------------------------------------- Server
Server::Server(Config base, ServerOptions opts, RequestHandler handler, TracerFactory tracers)
    : impl_(std::make_unique<Impl>(base, std::move(opts), std::move(handler), std::move(tracers))) {}

Server::~Server() = default;

Status Server::bind() noexcept {
    Impl& s = *impl_;
    if (!s.loops.empty()) return {};
    if (s.opts.threads < 1 || (!s.opts.tcp && !s.opts.udp) || !s.handler || !s.stop_fd) return Err::invalid_argument;
    auto where = detail::resolve(s.opts.bind, 0, true);
    if (!where) return where.error();
    s.tcp_port = s.opts.tcp_port;
    s.udp_port = s.opts.udp_port;
    try {
        for (int i = 0; i < s.opts.threads; ++i) {
            auto loop = std::make_unique<Loop>(s);
            // The first loop may pick ephemeral ports; the others share them.
            auto st = loop->bind(*where, s.tcp_port, s.udp_port);
            if (!st) {
                s.loops.clear();
                return st;
            }
            s.loops.push_back(std::move(loop));
        }
    } catch (...) {
        s.loops.clear();
        return Err::internal;
    }
    return {};
}

Status Server::run() noexcept {
    LS_TRY(bind());
    std::vector<std::thread> threads;
    try {
        for (std::size_t i = 1; i < impl_->loops.size(); ++i)
            threads.emplace_back([loop = impl_->loops[i].get()] { loop->run(); });
    } catch (...) {
        stop();  // could not start every loop: stop those that did
    }
    impl_->loops[0]->run();
    for (auto& t : threads) t.join();
    return {};
}

void Server::stop() noexcept { notify(impl_->stop_fd.get()); }

void Server::install_signal_handlers() noexcept {
    if (g_signal_fd.load() < 0) g_signal_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)::sigaction(SIGINT, &sa, nullptr);
    (void)::sigaction(SIGTERM, &sa, nullptr);
}

std::uint16_t Server::tcp_port() const noexcept { return impl_->tcp_port; }
std::uint16_t Server::udp_port() const noexcept { return impl_->udp_port; }

Server::Counters Server::counters() const noexcept {
    const Impl& s = *impl_;
    Counters c{s.accepted.load(), s.established.load(), s.closed.load(), s.rejected.load(), s.evicted.load(),
               s.cookies.load(), s.requests.load(), s.rekeys.load(), s.errors.load(), s.revoked.load(),
               s.moved.load(), s.live.load(), s.half_open[index(Transport::tcp)].load(),
               s.half_open[index(Transport::udp)].load(), {}, {}, {}};
    s.tally.fill(c);
    return c;
}

}  // namespace lockstep::net
