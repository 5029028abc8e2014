// SPDX-License-Identifier: Apache-2.0
// What the loopback tests of src/net share: the test credentials as server and
// client configurations, an echo handler, loopback addresses and a bounded
// condition wait (never an assertion on speed).
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "lockstep/net.hpp"
#include "sim.hpp"

namespace lockstep::net::test {

inline const sim::OnePsk& psk_store() {
    static const sim::OnePsk store;
    return store;
}

// Every mode; provider: the server gives each loop its own.
inline Config server_config() {
    const auto& cr = sim::Credentials::get();
    Config c;
    c.role = Role::server;
    c.modes = {Mode::cert, Mode::psk, Mode::cert_psk, Mode::psk_only};
    c.ca_certificate = cr.ca_cert;
    c.signer = cr.server_key.get();
    c.certificate = cr.server_cert;
    c.psk_store = &psk_store();
    return c;
}

inline Config client_config(Mode m, crypto::Provider& p) {
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

// The request, as the response.
inline std::size_t echo(std::span<const std::uint8_t> req, const PeerInfo&, std::span<std::uint8_t> resp) {
    const std::size_t n = std::min(req.size(), resp.size());
    std::copy_n(req.begin(), n, resp.begin());
    return n;
}

inline sockaddr_in loopback(const char* ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    a.sin_port = htons(port);
    return a;
}

template <class F>
bool wait_until(F&& done, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling interval of a bounded condition wait
    }
    return true;
}

// A UDP relay between one client and a server on loopback: the client sends
// to port() (127.0.0.1), the server sees the relay's back socket (bound to
// back_ip). Subclasses decide what to do with each datagram (by default pass
// it on) and call start() last in their constructor and stop() first in their
// destructor (the relay's thread calls their hooks).
class UdpRelay {
public:
    explicit UdpRelay(std::uint16_t server_port, const char* back_ip = "127.0.0.1")
        : server_(loopback("127.0.0.1", server_port)), back_ip_(back_ip) {
        front_ = socket_on("127.0.0.1");
        sockaddr_in a{};
        socklen_t len = sizeof a;
        ::getsockname(front_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        back_ = socket_on(back_ip_);
        stop_ = ::eventfd(0, 0);
    }
    virtual ~UdpRelay() {
        stop();
        ::close(front_);
        ::close(back_);
        ::close(stop_);
    }
    UdpRelay(const UdpRelay&) = delete;
    UdpRelay& operator=(const UdpRelay&) = delete;
    std::uint16_t port() const { return port_; }

    // To the client (from the server's address, as the client sees it) or the server.
    void to_client(const std::vector<std::uint8_t>& b) {
        std::lock_guard<std::mutex> g(client_m_);
        (void)::sendto(front_, b.data(), b.size(), 0, reinterpret_cast<const sockaddr*>(&client_), sizeof client_);
    }
    void to_server(const std::vector<std::uint8_t>& b) {
        (void)::sendto(back_, b.data(), b.size(), 0, reinterpret_cast<const sockaddr*>(&server_), sizeof server_);
    }

protected:
    void start() {
        thread_ = std::thread([this] { run(); });
    }
    void stop() {
        if (!thread_.joinable()) return;
        const std::uint64_t one = 1;
        (void)!::write(stop_, &one, sizeof one);
        thread_.join();
    }
    // On the relay's thread: what to do with each datagram, and every 10 ms.
    virtual void from_client(std::vector<std::uint8_t> b) { to_server(b); }
    virtual void from_server(std::vector<std::uint8_t> b) { to_client(b); }
    virtual void tick() {}
    // A new back socket: a new source port for the server (the old one closed).
    void rebind() {
        ::close(back_);
        back_ = socket_on(back_ip_);
    }

private:
    static int socket_on(const char* ip) {
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        const sockaddr_in a = loopback(ip, 0);
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return -1;
        return fd;
    }
    void run() {
        std::vector<std::uint8_t> buf(65536);
        for (;;) {
            pollfd fds[3] = {{front_, POLLIN, 0}, {back_, POLLIN, 0}, {stop_, POLLIN, 0}};
            ::poll(fds, 3, 10);
            if (fds[2].revents) return;
            if (fds[0].revents & POLLIN) {
                sockaddr_in from{};
                socklen_t len = sizeof from;
                const ssize_t n = ::recvfrom(front_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
                if (n >= 0) {
                    {
                        std::lock_guard<std::mutex> g(client_m_);
                        client_ = from;
                    }
                    from_client({buf.begin(), buf.begin() + n});
                }
            }
            if (fds[1].revents & POLLIN) {
                const ssize_t n = ::recv(back_, buf.data(), buf.size(), 0);
                if (n >= 0) from_server({buf.begin(), buf.begin() + n});
            }
            tick();
        }
    }

    sockaddr_in server_;
    const char* back_ip_;
    int front_ = -1, back_ = -1, stop_ = -1;
    std::uint16_t port_ = 0;
    std::mutex client_m_;
    sockaddr_in client_{};
    std::thread thread_;
};

}  // namespace lockstep::net::test
