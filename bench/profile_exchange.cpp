// SPDX-License-Identifier: Apache-2.0
// profile_exchange: a fixed number of 64-byte request/response/ack exchanges
// between a net::Server (own thread) and a blocking net::Client over loopback,
// without re-keys, for counting instructions and system calls per exchange:
//   valgrind --tool=callgrind profile_exchange tcp 0     (set-up only)
//   valgrind --tool=callgrind profile_exchange tcp 2000  (set-up + 2000 exchanges)
//   strace -c -f profile_exchange tcp 2000
// The per-exchange cost is the difference divided by the count (both ends).
// Not part of `make bench`: it prints counts, not a table.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common.hpp"
#include "lockstep/net.hpp"

using namespace bench;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s tcp|udp N\n", argv[0]);
        return 2;
    }
    const bool udp = std::strcmp(argv[1], "udp") == 0;
    const int n = std::atoi(argv[2]);
    const ModeCase& m = mode_cases()[0];  // cert-ed25519
    crypto::openssl::OpenSslProvider provider;
    OnePsk store;
    PairConfig cfg = pair_config(m, provider, provider, creds(m.alg).client_key.get(), creds(m.alg).server_key.get(),
                                 store);
    cfg.c.rekey.after_responses = cfg.s.rekey.after_responses = 0;
    net::ServerOptions so;
    so.tcp = !udp;
    so.udp = udp;
    net::Server server(cfg.s, so, [](std::span<const std::uint8_t>, const net::PeerInfo&, std::span<std::uint8_t> resp) {
        return fill_response(resp, 64);
    });
    if (!server.bind()) die("bind");
    std::thread t([&] { (void)server.run(); });
    {
        const auto tr = udp ? net::Transport::udp : net::Transport::tcp;
        net::Client c(cfg.c, tr);
        if (!c.connect("127.0.0.1", udp ? server.udp_port() : server.tcp_port(), std::chrono::seconds(10)))
            die("connect");
        const Buf req(64, 0x11);
        for (int i = 0; i < n; ++i)
            if (!c.request(req, std::chrono::seconds(10))) die("request");
        (void)c.close(std::chrono::seconds(2));
    }
    server.stop();
    t.join();
    std::printf("%d exchanges, server requests %llu\n", n, static_cast<unsigned long long>(server.counters().requests));
}
