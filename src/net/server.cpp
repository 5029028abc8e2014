// SPDX-License-Identifier: Apache-2.0
// lockstep server — how this works:
// `threads` Loops, each with its own epoll, SO_REUSEPORT listener / UDP socket,
// OpenSslProvider, certificate cache and Config copies (providers and caches are
// not thread-safe). A Loop owns its connections: one Engine + workspace each, TCP
// framing buffers or the UDP peer address, and one entry in a timer set ordered
// by deadline; epoll_wait sleeps until the earliest deadline. After every call
// into an engine the loop `pump`s it (events out, messages onto the wire) and
// `settle`s the connection (write, cap bookkeeping, remove when closed, re-arm
// the timer).
// Connection sockets are level-triggered: a read that did not fill the buffer
// has taken everything there was, so the loop goes back to epoll_wait instead
// of reading again for EAGAIN; writability (EPOLLOUT) is watched only while
// output is waiting in the Stream.
// Budgets (spec: PROTOCOL.md §11.13): half-open connections are entries of a
// HalfOpenBudget (budget.hpp) per loop, with a short lifetime of their own; a
// new one evicts the oldest instead of being refused. A UDP HELLO is answered
// with a stateless COOKIE (cookie.hpp, spec §6.8) when many handshakes are
// half-open, or when its HELLO ACK would break the amplification limit; only a
// HELLO that returns with a valid cookie then gets an engine. At the fd limit
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
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/bytes.hpp"
#include "crypto/providers/openssl/openssl_provider.hpp"
#include "net/budget.hpp"
#include "net/cookie.hpp"
#include "net/identity.hpp"
#include "net/io.hpp"
#include "net/metrics.hpp"
#include "net/roam.hpp"
#include "wire/wire.hpp"

namespace lockstep::net {

using namespace detail;

namespace {

std::atomic<int> g_signal_fd{-1};  // process-wide stop eventfd, written by the signal handler

void on_signal(int) {
    const int fd = g_signal_fd.load();
    const std::uint64_t one = 1;
    if (fd >= 0) (void)!::write(fd, &one, sizeof one);
}

void notify(int fd) noexcept {
    const std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
}

bool half_open_state(State s) noexcept { return s == State::start || s == State::wait_ack; }

// epoll user data: small fixed ids for the loop's own fds, connection ids above.
constexpr std::uint8_t kAmplificationLimit = 3;  // spec §8.6, as RFC 9000 §8.1
constexpr std::uint64_t kListenerId = 1, kUdpId = 2, kStopId = 3, kSignalId = 4, kFirstConnId = 16;
constexpr int kMaxEvents = 64;
constexpr std::size_t kDatagramMax = 65536;  // the read buffer: TCP reads, UDP batches
constexpr std::size_t kDatagramBatch = 8;     // recvmmsg slots, each one largest message + 1
constexpr std::size_t kOutboxDatagrams = 64, kOutboxBytes = 128 * 1024;
constexpr std::size_t kCertCacheEntries = 1024;  // client certificates per loop (32 KiB)
constexpr std::chrono::milliseconds kLogEvery{10'000};       // one line per kind of limit
constexpr std::chrono::milliseconds kAcceptPause{100};       // out of fds and no reserve left
constexpr std::size_t kTrimAbove = 256;                      // connections: a flood worth trimming after
// COOKIEs per loop per 100 ms: beyond, a HELLO is dropped unanswered (its client
// resends it), so a flood cannot make the loop spend its time on cookies.
constexpr int kCookiesPerWindow = 200;
constexpr int kDatagramsPerWake = 64;
constexpr std::chrono::milliseconds kCookieWindow{100};

std::size_t index(Transport t) noexcept { return t == Transport::tcp ? 0 : 1; }

// A connection's workspace, a slot of its loop's pool. trim(): the bytes the
// engine reads again are kept here and the pages go back; wake() restores them.
struct PooledWorkspace {
    explicit PooledWorkspace(WorkspacePool& p) : pool(p), mem(p.take()) {}
    ~PooledWorkspace() {
        drop_saved();
        pool.give(mem);
    }
    PooledWorkspace(const PooledWorkspace&) = delete;
    PooledWorkspace& operator=(const PooledWorkspace&) = delete;

    void trim(const Engine& e) {
        n = e.live_workspace(ranges);
        std::size_t total = 0;
        for (std::size_t i = 0; i < n; ++i) total += ranges[i].length;
        saved.resize(total);  // may throw: then nothing changed
        std::uint8_t* out = saved.data();
        for (std::size_t i = 0; i < n; ++i) {
            std::memcpy(out, mem.data() + ranges[i].offset, ranges[i].length);
            out += ranges[i].length;
        }
        pool.discard(mem);
        trimmed = true;
    }
    void wake() noexcept {
        if (!trimmed) return;
        const std::uint8_t* in = saved.data();
        for (std::size_t i = 0; i < n; ++i) {
            std::memcpy(mem.data() + ranges[i].offset, in, ranges[i].length);
            in += ranges[i].length;
        }
        drop_saved();
        trimmed = false;
    }
    void drop_saved() noexcept {
        secure_wipe(saved.data(), saved.size());
        std::vector<std::uint8_t>().swap(saved);
    }

    WorkspacePool& pool;
    std::span<std::uint8_t> mem;
    std::vector<std::uint8_t> saved;  // trimmed: the live ranges, in order
    std::array<Engine::WorkspaceRange, Engine::kLiveRanges> ranges{};
    std::size_t n = 0;
    bool trimmed = false;
};

struct Conn {
    Conn(const Config& cfg, Transport tr, std::uint64_t id_, std::string addr, Instant now, bool recheck,
         WorkspacePool& pool, std::vector<std::uint8_t>& tx)
        : id(id_), t(tr), address(std::move(addr)), created(now), active(now), ws(pool),
          who(recheck ? std::make_unique<IdentityRecorder>(cfg) : nullptr), engine(who ? who->wrap(cfg) : cfg, ws.mem),
          stream(Engine::max_message_size(cfg.max_data), &tx) {}
    std::uint64_t id;
    Transport t;
    std::string address;
    PrefixKey prefix{};
    Instant created;
    Instant active;            // last wake-up (idle_trim counts from here)
    bool idle_queued = false;  // in Loop::idle_
    PooledWorkspace ws;        // before engine: the engine borrows it
    std::unique_ptr<IdentityRecorder> who;  // before engine, which borrows it (ServerOptions::still_allowed)
    Engine engine;
    std::unique_ptr<Tracer> tracer;
    Fd fd;         // TCP
    Address peer;  // UDP: where its datagrams go (moves with the client, spec §6.9)
    CidTable::Ids cids;  // UDP: its connection ids in Loop::cids_
    Stream stream;  // TCP
    std::optional<std::int64_t> timer;  // key in Loop::timers_
    bool watching_out = false;          // EPOLLOUT in the epoll set (TCP output waiting)
    bool half_open = true;
    bool dead = false;    // transport gone: remove now
    bool failed = false;  // ended badly (Counters::errors)
};

}  // namespace

namespace detail {
class Loop;

// What the loops share: options, caps, counters, the stop eventfd.
struct ServerState {
    ServerState(Config b, ServerOptions o, RequestHandler h, TracerFactory t)
        : base(b), opts(std::move(o)), handler(std::move(h)), tracers(std::move(t)) {}
    Config base;
    ServerOptions opts;
    RequestHandler handler;
    TracerFactory tracers;
    Fd stop_fd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    std::vector<std::unique_ptr<Loop>> loops;
    std::uint16_t tcp_port = 0, udp_port = 0;
    std::atomic<std::uint64_t> accepted{0}, established{0}, closed{0}, rejected{0}, evicted{0}, cookies{0},
        requests{0}, rekeys{0}, errors{0}, revoked{0}, moved{0};
    std::atomic<std::size_t> live{0};
    std::atomic<std::size_t> half_open[2] = {0, 0};  // per transport (index())
    Tally tally;  // by mode and reason (net/metrics.hpp)

    // Takes one slot of a cap; false if it is full.
    static bool reserve(std::atomic<std::size_t>& n, std::size_t cap) noexcept {
        if (n.fetch_add(1) < cap) return true;
        n.fetch_sub(1);
        return false;
    }
};

class Loop {
public:
    explicit Loop(ServerState& s)
        : s_(s), cfg_tcp_(s.base), cfg_udp_(with_transport_defaults(s.base, Transport::udp)),
          buf_(std::max(kDatagramMax, kDatagramBatch * (Engine::max_message_size(s.base.max_data) + 1))),
          budget_(s.opts.max_handshakes_per_prefix), pool_(Engine::workspace_size(s.base.max_data)),
          resp_(s.base.max_data) {
        cfg_tcp_.role = cfg_udp_.role = Role::server;
        cfg_udp_.amplification_limit = kAmplificationLimit;  // spec §8.6: UDP addresses are unproved
        cfg_tcp_.provider = cfg_udp_.provider = &provider_;
        cfg_tcp_.cert_cache = cfg_udp_.cert_cache = &cert_cache_;
    }

    // Opens this loop's sockets on the given ports (0: ephemeral); returns the ports bound.
    Status bind(const Address& where, std::uint16_t& tcp_port, std::uint16_t& udp_port) {
        ep_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
        if (!ep_) return Err::internal;
        if (s_.opts.tcp) LS_TRY(open(where, Transport::tcp, tcp_port, listener_, kListenerId));
        if (s_.opts.udp) LS_TRY(open(where, Transport::udp, udp_port, udp_, kUdpId));
        if (s_.opts.tcp) reserve_fd_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        return {};
    }

    void run() {
        watch(s_.stop_fd.get(), kStopId, EPOLLIN);
        if (s_.opts.still_allowed && s_.opts.revalidate_every.count() > 0)
            next_recheck_ = clock_now().mono + s_.opts.revalidate_every;
        if (g_signal_fd.load() >= 0) watch(g_signal_fd.load(), kSignalId, EPOLLIN);
        epoll_event evs[kMaxEvents];
        for (;;) {
            Now now = clock_now();
            if (stopping_ && (conns_.empty() || now.mono >= stop_deadline_)) break;
            const int n = ::epoll_wait(ep_.get(), evs, kMaxEvents, wait_ms(now));
            if (n < 0 && errno != EINTR) break;
            now = clock_now();
            for (int i = 0; i < n; ++i) dispatch(evs[i], now);
            fire_timers(now);
            if (next_recheck_ && now.mono >= *next_recheck_) recheck_all(now);
            resume_accepting(now);
            trim_after_flood();
            trim_idle(now);
            flush_datagrams();
        }
        for (auto& [id, c] : conns_) c->failed = true;  // still open after the grace period
        while (!conns_.empty()) remove(*conns_.begin()->second);
        flush_datagrams();
    }

private:
    Status open(const Address& where, Transport t, std::uint16_t& port, Fd& out, std::uint64_t id) {
        auto fd = open_socket(where.ss.ss_family, t);
        if (!fd) return fd.error();
        int one = 1;
        (void)::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return Err::internal;
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

    void watch(int fd, std::uint64_t id, std::uint32_t events, int op = EPOLL_CTL_ADD) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = id;
        (void)::epoll_ctl(ep_.get(), op, fd, &ev);
    }
    static constexpr std::uint32_t kConnEvents = EPOLLIN | EPOLLRDHUP;

    int wait_ms(Now now) const {
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

    void dispatch(const epoll_event& ev, Now now) {
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
        if (it == conns_.end()) return;
        Conn& c = wake(*it->second, now);
        if (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) read_stream(c, now);
        settle(c);
    }

    // ------------------------------------------------------------ accepting
    Conn& add(Transport t, std::string address, const PrefixKey& prefix, Now now) {
        const std::uint64_t id = next_id_++;
        auto c = std::make_unique<Conn>(t == Transport::tcp ? cfg_tcp_ : cfg_udp_, t, id, std::move(address),
                                        now.mono, static_cast<bool>(s_.opts.still_allowed), pool_, tx_);
        c->prefix = prefix;
        budget_.add(id, t, prefix);  // admit() reserved its slot
        if (s_.tracers) c->tracer = s_.tracers(c->address);
        c->engine.set_tracer(c->tracer.get());
        (void)c->engine.start(now);
        ++s_.accepted;
        return *conns_.emplace(id, std::move(c)).first->second;
    }

    // A slot for one more half-open connection of transport t from prefix p:
    // evicts the oldest half-open one (of that prefix, or of the transport)
    // when a budget is full; refuses only when nothing can be evicted.
    bool admit(Transport t, const PrefixKey& p, Now now) {
        auto& half_open = s_.half_open[index(t)];
        const bool full = half_open.load() >= s_.opts.max_handshakes || s_.live.load() >= s_.opts.max_connections;
        if (auto victim = budget_.victim(t, p, full)) {
            Conn& v = *conns_.at(*victim);
            v.failed = v.dead = true;
            ++s_.evicted;
            remove(v);
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

    void log(RateLimitedLog& which, const std::string& what, Now now) {
        if (!s_.opts.log) return;
        if (auto line = which.note(what, now.mono)) s_.opts.log(*line);
    }

    PrefixKey prefix(const Address& a) const noexcept {
        return prefix_of(a, s_.opts.prefix_v4_bits, s_.opts.prefix_v6_bits);
    }

    // Out of file descriptors: accept with the reserve fd and close at once,
    // so waiting clients learn it and the listener stops being readable;
    // without a reserve, stop watching the listener for a moment.
    // Returns whether to try accepting again.
    bool shed_at_fd_limit(Now now) {
        ++s_.rejected;
        log(log_fds_, "out of file descriptors: closing new TCP connections", now);
        if (reserve_fd_) {
            reserve_fd_.reset();
            Fd shed(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            shed.reset();
            reserve_fd_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
            if (shed && reserve_fd_) return true;
        }
        (void)::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
        accept_paused_until_ = now.mono + kAcceptPause;
        return false;
    }

    void resume_accepting(Now now) {
        if (!accept_paused_until_ || now.mono < *accept_paused_until_) return;
        accept_paused_until_.reset();
        if (!reserve_fd_) reserve_fd_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (listener_) watch(listener_.get(), kListenerId, EPOLLIN);
    }

    // After a flood, give the freed heap back (RSS falls back near its level before).
    void trim_after_flood() {
        peak_ = std::max(peak_, conns_.size());
        if (peak_ < kTrimAbove || conns_.size() > peak_ / 4) return;
        conns_.rehash(0);
        udp_peers_.rehash(0);
        cids_.shrink();
        (void)::malloc_trim(0);
        peak_ = conns_.size();
    }

    void accept_all(Now now) {
        for (;;) {
            Address peer;
            peer.len = sizeof peer.ss;
            Fd fd(::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer.ss), &peer.len,
                            SOCK_NONBLOCK | SOCK_CLOEXEC));
            if (!fd) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if ((errno == EMFILE || errno == ENFILE) && shed_at_fd_limit(now)) continue;
                return;  // EAGAIN (or paused): the next wake-up
            }
            const PrefixKey p = prefix(peer);
            if (stopping_ || !admit(Transport::tcp, p, now)) continue;  // fd closes here: refused
            set_nodelay(fd.get());
            Conn& c = add(Transport::tcp, peer.str(), p, now);
            c.fd = std::move(fd);
            watch(c.fd.get(), c.id, kConnEvents);
            settle(c);
        }
    }

    // Batches of datagrams (recvmmsg) until a batch comes back short.
    void receive_datagrams(Now now) {
        // At most kDatagramsPerWake per wake-up: a flood must not starve TCP
        // and the timers (level-triggered: the rest wakes epoll_wait again).
        const std::size_t slot = buf_.size() / kDatagramBatch;
        for (int taken = 0; taken < kDatagramsPerWake;) {
            std::array<mmsghdr, kDatagramBatch> hdr{};
            std::array<iovec, kDatagramBatch> iov{};
            std::array<Address, kDatagramBatch> src{};
            for (std::size_t i = 0; i < kDatagramBatch; ++i) {
                iov[i] = {buf_.data() + i * slot, slot};
                hdr[i].msg_hdr.msg_name = &src[i].ss;
                hdr[i].msg_hdr.msg_namelen = sizeof src[i].ss;
                hdr[i].msg_hdr.msg_iov = &iov[i];
                hdr[i].msg_hdr.msg_iovlen = 1;
            }
            const int got = ::recvmmsg(udp_.get(), hdr.data(), kDatagramBatch, MSG_DONTWAIT, nullptr);
            if (got < 0 && errno == EINTR) continue;
            for (int i = 0; i < got; ++i) {
                src[i].len = hdr[i].msg_hdr.msg_namelen;
                on_datagram({buf_.data() + i * slot, hdr[i].msg_len}, src[i], now);
            }
            if (got < static_cast<int>(kDatagramBatch)) return;
            taken += got;
        }
    }

    // A record behind a connection id finds its connection by the id, from
    // any address; anything else (or an id we do not know) by the address.
    // Only a record that opens moves a connection to a new address. spec §6.9
    void on_datagram(std::span<const std::uint8_t> msg, const Address& from, Now now) {
        std::string key = from.str();
        Conn* found = nullptr;
        if (!msg.empty() && msg[0] == static_cast<std::uint8_t>(wire::Frame::cid_record)) {
            auto r = wire::decode_cid_record(msg);
            if (!r) return log(log_drops_, "udp " + key + ": dropped a datagram (" + err_name(r.error()) + ")", now);
            msg = r->record;
            if (auto id = cids_.find(r->cid)) found = conns_.at(*id).get();
        }
        if (found == nullptr)
            if (auto it = udp_peers_.find(key); it != udp_peers_.end()) found = conns_.at(it->second).get();
        if (found == nullptr) {
            if (!stopping_) from_stranger(msg, from, std::move(key), now);
            return;
        }
        Conn& c = wake(*found, now);
        const std::uint64_t dropped = c.engine.stats().dropped;
        bool moved = false;
        if (key == c.address) (void)c.engine.receive(msg, now);
        else (void)c.engine.receive_moved(msg, now, moved);
        if (c.engine.stats().dropped != dropped)  // unauthenticated: no effect, but say why (spec §8.6)
            log(log_drops_, "udp " + key + ": dropped a datagram (" + err_name(c.engine.last_drop()) + ")", now);
        if (moved) move(c, from, std::move(key));
        pump(c, now);
        settle(c);
    }

    // The client's address changed (a record from the new one opened): send there from now on.
    void move(Conn& c, const Address& to, std::string key) {
        if (auto it = udp_peers_.find(c.address); it != udp_peers_.end() && it->second == c.id) udp_peers_.erase(it);
        c.address = std::move(key);
        c.peer = to;
        udp_peers_[c.address] = c.id;  // the address's newest connection takes its bare datagrams
        ++s_.moved;
    }

    // Only a HELLO (bare or behind a cookie, spec §6.8) can open a UDP
    // connection; anything else from a stranger, or a HELLO that does not
    // decode, is dropped and leaves nothing behind.
    void from_stranger(std::span<const std::uint8_t> msg, const Address& from, std::string key, Now now) {
        auto dropped = [&](const char* why) {
            log(log_drops_, "udp " + from.str() + ": dropped a datagram from an unknown address (" + why + ")", now);
        };
        if (msg.empty()) return dropped("empty");
        std::span<const std::uint8_t> hello = msg;
        bool proved = false;
        if (msg[0] == static_cast<std::uint8_t>(wire::Frame::cookie_hello)) {
            auto env = wire::decode_cookie_hello(msg);
            if (!env) return dropped(err_name(env.error()));
            hello = env->hello;
            proved = !env->cookie.empty() && cookies_.verify(from, hello, env->cookie, now.mono);
        } else if (msg[0] != static_cast<std::uint8_t>(wire::Frame::hello)) {
            return dropped("not a HELLO");
        }
        auto h = wire::decode_hello(hello);
        if (!h) return dropped(err_name(h.error()));
        const bool busy = s_.half_open[index(Transport::udp)].load() >= s_.opts.cookie_threshold;
        if (!proved && (busy || s_.opts.cookie_threshold == 0)) return send_cookie(from, hello, h->seq, now);
        const PrefixKey p = prefix(from);
        if (!admit(Transport::udp, p, now)) return;
        Conn& c = add(Transport::udp, key, p, now);
        c.peer = from;
        udp_peers_.emplace(std::move(key), c.id);
        if (proved) c.engine.set_address_validated();
        (void)c.engine.receive(msg, now);
        if (!proved && c.engine.stats().amplification_held > 0 && c.engine.state() == State::wait_ack) {
            // Its HELLO ACK would send more than 3x what this address sent:
            // ask it to prove the address first, and keep nothing.
            send_cookie(from, hello, h->seq, now);
            c.dead = true;
            return settle(c);
        }
        pump(c, now);
        settle(c);
    }

    void send_cookie(const Address& to, std::span<const std::uint8_t> hello, std::uint32_t c0, Now now) {
        if (now.mono >= cookie_window_ + kCookieWindow) {
            cookie_window_ = now.mono;
            cookies_in_window_ = 0;
        }
        if (cookies_in_window_ >= kCookiesPerWindow) return;
        ++cookies_in_window_;
        auto cookie = cookies_.make(to, hello, now.mono);
        if (!cookie) return;
        std::uint8_t out[1 + 4 + 1 + CookieJar::kLen];
        Writer w(out);
        wire::encode_cookie({c0, *cookie}, w);
        if (!w.ok()) return;
        (void)::sendto(udp_.get(), out, w.size(), MSG_DONTWAIT, to.sa(), to.len);
        ++s_.cookies;
    }

    // ------------------------------------------------------------ per connection
    // Reads until a read leaves room in the buffer (level-triggered: anything
    // that arrives later wakes epoll_wait again).
    void read_stream(Conn& c, Now now) {
        for (;;) {
            const ssize_t n = ::read(c.fd.get(), buf_.data(), buf_.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            if (n <= 0) {  // EOF or reset
                c.dead = true;
                c.failed = c.failed || !c.engine.is_closed();
                return;
            }
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
    void pump(Conn& c, Now now) {
        Event ev;
        while (c.engine.poll_event(ev)) on_event(c, ev, now);
        if (c.t == Transport::udp) {
            queue_datagrams(c);
        } else if (!c.stream.queue_from(c.engine)) {
            c.failed = c.dead = true;
        }
    }

    void on_event(Conn& c, const Event& ev, Now now) {
        s_.tally.on_event(ev, c.engine.mode());
        switch (ev.kind) {
            case EventKind::handshake_done: ++s_.established; break;
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
    void settle(Conn& c) {
        if (c.t == Transport::tcp && !c.dead && !c.stream.write(c.fd.get())) c.failed = c.dead = true;
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
        const std::optional<std::int64_t> timer = d ? std::optional(d->since_origin.count()) : std::nullopt;
        if (timer != c.timer) {  // most exchanges leave the deadline where it was
            if (c.timer) timers_.erase({*c.timer, c.id});
            c.timer = timer;
            if (c.timer) timers_.emplace(*c.timer, c.id);
        }
        if (s_.opts.idle_trim.count() == 0) return trim(c);
        if (!c.idle_queued && !c.ws.trimmed) {
            idle_.emplace_back(c.active.since_origin.count(), c.id);
            c.idle_queued = true;
        }
    }

    // ------------------------------------------------------------ idle memory
    // Before any call into a connection's engine: its workspace back in place.
    Conn& wake(Conn& c, Now now) noexcept {
        c.ws.wake();
        c.active = now.mono;
        return c;
    }

    void trim(Conn& c) noexcept {
        try {
            c.ws.trim(c.engine);
        } catch (...) {  // no memory for the saved bytes: stay as it is
        }
    }

    // Trims the connections that had no traffic for idle_trim.
    void trim_idle(Now now) {
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

    // ------------------------------------------------------------ UDP output
    // Every message the engine queued, into the loop's outbox (sent by flush_datagrams).
    void queue_datagrams(Conn& c) {
        const std::size_t max = Engine::max_message_size(cfg_udp_.max_data);
        for (;;) {
            if (out_used_ + max > out_.size() || out_n_ == kOutboxDatagrams) flush_datagrams();
            auto n = c.engine.poll_transmit({out_.data() + out_used_, max});
            if (!n || *n == 0) return;
            out_iov_[out_n_] = {out_.data() + out_used_, *n};
            out_to_[out_n_] = c.peer;
            out_used_ += *n;
            ++out_n_;
        }
    }

    // Sends the outbox (sendmmsg). A datagram the socket refuses is lost, as on
    // the network; the engines' timers recover.
    void flush_datagrams() noexcept {
        std::array<mmsghdr, kOutboxDatagrams> hdr{};
        for (std::size_t i = 0; i < out_n_; ++i) {
            hdr[i].msg_hdr.msg_name = const_cast<sockaddr*>(out_to_[i].sa());
            hdr[i].msg_hdr.msg_namelen = out_to_[i].len;
            hdr[i].msg_hdr.msg_iov = &out_iov_[i];
            hdr[i].msg_hdr.msg_iovlen = 1;
        }
        std::size_t i = 0;
        while (i < out_n_) {
            const int n = ::sendmmsg(udp_.get(), hdr.data() + i, static_cast<unsigned>(out_n_ - i), MSG_NOSIGNAL);
            if (n > 0) i += static_cast<std::size_t>(n);
            else if (n < 0 && errno == EINTR) continue;
            else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            else ++i;  // this one failed (ICMP error, ...): lost
        }
        out_used_ = out_n_ = 0;
    }

    void fire_timers(Now now) {
        while (!timers_.empty() && timers_.begin()->first <= now.mono.since_origin.count()) {
            Conn& c = wake(*conns_.at(timers_.begin()->second), now);
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

    Instant half_open_end(const Conn& c) const noexcept {
        const bool first_frame = c.t == Transport::tcp && c.engine.state() == State::start;
        return c.created + (first_frame ? s_.opts.first_frame_timeout : s_.opts.handshake_timeout);
    }

    void leave_half_open(Conn& c) noexcept {
        c.half_open = false;
        --s_.half_open[index(c.t)];
        budget_.remove(c.id);
    }

    void remove(Conn& c) {
        if (c.timer) timers_.erase({*c.timer, c.id});
        if (c.half_open) leave_half_open(c);
        --s_.live;
        ++s_.closed;
        if (c.failed) ++s_.errors;
        if (c.t == Transport::udp) {
            if (auto it = udp_peers_.find(c.address); it != udp_peers_.end() && it->second == c.id) udp_peers_.erase(it);
            cids_.forget(c.id, c.cids);
        }
        conns_.erase(c.id);  // closes a TCP socket (and so leaves the epoll set)
    }

    // ------------------------------------------------------------ revocation
    // Closes an established connection whose identity is no longer allowed.
    void recheck(Conn& c, Now now) {
        if (!c.who || !c.engine.established() || s_.opts.still_allowed(c.who->identity())) return;
        ++s_.revoked;
        (void)c.engine.close(now, Reason::revoked);
    }

    void recheck_all(Now now) {
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

    void begin_stop(Now now) {
        if (stopping_) return;
        stopping_ = true;
        stop_deadline_ = now.mono + s_.opts.shutdown_grace;
        (void)::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, s_.stop_fd.get(), nullptr);
        if (g_signal_fd.load() >= 0) (void)::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, g_signal_fd.load(), nullptr);
        listener_.reset();
        std::vector<std::uint64_t> ids;
        for (auto& [id, c] : conns_) ids.push_back(id);
        for (std::uint64_t id : ids) {
            Conn& c = wake(*conns_.at(id), now);
            (void)c.engine.close(now, Reason::shutdown);
            pump(c, now);
            settle(c);
        }
    }

    ServerState& s_;
    crypto::openssl::OpenSslProvider provider_;
    FixedCertCache<kCertCacheEntries> cert_cache_;  // this loop's, like provider_
    Config cfg_tcp_, cfg_udp_;
    Fd ep_, listener_, udp_;
    Fd reserve_fd_;  // given up to accept-and-close at the fd limit
    std::optional<Instant> accept_paused_until_;
    std::vector<std::uint8_t> buf_;  // read buffer (UDP: kDatagramBatch slots)
    HalfOpenBudget budget_;
    CookieJar cookies_{provider_};
    RateLimitedLog log_budget_{kLogEvery}, log_fds_{kLogEvery}, log_drops_{kLogEvery};
    std::size_t peak_ = 0;  // most connections since the last trim
    Instant cookie_window_{};
    int cookies_in_window_ = 0;
    WorkspacePool pool_;             // before conns_: they give their workspaces back
    std::vector<std::uint8_t> tx_;   // TCP output, framed (Stream's shared buffer)
    std::vector<std::uint8_t> resp_;  // the handler's response body (max_data)
    std::vector<std::uint8_t> out_ = std::vector<std::uint8_t>(kOutboxBytes);  // UDP outbox
    std::array<iovec, kOutboxDatagrams> out_iov_{};
    std::array<Address, kOutboxDatagrams> out_to_{};
    std::size_t out_used_ = 0, out_n_ = 0;
    std::deque<std::pair<std::int64_t, std::uint64_t>> idle_;  // (last wake-up ms, connection id), for idle_trim
    std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns_;
    std::unordered_map<std::string, std::uint64_t> udp_peers_;
    CidTable cids_;  // UDP: connection ids -> connection (spec §6.9)
    std::set<std::pair<std::int64_t, std::uint64_t>> timers_;  // (deadline ms, connection id)
    std::uint64_t next_id_ = kFirstConnId;
    std::optional<Instant> next_recheck_;  // ServerOptions::revalidate_every
    bool stopping_ = false;
    Instant stop_deadline_{};
};
}  // namespace detail

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
