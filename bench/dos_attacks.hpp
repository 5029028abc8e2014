// SPDX-License-Identifier: Apache-2.0
// The attacks bench_dos runs against a server on 127.0.0.1 (each from its own
// /24: idle TCP from 127.0.1.x, UDP floods from 127.0.2.x, garbage-certificate
// handshakes from 127.0.4.x; the legitimate clients use 127.0.0.1). Each
// counts what it sent and what came back to its addresses (amplification).
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "common.hpp"
#include "lockstep/net.hpp"

namespace bench::dos {

using namespace lockstep;

inline sockaddr_in addr(const char* ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    a.sin_port = htons(port);
    return a;
}

inline int bound_socket(int type, const char* ip) {
    const int fd = ::socket(AF_INET, type | SOCK_NONBLOCK, 0);
    const sockaddr_in src = addr(ip, 0);
    if (fd >= 0) (void)::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src);
    return fd;
}

// Datagrams the kernel dropped at the UDP socket bound to 127.0.0.1:port
// (its receive buffer was full): the last column of /proc/net/udp.
inline long udp_socket_drops(std::uint16_t port) {
    std::ifstream f("/proc/net/udp");
    char want[32];
    std::snprintf(want, sizeof want, "0100007F:%04X", port);
    std::string line;
    long drops = 0;
    while (std::getline(f, line)) {
        std::istringstream in(line);
        std::string sl, local, field;
        in >> sl >> local;
        if (local != want) continue;
        while (in >> field) drops = std::atol(field.c_str());  // the last field
    }
    return drops;
}

// What an attack did: messages (datagrams, connections) and bytes each way.
struct Tally {
    std::atomic<long> sent{0}, bytes_out{0}, bytes_back{0}, rejected{0};
};

// Sockets that connect and then send nothing (held until destroyed).
struct IdleTcp {
    IdleTcp(std::uint16_t port, int n) {
        const sockaddr_in dst = addr("127.0.0.1", port);
        for (int i = 0; i < n; ++i) {
            char ip[32];
            std::snprintf(ip, sizeof ip, "127.0.1.%d", 1 + i % 250);
            const int fd = bound_socket(SOCK_STREAM, ip);
            if (fd < 0) break;
            (void)::connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
            fds.push_back(fd);
            ++tally.sent;
        }
    }
    ~IdleTcp() { stop(); }
    void stop() {
        for (int fd : fds) ::close(fd);
        fds.clear();
    }
    std::vector<int> fds;
    Tally tally;
};

// Runs body(stop flag) on its own named thread until stop().
struct Attacker {
    template <class F>
    void start(const char* name, F body) {
        thread = std::thread([this, name, body] {
            ::pthread_setname_np(::pthread_self(), name);  // for profilers (perf report --sort comm)
            body();
        });
    }
    ~Attacker() { stop(); }
    void stop() {
        halt = true;
        if (thread.joinable()) thread.join();
    }
    std::atomic<bool> halt{false};
    Tally tally;
    std::thread thread;
};

// Bytes waiting on a non-blocking socket, read and counted.
inline void drain(int fd, Tally& t, std::vector<std::uint8_t>& buf) {
    for (ssize_t n; (n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT)) > 0;) t.bytes_back += n;
}

// A UDP flood of the given payloads from 250 sources in one /24 until stopped
// (25 datagrams, then 200 us of sleep); what comes back is counted.
struct Flood : Attacker {
    Flood(std::uint16_t port, std::vector<Buf> payloads) {
        start("dos-flood", [this, port, payloads] {
            std::vector<int> socks;
            for (int i = 0; i < 250; ++i) {
                char ip[32];
                std::snprintf(ip, sizeof ip, "127.0.2.%d", 1 + i);
                socks.push_back(bound_socket(SOCK_DGRAM, ip));
            }
            const sockaddr_in dst = addr("127.0.0.1", port);
            std::vector<std::uint8_t> buf(65536);
            for (long round = 0; !halt; ++round) {
                for (std::size_t i = 0; i < socks.size() && !halt; ++i) {
                    const Buf& b = payloads[i % payloads.size()];
                    if (::sendto(socks[i], b.data(), b.size(), 0, reinterpret_cast<const sockaddr*>(&dst),
                                 sizeof dst) > 0) {
                        ++tally.sent;
                        tally.bytes_out += static_cast<long>(b.size());
                    }
                    if (i % 25 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
                }
                if (round % 16 == 0)
                    for (int fd : socks) drain(fd, tally, buf);
            }
            for (int fd : socks) {
                drain(fd, tally, buf);
                ::close(fd);
            }
        });
    }
};

// Cert-mode handshakes completed by a stranger with an ACK carrying a garbage
// certificate (anyone can derive c_hs in cert mode), 16 at a time from
// 127.0.4.1..16 over UDP: each must end with one CLOSE(bad_certificate) and
// leave nothing behind. `cfg` is a working cert-mode client configuration.
struct GarbageCertAcks : Attacker {
    GarbageCertAcks(std::uint16_t port, Config cfg) {
        cfg.certificate = garbage_;
        start("dos-certack", [this, port, cfg] {
            crypto::openssl::OpenSslProvider p;
            Config c = net::with_transport_defaults(cfg, net::Transport::udp);
            c.provider = &p;
            c.role = Role::client;
            constexpr int kSlots = 16;
            struct Slot {
                int fd = -1;
                Buf ws;
                std::unique_ptr<Engine> e;
                Clock::time_point began;
            };
            std::vector<Slot> slots(kSlots);
            const sockaddr_in dst = addr("127.0.0.1", port);
            Buf out(Engine::max_message_size(c.max_data)), buf(65536);
            auto flush = [&](Slot& s) {
                for (;;) {
                    auto n = s.e->poll_transmit(out);
                    if (!n || *n == 0) return;
                    if (::send(s.fd, out.data(), *n, 0) > 0) {
                        ++tally.sent;
                        tally.bytes_out += static_cast<long>(*n);
                    }
                }
            };
            auto begin = [&](Slot& s) {
                s.e.reset();
                s.ws.resize(Engine::workspace_size(c.max_data));  // one per slot, reused
                s.e = std::make_unique<Engine>(c, s.ws);
                s.began = Clock::now();
                (void)s.e->start(net::clock_now());
                flush(s);
            };
            for (int i = 0; i < kSlots; ++i) {
                char ip[32];
                std::snprintf(ip, sizeof ip, "127.0.4.%d", 1 + i);
                slots[i].fd = bound_socket(SOCK_DGRAM, ip);
                (void)::connect(slots[i].fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
                begin(slots[i]);
            }
            std::vector<pollfd> pfds(kSlots);
            while (!halt) {
                for (int i = 0; i < kSlots; ++i) pfds[i] = {slots[i].fd, POLLIN, 0};
                (void)::poll(pfds.data(), kSlots, 10);
                for (int i = 0; i < kSlots; ++i) {
                    Slot& s = slots[i];
                    for (ssize_t n; (n = ::recv(s.fd, buf.data(), buf.size(), MSG_DONTWAIT)) > 0;) {
                        tally.bytes_back += n;
                        (void)s.e->receive({buf.data(), static_cast<std::size_t>(n)}, net::clock_now());
                        flush(s);
                    }
                    Event ev;
                    while (s.e->poll_event(ev))
                        if (ev.kind == EventKind::closed && ev.by_peer) ++tally.rejected;
                    // Refused (the server's CLOSE came), or no answer in 200 ms: the next stranger.
                    if (s.e->is_closed() || seconds_since(s.began) > 0.2) begin(s);
                }
            }
            for (Slot& s : slots) ::close(s.fd);
        });
    }
    Buf garbage_ = Buf(180, 0xc3);  // not a certificate at all
};

}  // namespace bench::dos
