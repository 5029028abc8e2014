// SPDX-License-Identifier: Apache-2.0
// The server under attack over loopback (spec: PROTOCOL.md §8.6, §11.13):
// spoofed records during a UDP session, a HELLO flood together with thousands
// of idle TCP sockets, the amplification limit toward a silent address, and
// the fd limit without spinning. Flood sources use 127.0.1.x / 127.0.2.x, the
// legitimate clients 127.0.0.1 (another source prefix). Waits are bounded
// condition polls; nothing asserts on wall-clock speed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "../support/net_support.hpp"
#include "../support/sim.hpp"
#include "lockstep/net.hpp"

namespace lockstep::net {
namespace {

using namespace std::chrono_literals;
using Buf = std::vector<std::uint8_t>;
using Clock = std::chrono::steady_clock;

using test::client_config;
using test::echo;
using test::loopback;
using test::server_config;
using test::wait_until;

struct Running {
    Running(ServerOptions o, TracerFactory tracers = nullptr) : server(server_config(), o, echo, std::move(tracers)) {
        bound = server.bind().has_value();
        thread = std::thread([this] { (void)server.run(); });
    }
    ~Running() {
        server.stop();
        thread.join();
    }
    Server server;
    bool bound = false;
    std::thread thread;
};

// One legitimate exchange: connect, a request, close. True if it all worked.
bool exchange_once(Transport t, std::uint16_t port, Mode m) {
    crypto::openssl::OpenSslProvider p;
    Client c(client_config(m, p), t);
    if (!c.connect("127.0.0.1", port, 5s)) return false;
    const Buf body{'h', 'i'};
    auto r = c.request(body, 5s);
    return r && *r == body;
}

// A HELLO as a client would send it (a fresh engine's first datagram).
Buf make_hello(Mode m, std::uint16_t pad_to = 0) {
    crypto::openssl::OpenSslProvider p;
    Config c = client_config(m, p);
    c.hello_pad_to = pad_to;
    Buf ws(Engine::workspace_size(c.max_data));
    Engine e(c, ws);
    (void)e.start(clock_now());
    Buf out(Engine::max_message_size(c.max_data));
    auto n = e.poll_transmit(out);
    out.resize(n ? *n : 0);
    return out;
}

// A UDP datagram with any source address (raw socket; needs CAP_NET_RAW).
class Spoofer {
public:
    Spoofer() : fd_(::socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) {}
    ~Spoofer() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool ok() const { return fd_ >= 0; }
    void send(const sockaddr_in& from, const sockaddr_in& to, std::span<const std::uint8_t> payload) {
        Buf pkt(sizeof(iphdr) + sizeof(udphdr) + payload.size());
        auto* ip = reinterpret_cast<iphdr*>(pkt.data());
        ip->version = 4;
        ip->ihl = 5;
        ip->ttl = 64;
        ip->protocol = IPPROTO_UDP;
        ip->tot_len = htons(static_cast<std::uint16_t>(pkt.size()));
        ip->saddr = from.sin_addr.s_addr;
        ip->daddr = to.sin_addr.s_addr;
        auto* udp = reinterpret_cast<udphdr*>(pkt.data() + sizeof(iphdr));
        udp->source = from.sin_port;
        udp->dest = to.sin_port;
        udp->len = htons(static_cast<std::uint16_t>(sizeof(udphdr) + payload.size()));
        udp->check = 0;  // optional over IPv4
        std::copy(payload.begin(), payload.end(), pkt.begin() + sizeof(iphdr) + sizeof(udphdr));
        (void)::sendto(fd_, pkt.data(), pkt.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    }

private:
    int fd_;
};

// Records the peer addresses the server sees (its tracer factory is told each).
struct PeerLog {
    std::mutex m;
    std::vector<std::string> peers;
    TracerFactory factory() {
        return [this](const std::string& peer) -> std::unique_ptr<Tracer> {
            std::lock_guard<std::mutex> g(m);
            peers.push_back(peer);
            return nullptr;
        };
    }
    std::uint16_t last_port() {
        std::lock_guard<std::mutex> g(m);
        if (peers.empty()) return 0;
        return static_cast<std::uint16_t>(std::stoi(peers.back().substr(peers.back().rfind(':') + 1)));
    }
};

// 1,000 records with bad tags from the client's own address (and 1,000 to the
// client from the server's) during a UDP session: it completes, with no error.
TEST(Dos, SpoofedBadTagRecordsDuringAUdpSession) {
    Spoofer spoof;
    if (!spoof.ok()) GTEST_SKIP() << "no raw socket (needs CAP_NET_RAW)";
    ServerOptions o;
    o.tcp = false;
    o.udp = true;
    PeerLog peers;
    Running srv(o, peers.factory());
    ASSERT_TRUE(srv.bound);
    crypto::openssl::OpenSslProvider p;
    Client c(client_config(Mode::cert, p), Transport::udp);
    ASSERT_TRUE(c.connect("127.0.0.1", srv.server.udp_port(), 5s));
    const std::uint16_t client_port = peers.last_port();
    ASSERT_NE(client_port, 0);
    const sockaddr_in client = loopback("127.0.0.1", client_port);
    const sockaddr_in server = loopback("127.0.0.1", srv.server.udp_port());
    std::atomic<bool> stop{false};
    std::atomic<int> sent{0};
    std::thread attacker([&] {
        Buf rec{0x17, 0x01, 0, 0, 0, 0};
        rec.resize(6 + 40, 0xa5);
        for (int i = 0; i < 1000 && !stop; ++i) {
            rec[5] = static_cast<std::uint8_t>(i);
            rec[4] = static_cast<std::uint8_t>(i >> 8);
            spoof.send(client, server, rec);
            spoof.send(server, client, rec);
            ++sent;
            if (i % 50 == 0) std::this_thread::sleep_for(1ms);  // spread over the session
        }
    });
    int ok = 0;
    for (int i = 0; i < 25; ++i) {
        const Buf body{'r', static_cast<std::uint8_t>(i)};
        auto r = c.request(body, 5s);
        if (r && *r == body) ++ok;
    }
    attacker.join();
    stop = true;
    EXPECT_EQ(sent.load(), 1000);
    EXPECT_EQ(ok, 25);
    EXPECT_EQ(c.engine().stats().resend_lasts_sent, 0u);
    EXPECT_EQ(srv.server.counters().errors, 0u);
}

// A datagram the server drops unopened leaves a reason in its log
// (rate-limited), so an operator sees why (spec §8.6).
TEST(Dos, DroppedDatagramsLeaveAReasonInTheLog) {
    std::mutex m;
    std::vector<std::string> lines;
    ServerOptions o;
    o.tcp = false;
    o.udp = true;
    o.log = [&](const std::string& line) {
        std::lock_guard<std::mutex> g(m);
        lines.push_back(line);
    };
    Running srv(o);
    ASSERT_TRUE(srv.bound);
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    const sockaddr_in to = loopback("127.0.0.1", srv.server.udp_port());
    Buf rec{0x17, 0x01, 0, 0, 0, 0};
    rec.resize(6 + 40, 0xa5);
    auto logged = [&] {
        std::lock_guard<std::mutex> g(m);
        for (const std::string& l : lines)
            if (l.find("dropped a datagram from an unknown address (not a HELLO)") != std::string::npos) return true;
        return false;
    };
    const auto deadline = Clock::now() + 5s;
    while (!logged() && Clock::now() < deadline) {  // datagrams may be lost: resend until the line shows
        (void)::sendto(fd, rec.data(), rec.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
        pollfd none{-1, 0, 0};
        (void)::poll(&none, 1, 10);
    }
    ::close(fd);
    EXPECT_TRUE(logged());
}

// Many idle TCP sockets (as many as the fd limit allows, up to 5,000) and a
// UDP HELLO flood from other source prefixes at once: legitimate TCP and UDP
// clients still complete every exchange.
TEST(Dos, IdleTcpSocketsAndHelloFloodDoNotLockOutClients) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    // Each idle socket costs two fds in this process (ours and the server's, until evicted).
    const int idle_target = static_cast<int>(std::min<rlim_t>(5000, (rl.rlim_cur - 400) / 2));
    ServerOptions o;
    o.udp = true;
    o.max_handshakes = 512;
    o.cookie_threshold = 64;
    Running srv(o);
    ASSERT_TRUE(srv.bound);
    std::vector<int> idle;
    for (int i = 0; i < idle_target; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0) break;
        char ip[32];
        std::snprintf(ip, sizeof ip, "127.0.1.%d", 1 + i % 250);
        const sockaddr_in src = loopback(ip, 0), dst = loopback("127.0.0.1", srv.server.tcp_port());
        (void)::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src);
        (void)::connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
        if (i % 3 == 1) (void)!::write(fd, "\x00", 1);  // one byte of a frame header, then nothing
        idle.push_back(fd);
    }
    // HELLO flood: genuine-looking cert and PSK HELLOs from 250 sources, replayed.
    const Buf hellos[] = {make_hello(Mode::cert), make_hello(Mode::psk)};
    std::atomic<bool> stop{false};
    std::atomic<long> flood{0};
    std::thread flooder([&] {
        std::vector<int> socks;
        for (int i = 0; i < 250; ++i) {
            const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
            char ip[32];
            std::snprintf(ip, sizeof ip, "127.0.2.%d", 1 + i);
            const sockaddr_in src = loopback(ip, 0);
            (void)::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src);
            socks.push_back(fd);
        }
        const sockaddr_in dst = loopback("127.0.0.1", srv.server.udp_port());
        while (!stop) {
            for (std::size_t i = 0; i < socks.size() && !stop; ++i) {
                const Buf& h = hellos[i % 2];
                (void)::sendto(socks[i], h.data(), h.size(), 0, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
                ++flood;
            }
            std::this_thread::sleep_for(1ms);
        }
        for (int fd : socks) ::close(fd);
    });
    ASSERT_TRUE(wait_until([&] { return flood.load() > 5000; }, 10s));
    int ok = 0, tries = 0;
    std::string failed;
    for (int i = 0; i < 10; ++i)
        for (Transport t : {Transport::tcp, Transport::udp}) {
            ++tries;
            const Mode m = i % 2 ? Mode::psk : Mode::cert;
            if (exchange_once(t, t == Transport::tcp ? srv.server.tcp_port() : srv.server.udp_port(), m)) ++ok;
            else failed += std::string(" ") + (t == Transport::tcp ? "tcp/" : "udp/") + mode_name(m);
        }
    stop = true;
    flooder.join();
    const auto counters = srv.server.counters();
    for (int fd : idle) ::close(fd);
    EXPECT_EQ(ok, tries) << "failed:" << failed;
    EXPECT_GE(static_cast<int>(idle.size()), std::min(idle_target, 1000));
    EXPECT_GT(counters.evicted, 0u);
    EXPECT_GT(counters.cookies, 0u);
    RecordProperty("idle_tcp_sockets", static_cast<int>(idle.size()));
}

// Bytes sent to an address that never answers stay within 3x what it sent,
// for a bare HELLO (answered with a cookie) and a padded one (HELLO ACK, whose
// retransmissions then stop at the limit).
TEST(Dos, SilentAddressGetsAtMostThreeTimesItsBytes) {
    ServerOptions o;
    o.tcp = false;
    o.udp = true;
    o.handshake_timeout = 3s;
    Running srv(o);
    ASSERT_TRUE(srv.bound);
    for (std::uint16_t pad : {std::uint16_t{0}, std::uint16_t{256}}) {
        SCOPED_TRACE(pad);
        const Buf hello = make_hello(Mode::cert, pad);
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        const sockaddr_in src = loopback("127.0.3.1", 0), dst = loopback("127.0.0.1", srv.server.udp_port());
        ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src), 0);
        const auto closed_before = srv.server.counters().closed;
        const auto cookies_before = srv.server.counters().cookies;
        ASSERT_EQ(::sendto(fd, hello.data(), hello.size(), 0, reinterpret_cast<const sockaddr*>(&dst), sizeof dst),
                  static_cast<ssize_t>(hello.size()));
        // Done when the server has forgotten the address (or answered with a cookie only).
        ASSERT_TRUE(wait_until(
            [&] {
                const auto c = srv.server.counters();
                return c.closed > closed_before || c.cookies > cookies_before;
            },
            10s));
        std::size_t received = 0;
        Buf buf(65536);
        for (;;) {
            const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
            if (n <= 0) break;
            received += static_cast<std::size_t>(n);
        }
        ::close(fd);
        EXPECT_GT(received, 0u);
        EXPECT_LE(received, 3 * hello.size()) << "sent " << hello.size();
    }
}

// CPU seconds (user + system) a process has used so far.
double cpu_seconds(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::istringstream in(s.substr(s.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && in >> field; ++i)
        if (i == 14 || i == 15) ticks += std::stod(field);
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// At the fd limit the server neither spins nor stops serving: over a second
// with connections waiting it uses a small fraction of a core, and once fds
// are free again a client completes.
TEST(Dos, FdLimitDoesNotSpin) {
    int port_pipe[2];
    ASSERT_EQ(::pipe(port_pipe), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(port_pipe[0]);
        rlimit rl{64, 64};
        ::setrlimit(RLIMIT_NOFILE, &rl);
        ServerOptions o;
        Server s(server_config(), o, echo);
        if (!s.bind()) ::_exit(1);
        const std::uint16_t port = s.tcp_port();
        (void)!::write(port_pipe[1], &port, sizeof port);
        ::close(port_pipe[1]);
        (void)s.run();
        ::_exit(0);
    }
    ::close(port_pipe[1]);
    std::uint16_t port = 0;
    ASSERT_EQ(::read(port_pipe[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
    ::close(port_pipe[0]);
    std::vector<int> socks;
    for (int i = 0; i < 200; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        const sockaddr_in dst = loopback("127.0.0.1", port);
        (void)::connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
        socks.push_back(fd);
    }
    std::this_thread::sleep_for(300ms);  // let the server reach its fd limit (the measurement window follows)
    const double cpu0 = cpu_seconds(child);
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(1s);  // the measurement window
    const double cpu = cpu_seconds(child) - cpu0;
    const double window = std::chrono::duration<double>(Clock::now() - t0).count();
    for (int fd : socks) ::close(fd);
    const bool served = wait_until([&] { return exchange_once(Transport::tcp, port, Mode::psk); }, 10s);
    ::kill(child, SIGTERM);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_LT(cpu, 0.25 * window) << "server CPU seconds over a " << window << " s window";
    EXPECT_TRUE(served);
}

}  // namespace
}  // namespace lockstep::net
