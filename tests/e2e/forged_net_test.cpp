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

#include <atomic>
#include <mutex>
#include <thread>

#include "../support/net_support.hpp"
#include "lockstep/net.hpp"

namespace lockstep::net {
namespace {

using namespace std::chrono_literals;
using Buf = std::vector<std::uint8_t>;

using test::client_config;
using test::echo;
using test::server_config;

// Where the `ack` of a HELLO ACK sits: after version, the three lists, flags,
// kx, the share (or the 16-byte random) and seq (spec §6.3).
std::size_t hello_ack_ack_at(const Buf& b) {
    const std::size_t v = b[5], s = b[6 + v], m = b[7 + v + s];
    const std::size_t k = std::size_t{b[9 + v + s + m]} << 8 | b[10 + v + s + m];
    return 15 + v + s + m + k + (k == 0 ? 16 : 0);
}

// Relays between one client and the server. The first HELLO ACK is preceded,
// toward the client, by the forgeries made of it; later forge_again() sends
// the client a copy with its last byte flipped.
class ForgingProxy : public test::UdpRelay {
public:
    explicit ForgingProxy(std::uint16_t server_port) : UdpRelay(server_port) { start(); }
    ~ForgingProxy() override { stop(); }
    std::atomic<int> forged{0};
    // The genuine HELLO ACK with one bit of its sealed part flipped: right seq, bad MAC.
    void forge_again() {
        std::lock_guard<std::mutex> g(m_);
        Buf b = hello_ack_;
        b.back() ^= 0x01;
        forge(b);
    }

private:
    void forge(const Buf& b) {
        to_client(b);
        ++forged;
    }
    void from_server(Buf msg) override {
        std::lock_guard<std::mutex> g(m_);
        if (!msg.empty() && msg[0] == 0x02 && hello_ack_.empty()) {
            hello_ack_ = msg;
            Buf wrong_ack = msg;  // a blind attacker does not know c0
            const std::size_t at = hello_ack_ack_at(msg);
            for (std::size_t i = 0; i < 4; ++i) wrong_ack[at + i] ^= 0x5a;
            forge(wrong_ack);
            Buf bad_mac = msg;  // right seq and ack, a sealed part that does not verify
            bad_mac.back() ^= 0x01;
            forge(bad_mac);
        }
        to_client(msg);
    }

    std::mutex m_;
    Buf hello_ack_;
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
