// SPDX-License-Identifier: Apache-2.0
// profile_exchange: a fixed number of 64-byte request/response/ack exchanges
// over loopback, without re-keys, for counting instructions, system calls and
// context switches per exchange. k clients (one thread each, default 1), each
// doing N exchanges (lockstep: on `loops` server loops, default 1):
//   lockstep: tcp | udp — a net::Server (own thread) and blocking net::Clients
//   dtls — the DTLS 1.2 baseline of bench_loopback (a server thread per client)
//   valgrind --tool=callgrind profile_exchange udp 0 100    (set-up only)
//   valgrind --tool=callgrind profile_exchange udp 200 100  (set-up + 100 x 200)
//   strace -c -f profile_exchange dtls 2000
// The per-exchange cost is the difference divided by the count (both ends).
// Not part of `make bench`: it prints counts, not a table.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "links.hpp"

using namespace bench;

namespace {
// Runs `n` exchanges on each of k clients at once; exchange(i, req) does one on client i.
template <class F>
void run_clients(int k, int n, F&& exchange) {
    const Buf req = request_for(64);
    std::vector<std::thread> ts;
    for (int i = 0; i < k; ++i)
        ts.emplace_back([&, i] {
            for (int j = 0; j < n; ++j)
                if (!exchange(i, req)) die("exchange");
        });
    for (auto& t : ts) t.join();
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 5) {
        std::fprintf(stderr, "usage: %s tcp|udp|dtls N [clients [loops]]\n", argv[0]);
        return 2;
    }
    const std::string kind = argv[1];
    const int n = std::atoi(argv[2]), k = argc >= 4 ? std::max(1, std::atoi(argv[3])) : 1;
    const int loops = argc == 5 ? std::max(1, std::atoi(argv[4])) : 1;
    const auto t0 = Clock::now();
    if (kind == "dtls") {
        DtlsWorld w;
        std::vector<std::unique_ptr<DtlsLink>> links;
        for (int i = 0; i < k; ++i) links.push_back(std::make_unique<DtlsLink>(w, 0));
        run_clients(k, n, [&](int i, const Buf& req) { return links[static_cast<std::size_t>(i)]->exchange(req, 64); });
    } else if (kind == "tcp" || kind == "udp") {
        const auto tr = kind == "udp" ? net::Transport::udp : net::Transport::tcp;
        LockstepLink link(mode_cases()[0], 0, tr, k, loops);  // cert-ed25519
        run_clients(k, n, [&](int i, const Buf& req) { return link.exchange(req, 64, static_cast<std::size_t>(i)); });
        std::printf("server requests %llu\n", static_cast<unsigned long long>(link.counters().requests));
    } else {
        die("tcp, udp or dtls");
    }
    std::printf("%s: %d client(s) x %d exchanges, %.3f s\n", kind.c_str(), k, n, seconds_since(t0));
}
