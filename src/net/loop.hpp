// SPDX-License-Identifier: Apache-2.0
// The server's event loop (internal to lockstep_net): one Loop per thread, the
// connections it owns, and what the loops share. server.cpp explains how it
// works; loop.cpp holds the loop and the stream side, datagram.cpp the UDP side
// (strangers, cookies, roaming moves, batched output).
#pragma once

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/bytes.hpp"
#include "crypto/providers/openssl/openssl_provider.hpp"
#include "lockstep/net.hpp"
#include "net/budget.hpp"
#include "net/cookie.hpp"
#include "net/identity.hpp"
#include "net/io.hpp"
#include "net/metrics.hpp"
#include "net/roam.hpp"

namespace lockstep::wire {
struct Hello;
}

namespace lockstep::net::detail {

inline std::atomic<int> g_signal_fd{-1};  // process-wide stop eventfd, written by the signal handler

inline bool half_open_state(State s) noexcept { return s == State::start || s == State::wait_ack; }

// epoll user data: small fixed ids for the loop's own fds, connection ids above.
constexpr std::uint8_t kAmplificationLimit = 3;  // spec §8.6, as RFC 9000 §8.1
constexpr std::uint64_t kListenerId = 1, kUdpId = 2, kStopId = 3, kSignalId = 4, kFirstConnId = 16;
constexpr int kMaxEvents = 64;
constexpr std::size_t kDatagramMax = 65536;  // the read buffer: TCP reads, UDP batches
constexpr std::size_t kDatagramBatch = 8;     // recvmmsg slots, each one largest message + 1
constexpr std::size_t kOutboxDatagrams = 64, kOutboxBytes = 128 * 1024;
// SO_RCVBUF / SO_SNDBUF of a loop's UDP socket. The default (~208 KiB) holds
// only ~90 datagrams on loopback (each counts with its buffer overhead), so a
// burst of a few hundred HELLOs lost most of them, each to a 1 s resend.
constexpr std::size_t kUdpSocketBuffer = 4 * 1024 * 1024;
constexpr std::size_t kCertCacheEntries = 1024;  // client certificates per loop (32 KiB)
constexpr std::chrono::milliseconds kLogEvery{10'000};       // one line per kind of limit
constexpr std::chrono::milliseconds kAcceptPause{100};       // out of fds and no reserve left
constexpr std::size_t kTrimAbove = 256;                      // connections: a flood worth trimming after
// Work for UDP strangers is paid from a token bucket per source prefix and
// loop (PrefixBuckets, spec §11.13): a COOKIE (or checking one) costs 1 token,
// a new connection (the public-key work of a HELLO ACK) 8; a bucket holds 256
// and gains 1,600 a second. A HELLO its prefix cannot pay for is dropped
// unanswered (its client resends it), so a flood from one prefix costs the
// loop a bounded share and every other prefix is served as before. A
// connection whose handshake completes gets its 8 tokens back.
constexpr double kStrangerBurst = 256, kStrangerPerSecond = 1600, kCookieCost = 1, kConnectionCost = 8;
constexpr std::size_t kStrangerPrefixes = 4096;  // buckets kept per loop (then one shared overflow bucket)
// A prefix holding this share of cookie_threshold half-open UDP connections
// gets COOKIEs for its further HELLOs, whatever the other prefixes do.
constexpr std::size_t kPrefixCookieShare = 8;
constexpr int kDatagramsPerWake = 64;
constexpr int kAcceptsPerWake = 64;  // the rest wakes epoll_wait again (the listener is level-triggered)

inline std::size_t index(Transport t) noexcept { return t == Transport::tcp ? 0 : 1; }

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
    std::optional<std::int64_t> timer;     // key in Loop::timers_ (never later than deadline)
    std::optional<std::int64_t> deadline;  // when the engine (or the half-open budget) wants a call
    bool watching_out = false;          // EPOLLOUT in the epoll set (TCP output waiting)
    bool half_open = true;
    bool dead = false;    // transport gone: remove now
    bool failed = false;  // ended badly (Counters::errors)
};

// A TCP connection from accept until its first complete frame is in the
// socket: an fd and a budget entry, no engine, no workspace (accept.cpp).
struct Pending {
    Fd fd;
    std::string address;
    PrefixKey prefix{};
    Instant created;
    std::int64_t deadline = 0;  // key in Loop::timers_ (first_frame_timeout)
};

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
    Tally tally;  // by mode, reason and transport (net/metrics.hpp)

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
        // recvmmsg's headers point at buf_'s slots and in_from_ once for all;
        // each call only resets the address lengths the kernel overwrote.
        const std::size_t slot = buf_.size() / kDatagramBatch;
        for (std::size_t i = 0; i < kDatagramBatch; ++i) {
            in_iov_[i] = {buf_.data() + i * slot, slot};
            in_hdr_[i].msg_hdr.msg_name = &in_from_[i].ss;
            in_hdr_[i].msg_hdr.msg_iov = &in_iov_[i];
            in_hdr_[i].msg_hdr.msg_iovlen = 1;
        }
    }

    // Opens this loop's sockets on the given ports (0: ephemeral); returns the ports bound.
    Status bind(const Address& where, std::uint16_t& tcp_port, std::uint16_t& udp_port);

    void run();

private:
    Status open(const Address& where, Transport t, std::uint16_t& port, Fd& out, std::uint64_t id);

    void watch(int fd, std::uint64_t id, std::uint32_t events, int op = EPOLL_CTL_ADD);
    static constexpr std::uint32_t kConnEvents = EPOLLIN | EPOLLRDHUP;

    int wait_ms(Now now) const;

    void dispatch(const epoll_event& ev, Now now);

    // ------------------------------------------------------------ accepting
    // The connection `id` (its budget entry and admit()'s slots are taken).
    Conn& add(Transport t, std::uint64_t id, std::string address, const PrefixKey& prefix, Now now);

    // A slot for one more half-open connection of transport t from prefix p:
    // evicts the oldest half-open one of the lowest rank (of that prefix, or
    // of the transport) when a budget is full; refuses only when nothing can be evicted.
    bool admit(Transport t, const PrefixKey& p, Now now);

    void log(RateLimitedLog& which, const std::string& what, Now now);

    PrefixKey prefix(const Address& a) const noexcept;

    // Out of file descriptors: accept with the reserve fd and close at once,
    // so waiting clients learn it and the listener stops being readable;
    // without a reserve, stop watching the listener for a moment.
    // Returns whether to try accepting again.
    bool shed_at_fd_limit(Now now);

    void resume_accepting(Now now);

    // After a flood, give the freed heap back (RSS falls back near its level before).
    void trim_after_flood();

    // At most kAcceptsPerWake connections, each Pending until its first frame.
    void accept_all(Now now);

    // A Pending connection is readable: once its first frame is complete it
    // becomes a Conn (engine, workspace); EOF or an oversized frame closes it.
    void on_first_frame(std::unordered_map<std::uint64_t, Pending>::iterator it, std::uint32_t events, Now now);

    // Closes a Pending connection (evicted, timed out, gone, stopping).
    void drop_pending(std::unordered_map<std::uint64_t, Pending>::iterator it, bool failed = true);

    // Evicts half-open connection `id` (Pending or Conn) for a newer one.
    void evict(std::uint64_t id);

    // Batches of datagrams (recvmmsg) until a batch comes back short.
    void receive_datagrams(Now now);

    // A record behind a connection id finds its connection by the id, from
    // any address; anything else (or an id we do not know) by the address.
    // Only a record that opens moves a connection to a new address. spec §6.9
    void on_datagram(std::span<const std::uint8_t> msg, const Address& from, Now now);

    // A log line for a datagram dropped from a connection's address (none built without a log).
    void dropped(const Address& from, const char* why, Now now);

    // The client's address changed (a record from the new one opened): send there from now on.
    void move(Conn& c, const Address& to, const AddressKey& key);

    // Only a HELLO (bare or behind a cookie, spec §6.8) can open a UDP
    // connection; anything else from a stranger, or a HELLO that does not
    // decode, is dropped and leaves nothing behind.
    void from_stranger(std::span<const std::uint8_t> msg, const Address& from, const AddressKey& key, Now now);

    bool too_small_for_certificate(const wire::Hello& h, std::size_t received) const noexcept;

    // A COOKIE for `hello`, if prefix p can pay for it (PrefixBuckets).
    void send_cookie(const Address& to, const PrefixKey& p, std::span<const std::uint8_t> hello, std::uint32_t c0,
                     Now now);

    // ------------------------------------------------------------ per connection
    // Reads until a read leaves room in the buffer (level-triggered: anything
    // that arrives later wakes epoll_wait again).
    void read_stream(Conn& c, Now now);

    // Takes the engine's events and queues its output (after every engine call:
    // the engine's event and transmit queues are small).
    void pump(Conn& c, Now now);

    void on_event(Conn& c, const Event& ev, Now now);

    // Writes, keeps the half-open count, removes a finished connection or re-arms its timer.
    void settle(Conn& c);

    // ------------------------------------------------------------ idle memory
    // Before any call into a connection's engine: its workspace back in place.
    Conn& wake(Conn& c, Now now) noexcept;

    void trim(Conn& c) noexcept;

    // Trims the connections that had no traffic for idle_trim.
    void trim_idle(Now now);

    // ------------------------------------------------------------ UDP output
    // Every message the engine queued, into the loop's outbox (sent by flush_datagrams).
    void queue_datagrams(Conn& c);

    // Sends the outbox (sendmmsg). A datagram the socket refuses is lost, as on
    // the network; the engines' timers recover.
    void flush_datagrams() noexcept;

    // (Re)arms a connection's timer at `at` (ms).
    void arm(Conn& c, std::int64_t at);

    // Calls the engines whose deadline passed; a timer armed before its
    // connection's deadline moved later is only re-armed (no engine call).
    void fire_timers(Now now);

    Instant half_open_end(const Conn& c) const noexcept;

    void leave_half_open(Conn& c) noexcept;

    void remove(Conn& c);

    // ------------------------------------------------------------ revocation
    // Closes an established connection whose identity is no longer allowed.
    void recheck(Conn& c, Now now);

    void recheck_all(Now now);

    void begin_stop(Now now);

    ServerState& s_;
    crypto::openssl::OpenSslProvider provider_;
    FixedCertCache<kCertCacheEntries> cert_cache_;  // this loop's, like provider_
    Config cfg_tcp_, cfg_udp_;
    Fd ep_, listener_, udp_;
    Fd reserve_fd_;  // given up to accept-and-close at the fd limit
    std::optional<Instant> accept_paused_until_;
    std::vector<std::uint8_t> buf_;  // read buffer (UDP: kDatagramBatch slots)
    std::array<mmsghdr, kDatagramBatch> in_hdr_{};  // recvmmsg, over buf_'s slots
    std::array<iovec, kDatagramBatch> in_iov_{};
    std::array<Address, kDatagramBatch> in_from_{};
    HalfOpenBudget budget_;
    CookieJar cookies_{provider_};
    RateLimitedLog log_budget_{kLogEvery}, log_fds_{kLogEvery}, log_drops_{kLogEvery};
    std::size_t peak_ = 0;  // most connections since the last trim
    PrefixBuckets strangers_{kStrangerBurst, kStrangerPerSecond, kStrangerPrefixes};
    WorkspacePool pool_;             // before conns_: they give their workspaces back
    std::vector<std::uint8_t> tx_;   // TCP output, framed (Stream's shared buffer)
    std::vector<std::uint8_t> resp_;  // the handler's response body (max_data)
    std::vector<std::uint8_t> out_ = std::vector<std::uint8_t>(kOutboxBytes);  // UDP outbox
    std::array<iovec, kOutboxDatagrams> out_iov_{};
    std::array<Address, kOutboxDatagrams> out_to_{};
    std::array<mmsghdr, kOutboxDatagrams> out_hdr_{};  // sendmmsg, filled as datagrams are queued
    std::size_t out_used_ = 0, out_n_ = 0;
    std::deque<std::pair<std::int64_t, std::uint64_t>> idle_;  // (last wake-up ms, connection id), for idle_trim
    std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns_;
    std::unordered_map<std::uint64_t, Pending> pending_;  // TCP, before the first frame
    std::unordered_map<AddressKey, std::uint64_t, AddressKeyHash> udp_peers_;  // by Conn::peer
    CidTable cids_;  // UDP: connection ids -> connection (spec §6.9)
    std::set<std::pair<std::int64_t, std::uint64_t>> timers_;  // (deadline ms, connection id)
    std::uint64_t next_id_ = kFirstConnId;
    std::optional<Instant> next_recheck_;  // ServerOptions::revalidate_every
    bool stopping_ = false;
    Instant stop_deadline_{};
};

}  // namespace lockstep::net::detail
