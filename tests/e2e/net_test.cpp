// SPDX-License-Identifier: Apache-2.0
// The transports over real sockets on 127.0.0.1 (ephemeral ports): TCP and UDP
// in every mode with re-keys, 200 concurrent clients, UDP through a lossy
// proxy, graceful shutdown, connection caps, and bad TCP streams.
// Waits are on conditions with bounded timeouts, never on fixed sleeps.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <csignal>
#include <deque>
#include <random>
#include <thread>

#include "../support/net_support.hpp"
#include "../support/sim.hpp"
#include "lockstep/net.hpp"

namespace lockstep::net {
namespace {

using namespace std::chrono_literals;
using Buf = std::vector<std::uint8_t>;
using Clock = std::chrono::steady_clock;

const Mode kModes[] = {Mode::cert, Mode::psk, Mode::cert_psk, Mode::psk_only};

using test::client_config;
using test::server_config;
using test::wait_until;

Buf echo(std::span<const std::uint8_t> req, const PeerInfo&) {
    Buf r(3 + req.size());
    r[0] = 'r';
    r[1] = 'e';
    r[2] = ':';
    std::copy(req.begin(), req.end(), r.begin() + 3);
    return r;
}

// The server's handler: echo written into the loop's response buffer.
std::size_t echo_into(std::span<const std::uint8_t> req, const PeerInfo& peer, std::span<std::uint8_t> resp) {
    const Buf r = echo(req, peer);
    if (r.size() > resp.size()) return r.size();
    std::copy(r.begin(), r.end(), resp.begin());
    return r.size();
}

Buf body_of(int i) {
    const std::string s = "reading " + std::to_string(i);
    return Buf(s.begin(), s.end());
}


// A Server running on its own thread; stopped and joined on destruction.
struct Running {
    Running(ServerOptions o, Config base = server_config(), TracerFactory tracers = nullptr)
        : server(base, o, echo_into, std::move(tracers)) {
        bound = server.bind().has_value();
        thread = std::thread([this] {
            const auto t0 = Clock::now();
            status = server.run();
            run_time = Clock::now() - t0;
            done = true;
        });
    }
    ~Running() {
        server.stop();
        thread.join();
    }
    std::uint16_t port(Transport t) const { return t == Transport::tcp ? server.tcp_port() : server.udp_port(); }

    Server server;
    bool bound = false;
    std::thread thread;
    std::atomic<bool> done{false};
    Status status;
    Clock::duration run_time{};
};

ServerOptions options(Transport t, int threads = 1) {
    ServerOptions o;
    o.tcp = t == Transport::tcp;
    o.udp = t == Transport::udp;
    o.threads = threads;
    return o;
}

const char* name(Transport t) { return t == Transport::tcp ? "tcp" : "udp"; }

// ---------------------------------------------------------------- every mode
class EveryMode : public ::testing::TestWithParam<std::tuple<Transport, Mode>> {};

void twenty_five_requests_two_rekeys(Transport t, Mode m, ServerOptions o) {
    Running srv(o);
    ASSERT_TRUE(srv.bound);
    crypto::openssl::OpenSslProvider p;
    Client c(client_config(m, p), t);
    ASSERT_TRUE(c.connect("127.0.0.1", srv.port(t), 5s));
    EXPECT_EQ(c.engine().mode(), m);
    for (int i = 0; i < 25; ++i) {
        auto r = c.request(body_of(i), 5s);
        ASSERT_TRUE(r) << "request " << i << ": " << err_name(r.error());
        EXPECT_EQ(*r, echo(body_of(i), {}));
    }
    EXPECT_EQ(c.engine().stats().rekeys, 2u);
    EXPECT_EQ(c.engine().epoch(), 3u);
    EXPECT_TRUE(c.close(5s));
    ASSERT_TRUE(c.closed_event());
    EXPECT_TRUE(c.closed_event()->acknowledged);
    ASSERT_TRUE(wait_until([&] { return srv.server.counters().closed == 1; }));
    const auto n = srv.server.counters();
    EXPECT_EQ(n.accepted, 1u);
    EXPECT_EQ(n.established, 1u);
    EXPECT_EQ(n.requests, 25u);
    EXPECT_EQ(n.rekeys, 2u);
    EXPECT_EQ(n.errors, 0u);
}

TEST_P(EveryMode, TwentyFiveRequestsTwoRekeysCleanClose) {
    const auto [t, m] = GetParam();
    twenty_five_requests_two_rekeys(t, m, options(t));
}

// idle_trim 0: after every wake-up the server keeps only the workspace ranges
// the engine names (Engine::live_workspace) and drops the rest of its pages;
// handshakes, exchanges, re-keys and the close still work.
TEST_P(EveryMode, SameWithTheWorkspaceTrimmedAfterEveryWakeUp) {
    const auto [t, m] = GetParam();
    ServerOptions o = options(t);
    o.idle_trim = 0ms;
    twenty_five_requests_two_rekeys(t, m, o);
}

INSTANTIATE_TEST_SUITE_P(Net, EveryMode,
                         ::testing::Combine(::testing::Values(Transport::tcp, Transport::udp),
                                            ::testing::ValuesIn(kModes)),
                         [](const auto& pi) {
                             std::string s = std::string(name(std::get<0>(pi.param))) + "_" +
                                             mode_name(std::get<1>(pi.param));
                             for (char& ch : s)
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return s;
                         });

// ---------------------------------------------------------------- AsyncClients
// A client that sends a request after the handshake and after each response
// until it has `target` responses, then closes if close_after.
struct Peer {
    std::unique_ptr<AsyncClient> c;
    int responses = 0, target = 0;
    bool close_after = true;
    std::optional<Event> closed;
};

// Drives every peer from one poll() loop until done() or the timeout.
template <class F>
bool drive(std::vector<Peer>& peers, F&& done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
        if (Clock::now() > deadline) return false;
        std::vector<pollfd> fds;
        for (auto& pe : peers) {
            const short want = pe.closed ? 0 : static_cast<short>(POLLIN | (pe.c->want_write() ? POLLOUT : 0));
            fds.push_back({pe.c->fd(), want, 0});
        }
        ::poll(fds.data(), fds.size(), 10);
        for (std::size_t i = 0; i < peers.size(); ++i) {
            Peer& pe = peers[i];
            if (pe.closed) continue;
            if (fds[i].revents & POLLOUT) (void)pe.c->flush();
            if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) (void)pe.c->on_readable();
            if (auto d = pe.c->next_deadline(); d && clock_now().mono >= *d) (void)pe.c->on_timer();
            Event ev;
            while (pe.c->poll_event(ev)) {
                const Now now = clock_now();
                if (ev.kind == EventKind::response) ++pe.responses;
                if (ev.kind == EventKind::closed) pe.closed = ev;
                if (ev.kind != EventKind::handshake_done && ev.kind != EventKind::response) continue;
                if (pe.responses < pe.target) (void)pe.c->engine().send_request(body_of(pe.responses), now);
                else if (pe.close_after) (void)pe.c->engine().close(now);
            }
            if (!pe.closed) (void)pe.c->flush();
        }
    }
    return true;
}

std::vector<Peer> start_peers(int n, Transport t, std::uint16_t port, crypto::Provider& p, int target,
                              bool close_after) {
    std::vector<Peer> peers(static_cast<std::size_t>(n));
    for (auto& pe : peers) {
        pe.c = std::make_unique<AsyncClient>(client_config(Mode::cert, p), t);
        pe.target = target;
        pe.close_after = close_after;
        EXPECT_TRUE(pe.c->start("127.0.0.1", port));
    }
    return peers;
}

// ---------------------------------------------------------------- concurrency
class Concurrent : public ::testing::TestWithParam<Transport> {};

// 200 AsyncClients in one poll() loop: handshake, 3 requests, close.
TEST_P(Concurrent, TwoHundredClientsThreeRequestsEach) {
    const Transport t = GetParam();
    constexpr int kClients = 200, kRequests = 3;
    Running srv(options(t, 2));
    ASSERT_TRUE(srv.bound);
    crypto::openssl::OpenSslProvider p;  // every client runs on this thread
    auto peers = start_peers(kClients, t, srv.port(t), p, kRequests, true);
    const auto all_closed = [&] {
        for (const auto& pe : peers)
            if (!pe.closed) return false;
        return true;
    };
    EXPECT_TRUE(drive(peers, all_closed, 20s));
    int errors = 0;
    for (const auto& pe : peers)
        if (!pe.closed || !pe.closed->acknowledged || pe.closed->error != Err::ok || pe.responses != kRequests)
            ++errors;
    EXPECT_EQ(errors, 0);
    ASSERT_TRUE(wait_until([&] { return srv.server.counters().closed == kClients; }));
    const auto n = srv.server.counters();
    EXPECT_EQ(n.accepted, std::uint64_t{kClients});
    EXPECT_EQ(n.established, std::uint64_t{kClients});
    EXPECT_EQ(n.requests, std::uint64_t{kClients * kRequests});
    EXPECT_EQ(n.rejected, 0u);
    EXPECT_EQ(n.errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(Net, Concurrent, ::testing::Values(Transport::tcp, Transport::udp),
                         [](const auto& pi) { return std::string(name(pi.param)); });

// ---------------------------------------------------------------- lossy UDP
// A UDP relay between one client and the server that drops, duplicates and
// reorders (holds back until the next datagram) 10% of datagrams each way.
class LossyProxy : public test::UdpRelay {
public:
    explicit LossyProxy(std::uint16_t server_port) : UdpRelay(server_port), rng_(7) { start(); }
    ~LossyProxy() override { stop(); }
    std::atomic<int> dropped{0}, duplicated{0}, reordered{0}, forwarded{0};

private:
    struct Held {
        Buf bytes;
        Clock::time_point until;
    };
    void send(bool server, const Buf& b) {
        if (server) to_server(b);
        else to_client(b);
        ++forwarded;
    }
    void relay(bool server, Buf b) {
        auto& held = held_[server];
        const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
        if (r < 0.1) {
            ++dropped;
        } else if (r < 0.2) {
            ++duplicated;
            send(server, b);
            send(server, b);
        } else if (r < 0.3 && !held) {
            ++reordered;
            held = Held{std::move(b), Clock::now() + 30ms};
            return;
        } else {
            send(server, b);
        }
        if (held) {  // the held datagram goes after this one
            send(server, held->bytes);
            held.reset();
        }
    }
    void from_client(Buf b) override { relay(true, std::move(b)); }
    void from_server(Buf b) override { relay(false, std::move(b)); }
    void tick() override {
        for (bool dir : {false, true})  // nothing followed in time: release
            if (held_[dir] && Clock::now() >= held_[dir]->until) {
                send(dir, held_[dir]->bytes);
                held_[dir].reset();
            }
    }

    std::optional<Held> held_[2];
    std::mt19937_64 rng_;
};

TEST(LossyUdp, EveryRequestAnsweredThroughDropDuplicateReorder) {
    constexpr int kRequests = 40;
    // Explicit settings (kept by with_transport_defaults): a short resend timer,
    // and a RESEND LAST budget above the default 3, which a run of drops in a
    // row (4 of 6 datagrams happens) legitimately exhausts at this loss rate.
    Config base = server_config();
    base.timers.resend_timeout = 150ms;
    base.timers.max_resends = 8;
    Running srv(options(Transport::udp), base);
    ASSERT_TRUE(srv.bound);
    LossyProxy proxy(srv.port(Transport::udp));
    crypto::openssl::OpenSslProvider p;
    Config cc = client_config(Mode::cert, p);
    cc.timers.resend_timeout = 150ms;
    cc.timers.max_resends = 8;
    Client c(cc, Transport::udp);
    ASSERT_TRUE(c.connect("127.0.0.1", proxy.port(), 10s));
    std::vector<int> unanswered;  // after a failure the connection is over: the rest are unanswered too
    for (int i = 0; i < kRequests; ++i) {
        auto r = unanswered.empty() ? c.request(body_of(i), 10s) : Result<Buf>(Err::closed);
        if (!r || *r != echo(body_of(i), {})) unanswered.push_back(i);
    }
    std::string which;
    for (int i : unanswered) which += std::to_string(i) + " ";
    EXPECT_TRUE(unanswered.empty()) << "unanswered requests: " << which
                                    << (c.closed_event() ? reason_name(c.closed_event()->reason) : "");
    EXPECT_GE(c.engine().stats().rekeys, 3u);
    (void)c.close(2s);  // CLOSE ACK may be lost: not asserted
    EXPECT_GT(proxy.dropped.load(), 0);
    EXPECT_GT(proxy.duplicated.load(), 0);
    EXPECT_GT(proxy.reordered.load(), 0);
}

// ---------------------------------------------------------------- shutdown
class Shutdown : public ::testing::TestWithParam<Transport> {};

// Counts the DATA ACKs a server receives (so a test knows its connections are quiet).
class CountDataAcks final : public Tracer {
public:
    explicit CountDataAcks(std::atomic<int>& n) : n_(n) {}
    void on_message(const TraceEntry& e) noexcept override {
        if (!e.sent && e.type == MsgType::data_ack) ++n_;
    }
    void on_fault(Err, bool) noexcept override {}

private:
    std::atomic<int>& n_;
};

// Clients idle (polling) after two requests; stop(): each sees CLOSE(shutdown)
// and acknowledges it, and run() returns well within the grace period.
TEST_P(Shutdown, StopWhileClientsIdleClosesEachWithShutdownAcknowledged) {
    const Transport t = GetParam();
    constexpr int kClients = 5, kRequests = 2;
    ServerOptions o = options(t);
    o.shutdown_grace = 3s;
    std::atomic<int> data_acks{0};
    Running srv(o, server_config(), [&](const std::string&) { return std::make_unique<CountDataAcks>(data_acks); });
    ASSERT_TRUE(srv.bound);
    crypto::openssl::OpenSslProvider p;
    auto peers = start_peers(kClients, t, srv.port(t), p, kRequests, false);
    ASSERT_TRUE(drive(peers, [&] { return data_acks.load() == kClients * kRequests; }, 5s));
    const auto stop_at = Clock::now();
    srv.server.stop();
    const auto all_closed = [&] {
        for (const auto& pe : peers)
            if (!pe.closed) return false;
        return true;
    };
    ASSERT_TRUE(drive(peers, all_closed, 5s));
    ASSERT_TRUE(wait_until([&] { return srv.done.load(); }));
    EXPECT_LT(Clock::now() - stop_at, o.shutdown_grace);
    for (const auto& pe : peers) {
        EXPECT_EQ(pe.closed->reason, Reason::shutdown);
        EXPECT_TRUE(pe.closed->by_peer);
        EXPECT_TRUE(pe.closed->acknowledged);
    }
    const auto n = srv.server.counters();
    EXPECT_EQ(n.closed, std::uint64_t{kClients});
    EXPECT_EQ(n.errors, 0u);
}

// Clients busy with requests when stop() comes: each request loop ends with
// Err::closed and a closed event (shutdown, acknowledged); run() returns within
// the grace period. (A CLOSE crossing a DATA ACK and the next DATA REQUEST hits
// an engine bug, see net_engine_repro_test.cpp.)
TEST_P(Shutdown, StopMidExchangeClosesEveryClientWithShutdownWithinGrace) {
    const Transport t = GetParam();
    constexpr int kClients = 4;
    ServerOptions o = options(t);
    o.shutdown_grace = 3s;
    auto srv = std::make_unique<Running>(o);
    ASSERT_TRUE(srv->bound);
    struct Outcome {
        Err last = Err::ok;
        std::optional<Event> closed;
        std::atomic<int> ok{0};
    };
    std::vector<Outcome> out(kClients);
    std::vector<std::thread> threads;
    for (int k = 0; k < kClients; ++k)
        threads.emplace_back([&, k] {
            crypto::openssl::OpenSslProvider p;
            Client c(client_config(Mode::psk, p), t);
            if (!c.connect("127.0.0.1", srv->port(t), 5s)) return;
            for (int i = 0; i < 10'000; ++i) {  // until the server stops us
                auto r = c.request(body_of(i), 5s);
                if (!r) {
                    out[k].last = r.error();
                    break;
                }
                ++out[k].ok;
            }
            out[k].closed = c.closed_event();
        });
    // Every client established and busy (a CLOSE during the handshake is a clear,
    // unauthenticated one that an established client rightly ignores).
    ASSERT_TRUE(wait_until([&] {
        for (const auto& x : out)
            if (x.ok.load() < 3) return false;
        return true;
    }));
    const auto stop_at = Clock::now();
    srv->server.stop();
    ASSERT_TRUE(wait_until([&] { return srv->done.load(); }, 5s));
    EXPECT_LT(Clock::now() - stop_at, o.shutdown_grace);
    for (auto& th : threads) th.join();
    for (int k = 0; k < kClients; ++k) {
        SCOPED_TRACE("client " + std::to_string(k));
        EXPECT_GT(out[k].ok, 0);
        EXPECT_EQ(out[k].last, Err::closed);
        ASSERT_TRUE(out[k].closed);
        EXPECT_EQ(out[k].closed->reason, Reason::shutdown);
        EXPECT_TRUE(out[k].closed->by_peer);
        EXPECT_TRUE(out[k].closed->acknowledged);
    }
    const auto n = srv->server.counters();
    EXPECT_EQ(n.closed, std::uint64_t{kClients});
    EXPECT_EQ(n.errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(Net, Shutdown, ::testing::Values(Transport::tcp, Transport::udp),
                         [](const auto& pi) { return std::string(name(pi.param)); });

// ---------------------------------------------------------------- raw TCP peers
int raw_connect(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// True when the peer closes the connection (EOF or reset) within the timeout.
bool sees_eof(int fd, std::chrono::milliseconds timeout = 3s) {
    const auto deadline = Clock::now() + timeout;
    std::uint8_t buf[4096];
    while (Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return true;
    }
    return false;
}

TEST(Caps, FullHalfOpenBudgetEvictsTheOldest) {
    ServerOptions o = options(Transport::tcp);
    o.max_handshakes = 2;
    Running srv(o);
    ASSERT_TRUE(srv.bound);
    const int a = raw_connect(srv.server.tcp_port());
    ASSERT_TRUE(wait_until([&] { return srv.server.counters().accepted == 1; }));
    const int b = raw_connect(srv.server.tcp_port());  // silent: half-open
    ASSERT_TRUE(wait_until([&] { return srv.server.counters().accepted == 2; }));
    crypto::openssl::OpenSslProvider p;
    Client c(client_config(Mode::cert, p), Transport::tcp);
    ASSERT_TRUE(c.connect("127.0.0.1", srv.server.tcp_port(), 3s));  // evicts a, the oldest
    EXPECT_TRUE(c.request(body_of(1), 3s));
    EXPECT_EQ(srv.server.counters().evicted, 1u);
    EXPECT_EQ(srv.server.counters().rejected, 0u);
    EXPECT_TRUE(sees_eof(a));
    ::close(a);
    ::close(b);
}

class MaxConnections : public ::testing::TestWithParam<Transport> {};

TEST_P(MaxConnections, RefusesBeyondCap) {
    const Transport t = GetParam();
    ServerOptions o = options(t);
    o.max_connections = 2;
    Running srv(o);
    ASSERT_TRUE(srv.bound);
    crypto::openssl::OpenSslProvider p;
    auto one = std::make_unique<Client>(client_config(Mode::psk, p), t);
    Client two(client_config(Mode::psk, p), t);
    ASSERT_TRUE(one->connect("127.0.0.1", srv.port(t), 3s));
    ASSERT_TRUE(two.connect("127.0.0.1", srv.port(t), 3s));
    {
        Client three(client_config(Mode::psk, p), t);
        // TCP: closed right after accept. UDP: the HELLO is dropped.
        EXPECT_EQ(three.connect("127.0.0.1", srv.port(t), 500ms).error(),
                  t == Transport::tcp ? Err::closed : Err::timeout);
        ASSERT_TRUE(wait_until([&] { return srv.server.counters().rejected >= 1; }));
    }
    EXPECT_TRUE(one->close(3s));
    ASSERT_TRUE(wait_until([&] { return srv.server.counters().closed == 1; }));
    Client four(client_config(Mode::psk, p), t);
    ASSERT_TRUE(four.connect("127.0.0.1", srv.port(t), 3s));
    EXPECT_TRUE(four.request(body_of(4), 3s));
    EXPECT_TRUE(two.request(body_of(2), 3s));
}

INSTANTIATE_TEST_SUITE_P(Net, MaxConnections, ::testing::Values(Transport::tcp, Transport::udp),
                         [](const auto& pi) { return std::string(name(pi.param)); });

TEST(TcpStream, OversizedFrameAndGarbageCloseOnlyThatConnection) {
    Running srv(options(Transport::tcp));
    ASSERT_TRUE(srv.bound);
    crypto::openssl::OpenSslProvider p;
    Client good(client_config(Mode::cert, p), Transport::tcp);
    ASSERT_TRUE(good.connect("127.0.0.1", srv.server.tcp_port(), 3s));
    ASSERT_TRUE(good.request(body_of(0), 3s));

    const std::size_t max = Engine::max_message_size(Config{}.max_data);
    const Buf oversized{static_cast<std::uint8_t>((max + 1) >> 8), static_cast<std::uint8_t>(max + 1)};
    const Buf garbage_frame{0x00, 0x0a, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77};
    const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const Buf garbage_stream(http.begin(), http.end());
    int n = 1;
    for (const Buf& bad : {oversized, garbage_frame, garbage_stream}) {
        SCOPED_TRACE(n);
        const int fd = raw_connect(srv.server.tcp_port());
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::send(fd, bad.data(), bad.size(), 0), static_cast<ssize_t>(bad.size()));
        EXPECT_TRUE(sees_eof(fd));
        ::close(fd);
        ASSERT_TRUE(wait_until([&] { return srv.server.counters().closed == static_cast<std::uint64_t>(n); }));
        auto r = good.request(body_of(n), 3s);  // the others are still served
        ASSERT_TRUE(r);
        EXPECT_EQ(*r, echo(body_of(n), {}));
        ++n;
    }
    EXPECT_EQ(srv.server.counters().errors, 3u);
}

// A hand-driven engine over a raw socket that writes every frame one byte at a
// time: the server must reassemble partial frames.
TEST(TcpStream, FramesSplitIntoSingleBytesAreReassembled) {
    Running srv(options(Transport::tcp));
    ASSERT_TRUE(srv.bound);
    crypto::openssl::OpenSslProvider p;
    Config cc = client_config(Mode::cert, p);
    Buf ws(Engine::workspace_size(cc.max_data));
    Engine e(cc, ws);
    const int fd = raw_connect(srv.server.tcp_port());
    ASSERT_GE(fd, 0);
    Buf out(Engine::max_message_size(cc.max_data));
    auto send_all = [&] {
        for (;;) {
            auto n = e.poll_transmit(out);
            if (!n || *n == 0) return;
            Buf frame{static_cast<std::uint8_t>(*n >> 8), static_cast<std::uint8_t>(*n)};
            frame.insert(frame.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*n));
            for (std::uint8_t b : frame) ASSERT_EQ(::send(fd, &b, 1, 0), 1);
        }
    };
    Buf rx;
    // Reads frames into the engine until an event of `kind` shows up.
    auto until = [&](EventKind kind) {
        const auto deadline = Clock::now() + 3s;
        std::uint8_t buf[4096];
        while (Clock::now() < deadline) {
            Event ev;
            while (e.poll_event(ev))
                if (ev.kind == kind) return true;
            pollfd pf{fd, POLLIN, 0};
            if (::poll(&pf, 1, 50) <= 0) continue;
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return false;
            rx.insert(rx.end(), buf, buf + n);
            while (rx.size() >= 2 && rx.size() >= 2u + (rx[0] << 8 | rx[1])) {
                const std::size_t len = rx[0] << 8 | rx[1];
                (void)e.receive({rx.data() + 2, len}, clock_now());
                rx.erase(rx.begin(), rx.begin() + 2 + static_cast<std::ptrdiff_t>(len));
                send_all();
            }
        }
        return false;
    };
    ASSERT_TRUE(e.start(clock_now()));
    send_all();
    ASSERT_TRUE(until(EventKind::handshake_done));
    ASSERT_TRUE(e.send_request(body_of(9), clock_now()));
    send_all();
    ASSERT_TRUE(until(EventKind::response));
    ASSERT_TRUE(e.close(clock_now()));
    send_all();
    ASSERT_TRUE(until(EventKind::closed));
    ::close(fd);
    ASSERT_TRUE(wait_until([&] { return srv.server.counters().closed == 1; }));
    EXPECT_EQ(srv.server.counters().errors, 0u);
    EXPECT_EQ(srv.server.counters().requests, 1u);
}

// Datagrams from a stranger: not a HELLO -> dropped without a connection; a
// HELLO-typed garbage or oversized one -> a connection whose engine rejects it.
TEST(UdpDatagrams, GarbageAndOversizeAreDroppedOrRejected) {
    Running srv(options(Transport::udp));
    ASSERT_TRUE(srv.bound);
    crypto::openssl::OpenSslProvider p;
    Client good(client_config(Mode::psk, p), Transport::udp);
    ASSERT_TRUE(good.connect("127.0.0.1", srv.server.udp_port(), 3s));
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(srv.server.udp_port());
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const Buf not_hello(40, 0x17), hello_garbage{0x01, 0xff, 0xff, 0xff}, oversized(20'000, 0x01);
    // None of them opens a connection or leaves any state (a HELLO that does
    // not decode included). The server reads its one socket in arrival order,
    // so once the good client's next request is answered they were all handled.
    for (const Buf& b : {not_hello, hello_garbage, oversized})
        ASSERT_EQ(::send(fd, b.data(), b.size(), 0), static_cast<ssize_t>(b.size()));
    ::close(fd);
    auto r = good.request(body_of(1), 3s);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, echo(body_of(1), {}));
    EXPECT_EQ(srv.server.counters().accepted, 1u);
    EXPECT_EQ(srv.server.counters().closed, 0u);
    EXPECT_TRUE(good.close(3s));
}

// SIGTERM after install_signal_handlers() stops a running server. In a child
// process: the handler is process-wide and stops every later Server too.
TEST(Signals, SigtermStopsRunningServer) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            Server::install_signal_handlers();
            ServerOptions o = options(Transport::tcp);
            o.shutdown_grace = 500ms;
            Running srv(o);
            crypto::openssl::OpenSslProvider p;
            Client c(client_config(Mode::psk, p), Transport::tcp);
            if (!srv.bound || !c.connect("127.0.0.1", srv.server.tcp_port(), 3s)) std::_Exit(2);
            ::raise(SIGTERM);
            std::_Exit(wait_until([&] { return srv.done.load(); }) ? 0 : 3);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST(Transport, UdpDefaultsApplyOnlyToDefaults) {
    Config c;
    EXPECT_EQ(with_transport_defaults(c, Transport::tcp).policy, Policy::strict);
    EXPECT_EQ(with_transport_defaults(c, Transport::udp).policy, Policy::tolerant);
    EXPECT_EQ(with_transport_defaults(c, Transport::udp).timers.resend_timeout, kUdpResendTimeout);
    c.policy = Policy::strict;  // chosen explicitly: kept on datagrams too
    EXPECT_EQ(with_transport_defaults(c, Transport::udp).policy, Policy::strict);
    c.policy = Policy::tolerant;
    EXPECT_EQ(with_transport_defaults(c, Transport::tcp).policy, Policy::tolerant);
    c.timers.resend_timeout = 300ms;
    EXPECT_EQ(with_transport_defaults(c, Transport::udp).timers.resend_timeout, 300ms);
}

}  // namespace
}  // namespace lockstep::net
