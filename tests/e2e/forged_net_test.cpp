// SPDX-License-Identifier: Apache-2.0
// Forged clear HELLO ACKs against a real UDP client over loopback (spec:
// PROTOCOL.md §5.5, §8.4, §8.6, §11.12). A proxy between a net::Client and a
// net::Server delivers, from the server's address as the client sees it,
// forgeries of the HELLO ACK: one whose `ack` is not the client's c0 (what a
// blind attacker sends), one with the right seq and ack but a sealed part that
// does not verify, before the genuine one; and once the handshake is done,
// the genuine one with one bit of its sealed part flipped (its seq is in the
// clear). Each is dropped: the client completes its handshake and every
// request, and retransmits nothing. Waits are bounded; nothing asserts on
// wall-clock speed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <mutex>
#include <thread>

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
    const auto& cr = sim::Credentials::get();
    Config c;
    c.role = Role::server;
    c.modes = {Mode::cert, Mode::psk};
    c.ca_certificate = cr.ca_cert;
    c.signer = cr.server_key.get();
    c.certificate = cr.server_cert;
    c.psk_store = &psk_store();
    return c;
}

Config client_config(Mode m, crypto::Provider& p) {
    const auto& cr = sim::Credentials::get();
    Config c;
    c.provider = &p;
    c.modes = {m};
    c.ca_certificate = cr.ca_cert;
    c.server_names = sim::kTestServerNames;
    if (mode_uses_cert(m)) {
        c.signer = cr.client_key.get();
        c.certificate = cr.client_cert;
    }
    if (mode_uses_psk(m)) {
        c.psk = sim::test_psk();
        c.psk_id = sim::test_psk_id();
    }
    return c;
}

std::size_t echo(std::span<const std::uint8_t> req, const PeerInfo&, std::span<std::uint8_t> resp) {
    const std::size_t n = std::min(req.size(), resp.size());
    std::copy_n(req.begin(), n, resp.begin());
    return n;
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    a.sin_port = htons(port);
    return a;
}

int udp_socket() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    const sockaddr_in a = loopback(0);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return -1;
    return fd;
}

// Where the `ack` of a HELLO ACK sits: after version, the three lists, flags,
// kx, the share (or the 16-byte random) and seq (spec §6.3).
std::size_t hello_ack_ack_at(const Buf& b) {
    const std::size_t v = b[5], s = b[6 + v], m = b[7 + v + s];
    const std::size_t k = std::size_t{b[9 + v + s + m]} << 8 | b[10 + v + s + m];
    return 15 + v + s + m + k + (k == 0 ? 16 : 0);
}

// Forwards between one client (front_) and the server (back_). The first
// HELLO ACK is preceded, toward the client, by the forgeries made of it;
// later forge_again() sends the client a copy with its last byte flipped.
class ForgingProxy {
public:
    explicit ForgingProxy(std::uint16_t server_port) : server_(loopback(server_port)) {
        front_ = udp_socket();
        back_ = udp_socket();
        sockaddr_in a{};
        socklen_t len = sizeof a;
        ::getsockname(front_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        stop_ = ::eventfd(0, 0);
        thread_ = std::thread([this] { run(); });
    }
    ~ForgingProxy() {
        const std::uint64_t one = 1;
        (void)!::write(stop_, &one, sizeof one);
        thread_.join();
        ::close(front_);
        ::close(back_);
        ::close(stop_);
    }
    std::uint16_t port() const { return port_; }
    std::atomic<int> forged{0};
    // The genuine HELLO ACK with one bit of its sealed part flipped: right seq, bad MAC.
    void forge_again() {
        std::lock_guard<std::mutex> g(m_);
        Buf b = hello_ack_;
        b.back() ^= 0x01;
        to_client(b);
    }

private:
    void to_client(const Buf& b) {
        (void)::sendto(front_, b.data(), b.size(), 0, reinterpret_cast<const sockaddr*>(&client_), sizeof client_);
        ++forged;
    }
    void run() {
        Buf buf(65536);
        for (;;) {
            pollfd fds[3] = {{front_, POLLIN, 0}, {back_, POLLIN, 0}, {stop_, POLLIN, 0}};
            ::poll(fds, 3, 100);
            if (fds[2].revents) return;
            if (fds[0].revents & POLLIN) {
                sockaddr_in from{};
                socklen_t len = sizeof from;
                const ssize_t n =
                    ::recvfrom(front_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
                if (n >= 0) {
                    std::lock_guard<std::mutex> g(m_);
                    client_ = from;
                }
                if (n >= 0)
                    (void)::sendto(back_, buf.data(), static_cast<std::size_t>(n), 0,
                                   reinterpret_cast<const sockaddr*>(&server_), sizeof server_);
            }
            if (fds[1].revents & POLLIN) {
                const ssize_t n = ::recv(back_, buf.data(), buf.size(), 0);
                if (n <= 0) continue;
                const Buf msg(buf.begin(), buf.begin() + n);
                std::lock_guard<std::mutex> g(m_);
                if (msg[0] == 0x02 && hello_ack_.empty()) {
                    hello_ack_ = msg;
                    Buf wrong_ack = msg;  // a blind attacker does not know c0
                    const std::size_t at = hello_ack_ack_at(msg);
                    for (std::size_t i = 0; i < 4; ++i) wrong_ack[at + i] ^= 0x5a;
                    to_client(wrong_ack);
                    Buf bad_mac = msg;  // right seq and ack, a sealed part that does not verify
                    bad_mac.back() ^= 0x01;
                    to_client(bad_mac);
                }
                (void)::sendto(front_, msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr*>(&client_),
                               sizeof client_);
            }
        }
    }

    sockaddr_in server_;
    int front_ = -1, back_ = -1, stop_ = -1;
    std::uint16_t port_ = 0;
    sockaddr_in client_{};
    std::mutex m_;
    Buf hello_ack_;
    std::thread thread_;
};

TEST(BlindHelloAck, ForgedHelloAcksToARealUdpClientAreIgnored) {
    for (Mode m : {Mode::cert, Mode::psk}) {
        SCOPED_TRACE(mode_name(m));
        ServerOptions o;
        o.tcp = false;
        o.udp = true;
        Server server(server_config(), o, echo);
        ASSERT_TRUE(server.bind());
        std::thread loop([&] { (void)server.run(); });
        {
            ForgingProxy proxy(server.udp_port());
            crypto::openssl::OpenSslProvider p;
            Client c(client_config(m, p), Transport::udp);
            ASSERT_TRUE(c.connect("127.0.0.1", proxy.port(), 5s));
            EXPECT_EQ(proxy.forged.load(), 2);
            EXPECT_GE(c.engine().stats().dropped, 2u);
            int ok = 0;
            for (int i = 0; i < 4; ++i) {
                if (i == 1) proxy.forge_again();  // after the handshake: right seq, bad MAC
                const Buf body{'f', static_cast<std::uint8_t>(i)};
                auto r = c.request(body, 5s);
                if (r && *r == body) ++ok;
            }
            EXPECT_EQ(ok, 4);
            EXPECT_EQ(proxy.forged.load(), 3);
            EXPECT_GE(c.engine().stats().dropped, 3u);
            EXPECT_EQ(c.engine().stats().retransmissions, 0u);  // nothing re-sealed or resent for a forgery
            EXPECT_TRUE(c.close(5s));
        }
        server.stop();
        loop.join();
        EXPECT_EQ(server.counters().errors, 0u);
    }
}

}  // namespace
}  // namespace lockstep::net
