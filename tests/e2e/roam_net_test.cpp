// SPDX-License-Identifier: Apache-2.0
// Roaming over UDP on loopback (spec: PROTOCOL.md §6.9): a proxy between a
// net::Client and a net::Server changes the source port the server sees (a new
// socket, as a NAT that rebinds) in the middle of a run; the connection
// follows the client by its connection id, across re-keys. A forged or
// replayed datagram carrying a valid id from another address moves nothing,
// and a new address that does not answer gets at most 3x the bytes it sent.
// Waits are bounded condition polls; nothing asserts on wall-clock speed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "../support/net_support.hpp"
#include "../support/sim.hpp"
#include "lockstep/net.hpp"

namespace lockstep::net {
namespace {

using namespace std::chrono_literals;
using Buf = std::vector<std::uint8_t>;

const sim::OnePsk& psk_store() {
    static const sim::OnePsk store;
    return store;
}

Config server_config() {
    Config c;
    c.role = Role::server;
    c.modes = {Mode::psk};
    c.psk_store = &psk_store();
    return c;
}

Config client_config(crypto::Provider& p) {
    Config c;
    c.provider = &p;
    c.modes = {Mode::psk};
    c.psk = sim::test_psk();
    c.psk_id = sim::test_psk_id();
    return c;
}

using test::echo;
using test::loopback;
using test::wait_until;

std::size_t big(std::span<const std::uint8_t>, const PeerInfo&, std::span<std::uint8_t> resp) {
    const std::size_t n = std::min<std::size_t>(2000, resp.size());
    std::fill_n(resp.begin(), n, 0x5a);
    return n;
}

struct Running {
    explicit Running(RequestHandler h = echo) : server(server_config(), options(), std::move(h)) {
        bound = server.bind().has_value();
        thread = std::thread([this] { (void)server.run(); });
    }
    ~Running() {
        server.stop();
        thread.join();
    }
    static ServerOptions options() {
        ServerOptions o;
        o.tcp = false;
        o.udp = true;
        return o;
    }
    Server server;
    bool bound = false;
    std::thread thread;
};

int udp_socket(const char* ip) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    const sockaddr_in a = loopback(ip, 0);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return -1;
    return fd;
}

// A UDP proxy: the client talks to it, the server sees its back socket
// (127.0.4.1). Before forwarding the client's datagram number k (counted from
// 1) for each k in `switch_at`, the back socket is replaced by a new one: a
// new source port, and the old one is closed (what the server sends there is
// lost). With `blackhole`, what the server sends to a new socket is counted,
// not forwarded (an address that does not answer).
class RebindingProxy : public test::UdpRelay {
public:
    RebindingProxy(std::uint16_t server_port, std::set<int> switch_at, bool blackhole = false)
        : UdpRelay(server_port, "127.0.4.1"), switch_at_(std::move(switch_at)), blackhole_(blackhole) {
        start();
    }
    ~RebindingProxy() override { stop(); }
    std::atomic<int> switches{0};
    std::atomic<std::size_t> to_new{0}, from_new{0};  // bytes to / from the server since the last switch
    Buf last_from_client() {
        std::lock_guard<std::mutex> g(m_);
        return last_;
    }

private:
    void from_client(Buf b) override {
        if (switch_at_.count(++count_)) {
            rebind();
            to_new = from_new = 0;
            ++switches;
        }
        {
            std::lock_guard<std::mutex> g(m_);
            last_ = b;
        }
        to_new += b.size();
        to_server(b);
    }
    void from_server(Buf b) override {
        from_new += b.size();
        if (!(blackhole_ && switches > 0)) to_client(b);
    }

    std::set<int> switch_at_;
    bool blackhole_;
    int count_ = 0;
    std::mutex m_;
    Buf last_;
};


// 30 requests; the source port changes twice (before and after the first
// re-key, which comes after 10 responses): every request is answered, the
// server moved the connection twice and re-keyed at least twice, no errors.
TEST(Roam, ClientSurvivesSourcePortChangesAcrossRekeys) {
    Running srv;
    ASSERT_TRUE(srv.bound);
    RebindingProxy proxy(srv.server.udp_port(), {8, 40});
    crypto::openssl::OpenSslProvider p;
    {
        Client c(client_config(p), Transport::udp);
        ASSERT_TRUE(c.connect("127.0.0.1", proxy.port(), 10s));
        for (int i = 0; i < 30; ++i) {
            const Buf body{'r', static_cast<std::uint8_t>(i)};
            auto r = c.request(body, 10s);
            ASSERT_TRUE(r) << "request " << i << ": " << err_name(r.error());
            EXPECT_EQ(*r, body);
        }
        EXPECT_GE(c.engine().epoch(), 3u);
        EXPECT_TRUE(c.close(5s));
    }
    EXPECT_EQ(proxy.switches.load(), 2);
    EXPECT_EQ(srv.server.counters().moved, 2u);
    EXPECT_GE(srv.server.counters().rekeys, 2u);
    ASSERT_TRUE(wait_until([&] { return srv.server.counters().closed == 1; }));
    EXPECT_EQ(srv.server.counters().errors, 0u);
}

// Datagrams with the client's valid id from another address: its last record
// garbled, replayed as it was, and the id in front of garbage. None moves the
// connection; nothing is sent to that address; the client carries on.
TEST(Roam, ForgedOrReplayedDatagramWithAValidIdMovesNothing) {
    Running srv;
    ASSERT_TRUE(srv.bound);
    RebindingProxy proxy(srv.server.udp_port(), {});
    crypto::openssl::OpenSslProvider p;
    Client c(client_config(p), Transport::udp);
    ASSERT_TRUE(c.connect("127.0.0.1", proxy.port(), 10s));
    ASSERT_TRUE(c.request(Buf{'a'}, 10s));
    Buf seen = proxy.last_from_client();  // the DATA ACK, behind the id
    ASSERT_GT(seen.size(), 9u);
    ASSERT_EQ(seen[0], 0x19);
    Buf garbled = seen;
    garbled.back() ^= 1;
    Buf junk(seen.begin(), seen.begin() + 9);
    junk.insert(junk.end(), {0x17, 0x01, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17});
    const int attacker = udp_socket("127.0.5.1");
    ASSERT_GE(attacker, 0);
    const sockaddr_in to = loopback("127.0.0.1", srv.server.udp_port());
    for (const Buf* d : {&garbled, &seen, &junk})
        ASSERT_EQ(::sendto(attacker, d->data(), d->size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to),
                  static_cast<ssize_t>(d->size()));
    // The server reads its socket in order: once this answer is back, it has seen all three.
    auto r = c.request(Buf{'b'}, 10s);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, Buf{'b'});
    EXPECT_EQ(srv.server.counters().moved, 0u);
    Buf buf(65536);
    EXPECT_LT(::recv(attacker, buf.data(), buf.size(), 0), 0);  // nothing came to the attacker
    ::close(attacker);
    EXPECT_TRUE(c.close(5s));
}

// The client moves to an address that never answers (the server's datagrams
// to it are not forwarded): the server moves there (the client's records
// open), but sends it at most 3x the bytes it received from it, although its
// answers are 2000 bytes.
TEST(Roam, UnprovedNewAddressGetsAtMostThreeTimesItsBytes) {
    Running srv(big);
    ASSERT_TRUE(srv.bound);
    RebindingProxy proxy(srv.server.udp_port(), {6}, true);
    crypto::openssl::OpenSslProvider p;
    Config cfg = client_config(p);
    cfg.timers.resend_timeout = 200ms;
    Client c(cfg, Transport::udp);
    ASSERT_TRUE(c.connect("127.0.0.1", proxy.port(), 10s));
    ASSERT_TRUE(c.request(Buf{'a'}, 10s));  // datagrams 1-3: HELLO, ACK, REQUEST; 4: DATA ACK
    ASSERT_TRUE(c.request(Buf{'b'}, 10s));  // 5; the DATA ACK (6) goes from the new port
    EXPECT_FALSE(c.request(Buf{'c'}, 3s));  // never answered: the new address is silent
    ASSERT_TRUE(wait_until([&] { return srv.server.counters().moved == 1; }));
    EXPECT_EQ(proxy.switches.load(), 1);
    EXPECT_GT(proxy.to_new.load(), 0u);
    EXPECT_LE(proxy.from_new.load(), 3 * proxy.to_new.load())
        << "received " << proxy.to_new.load() << ", sent " << proxy.from_new.load();
}

}  // namespace
}  // namespace lockstep::net
