// SPDX-License-Identifier: Apache-2.0
// bench_memory — per-connection memory: sizeof(Engine), Engine::workspace_size,
// and the resident memory (VmRSS) of N idle established server-side connections
// in one process: lockstep engines (+ their workspaces) vs OpenSSL SSL objects
// after a TLS 1.3 handshake, both over memory. The client side of each pair is
// freed right after its handshake, so the delta is the server's N connections.
#include <malloc.h>

#include "common.hpp"

using namespace bench;

namespace {
struct ServerConn {
    Buf ws;
    std::optional<Engine> e;
};

// Bytes per connection for N lockstep server engines (psk mode, suite AES-256-GCM).
double lockstep_rss(long n, std::uint16_t max_data, const ModeCase& m) {
    crypto::openssl::OpenSslProvider pc, ps;
    OnePsk store;
    crypto::Signer *cs = nullptr, *ss = nullptr;
    if (mode_uses_cert(m.mode)) {
        cs = creds(m.alg).client_key.get();
        ss = creds(m.alg).server_key.get();
    }
    PairConfig cfg = pair_config(m, pc, ps, cs, ss, store, Suite::aes256gcm, max_data);
    Pair p(max_data);  // its client half is reused; its server half is replaced per connection
    std::vector<std::unique_ptr<ServerConn>> conns;
    conns.reserve(static_cast<std::size_t>(n));
    malloc_trim(0);
    const long before = vmrss_kib();
    for (long i = 0; i < n; ++i) {
        auto sc = std::make_unique<ServerConn>();
        sc->ws.assign(Engine::workspace_size(max_data), 0);  // as src/net/server.cpp does
        sc->e.emplace(cfg.s, sc->ws);
        p.c.reset();
        p.c.emplace(cfg.c, p.wc);
        p.c_done = p.s_done = false;
        // drive: client <-> this server engine
        if (!sc->e->start(p.clk.now()) || !p.c->start(p.clk.now())) die("start");
        for (int k = 0; k < 10 && !(sc->e->established() && p.c->established()); ++k) {
            p.pump(*p.c, *sc->e);
            p.pump(*sc->e, *p.c);
        }
        Event ev;
        while (sc->e->poll_event(ev)) {
        }
        if (!sc->e->established()) die("lockstep handshake failed");
        conns.push_back(std::move(sc));
    }
    p.c.reset();
    malloc_trim(0);
    const long after = vmrss_kib();
    return static_cast<double>(after - before) * 1024.0 / static_cast<double>(n);
}

double tls_rss(long n, bool release_buffers) {
    TlsWorld w;
    if (release_buffers) {
        SSL_CTX_set_mode(w.sctx, SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_mode(w.cctx, SSL_MODE_RELEASE_BUFFERS);
    }
    std::vector<std::unique_ptr<TlsPair>> conns;
    conns.reserve(static_cast<std::size_t>(n));
    malloc_trim(0);
    const long before = vmrss_kib();
    for (long i = 0; i < n; ++i) {
        auto t = std::make_unique<TlsPair>(w);
        if (!t->handshake()) die("TLS handshake failed");
        t->free_client();
        conns.push_back(std::move(t));
    }
    malloc_trim(0);
    const long after = vmrss_kib();
    return static_cast<double>(after - before) * 1024.0 / static_cast<double>(n);
}
}  // namespace

int main(int argc, char** argv) {
    Args a = parse_args(argc, argv, "  (--n: connections, default 10000, --quick 1000)");
    const long n = a.n > 0 ? a.n : a.quick ? 1000 : 10000;
    std::printf("\nbench_memory: per-connection memory\n");
    std::printf("sizeof(lockstep::Engine)            %8zu B  (all state incl. keys; workspace excluded) "
                "target <= 2048: %s\n",
                sizeof(Engine), sizeof(Engine) <= 2048 ? "MET" : "MISSED");
    std::printf("Engine::workspace_size(16384)       %8zu B\n", Engine::workspace_size(16384));
    std::printf("Engine::workspace_size(1024)        %8zu B\n", Engine::workspace_size(1024));
    std::printf("Engine::max_message_size(16384)     %8zu B\n", Engine::max_message_size(16384));
    Stat one{};
    one.runs = 1;
    auto st = [](double v) {
        Stat s;
        s.runs = 1;
        s.median = s.min = s.max = v;
        return s;
    };
    json_metric(a, "memory/sizeof_engine", static_cast<double>(sizeof(Engine)), kNaN, "", kNaN, "bytes",
                st(static_cast<double>(sizeof(Engine))));
    json_metric(a, "memory/workspace_16384", static_cast<double>(Engine::workspace_size(16384)), kNaN, "", kNaN,
                "bytes", st(static_cast<double>(Engine::workspace_size(16384))));
    json_metric(a, "memory/workspace_1024", static_cast<double>(Engine::workspace_size(1024)), kNaN, "", kNaN, "bytes",
                st(static_cast<double>(Engine::workspace_size(1024))));

    // RSS is measured once per configuration (a process-wide quantity; repeating it
    // in the same process would measure a warmed-up heap).
    const ModeCase& m = mode_cases()[0];  // cert-ed25519
    double tls_def = tls_rss(n, false);
    double tls_rel = tls_rss(n, true);
    double ls16 = lockstep_rss(n, 16384, m);
    double ls1 = lockstep_rss(n, 1024, m);
    std::printf("\nresident memory per idle established server-side connection (VmRSS delta / N, N = %ld, one run):\n", n);
    std::printf("%-52s %12s %10s\n", "configuration", "B/conn", "vs TLS");
    rule(78);
    std::printf("%-52s %12.0f %10s\n", "OpenSSL TLS 1.3 server SSL (default mode)", tls_def, "1.00x");
    std::printf("%-52s %12.0f %9.2fx\n", "OpenSSL TLS 1.3 server SSL (SSL_MODE_RELEASE_BUFFERS)", tls_rel, tls_rel / tls_def);
    std::printf("%-52s %12.0f %9.2fx\n", "lockstep Engine + workspace, max_data 16384", ls16, ls16 / tls_def);
    std::printf("%-52s %12.0f %9.2fx\n", "lockstep Engine + workspace, max_data 1024", ls1, ls1 / tls_def);
    json_metric(a, "memory/rss_per_conn/max_data_16384", ls16, tls_def, "openssl-tls13-ssl-default", ls16 / tls_def,
                "bytes", st(ls16));
    json_metric(a, "memory/rss_per_conn/max_data_1024", ls1, tls_def, "openssl-tls13-ssl-default", ls1 / tls_def,
                "bytes", st(ls1));
    json_metric(a, "memory/rss_per_conn/max_data_16384_vs_release_buffers", ls16, tls_rel,
                "openssl-tls13-ssl-release-buffers", ls16 / tls_rel, "bytes", st(ls16));
    std::printf("\n(lockstep: cert-ed25519 handshake, the workspace zero-filled as src/net/server.cpp does, so it is all\n"
                " resident; TLS: mutual-auth Ed25519 handshake over memory BIOs, client SSL freed, server SSL + BIOs kept;\n"
                " both include malloc overhead; sockets and kernel buffers are not included)\n");
    (void)one;
    return 0;
}
