// SPDX-License-Identifier: Apache-2.0
// bench_memory — per-connection memory: sizeof(Engine), Engine::workspace_size,
// and the resident memory (VmRSS) of N idle established server-side connections
// in one process: lockstep engines (+ their workspaces) vs OpenSSL SSL objects
// after a TLS 1.3 handshake, both over memory. The client side of each pair is
// freed right after its handshake, so the delta is the server's N connections.
// Then the same for a real net::Server over loopback TCP: N clients in a forked
// process connect, make one request each and stay idle; the server process's
// VmRSS delta per connection while active, once idle (after idle_trim), and
// after the clients closed.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "common.hpp"
#include "lockstep/net.hpp"

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

// The client process: n connections in batches, each makes one request, then
// all stay open until the parent writes a byte; then all close.
[[noreturn]] void idle_clients(const Config& cfg, std::uint16_t port, long n, int in, int out) {
    std::vector<std::unique_ptr<net::AsyncClient>> cs;
    const Buf body(64, 0x11);
    constexpr long kBatch = 64;
    for (long first = 0; first < n; first += kBatch) {
        const long end = std::min(n, first + kBatch);
        for (long i = first; i < end; ++i) {
            cs.push_back(std::make_unique<net::AsyncClient>(cfg, net::Transport::tcp));
            if (!cs.back()->start("127.0.0.1", port)) _exit(3);
        }
        std::vector<int> state(static_cast<std::size_t>(end - first), 0);  // 0 connecting, 1 requested, 2 answered
        for (int done = 0, rounds = 0; done < end - first; ++rounds) {
            if (rounds > 100000) _exit(4);
            std::vector<pollfd> p;
            for (long i = first; i < end; ++i)
                p.push_back({cs[static_cast<std::size_t>(i)]->fd(),
                             static_cast<short>(POLLIN | (cs[static_cast<std::size_t>(i)]->want_write() ? POLLOUT : 0)), 0});
            if (::poll(p.data(), p.size(), 1000) < 0) _exit(5);
            for (long i = first; i < end; ++i) {
                auto& c = *cs[static_cast<std::size_t>(i)];
                const pollfd& q = p[static_cast<std::size_t>(i - first)];
                if (q.revents & POLLOUT) (void)c.flush();
                if (q.revents & (POLLIN | POLLERR | POLLHUP)) (void)c.on_readable();
                Event ev;
                int& st = state[static_cast<std::size_t>(i - first)];
                while (c.poll_event(ev)) {
                    if (ev.kind == EventKind::closed) _exit(6);
                    if (ev.kind == EventKind::response && st == 1) {
                        st = 2;
                        ++done;
                    }
                }
                if (st == 0 && c.engine().can_send_request()) {
                    if (!c.engine().send_request(body, net::clock_now())) _exit(7);
                    (void)c.flush();
                    st = 1;
                }
            }
        }
    }
    char b = 1;
    write_full(out, &b, 1);
    (void)read_full(in, &b, 1);
    for (auto& c : cs) {
        (void)c->engine().close(net::clock_now());
        (void)c->flush();
    }
    cs.clear();
    _exit(0);
}

struct ServerRss {
    double active = 0, idle = 0, closed = 0;  // bytes per connection
};

// A net::Server (one loop, default options but idle_trim) with n idle TCP connections.
ServerRss server_rss(long n, std::uint16_t max_data, const ModeCase& m, std::chrono::milliseconds idle_trim) {
    crypto::openssl::OpenSslProvider pc, ps;
    OnePsk store;
    PairConfig cfg = pair_config(m, pc, ps, creds(m.alg).client_key.get(), creds(m.alg).server_key.get(), store,
                                 Suite::aes256gcm, max_data);
    net::ServerOptions so;
    so.max_connections = static_cast<std::size_t>(n) + 64;
    so.idle_trim = idle_trim;
    net::Server server(cfg.s, so, [](std::span<const std::uint8_t>, const net::PeerInfo&, std::span<std::uint8_t> r) {
        return fill_response(r, 64);
    });
    if (!server.bind()) die("net::Server::bind");
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) die("pipe");
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid == 0) idle_clients(cfg.c, server.tcp_port(), n, to_child[0], from_child[1]);
    std::thread loop([&] { (void)server.run(); });
    malloc_trim(0);
    const long before = vmrss_kib();
    char b = 0;
    if (!read_full(from_child[0], &b, 1)) die("the client process failed");
    const long active = vmrss_kib();
    // Idle: wait until idle_trim has passed for every connection.
    std::this_thread::sleep_for(idle_trim + std::chrono::milliseconds(500));
    const long idle = vmrss_kib();
    write_full(to_child[1], &b, 1);
    int status = 0;
    ::waitpid(pid, &status, 0);
    for (int i = 0; i < 1000 && server.counters().closed < static_cast<std::uint64_t>(n); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polled: the loop removes them
    malloc_trim(0);
    const long closed = vmrss_kib();
    server.stop();
    loop.join();
    ::close(to_child[0]);
    ::close(to_child[1]);
    ::close(from_child[0]);
    ::close(from_child[1]);
    if (server.counters().errors != 0) die("server errors");
    const auto per = [&](long kib) { return static_cast<double>(kib - before) * 1024.0 / static_cast<double>(n); };
    return {per(active), per(idle), per(closed)};
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
    // The same over real sockets: a net::Server with n idle TCP connections.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < static_cast<rlim_t>(n) + 256) {
        rl.rlim_cur = std::max<rlim_t>(rl.rlim_cur, std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(n) + 256));
        (void)::setrlimit(RLIMIT_NOFILE, &rl);
    }
    const ServerRss sv16 = server_rss(n, 16384, m, std::chrono::milliseconds(200));
    const ServerRss sv1 = server_rss(n, 1024, m, std::chrono::milliseconds(200));
    std::printf("%-52s %12.0f %9.2fx\n", "net::Server, max_data 16384, all up (some trimmed)", sv16.active,
                sv16.active / tls_def);
    std::printf("%-52s %12.0f %9.2fx\n", "net::Server, max_data 16384, idle (after idle_trim)", sv16.idle,
                sv16.idle / tls_def);
    std::printf("%-52s %12.0f %10s\n", "net::Server, max_data 16384, after all closed", sv16.closed, "");
    std::printf("%-52s %12.0f %9.2fx\n", "net::Server, max_data 1024, idle (after idle_trim)", sv1.idle,
                sv1.idle / tls_def);
    json_metric(a, "memory/server_rss_per_idle_conn/max_data_16384", sv16.idle, tls_def, "openssl-tls13-ssl-default",
                sv16.idle / tls_def, "bytes", st(sv16.idle));
    json_metric(a, "memory/server_rss_per_active_conn/max_data_16384", sv16.active, tls_def,
                "openssl-tls13-ssl-default", sv16.active / tls_def, "bytes", st(sv16.active));
    json_metric(a, "memory/server_rss_per_idle_conn/max_data_1024", sv1.idle, tls_def, "openssl-tls13-ssl-default",
                sv1.idle / tls_def, "bytes", st(sv1.idle));
    std::printf("target: an idle established connection <= 8 KB of server memory at max_data 16384: %.0f B -> %s\n",
                sv16.idle, sv16.idle <= 8192 ? "MET" : "MISSED");
    std::printf("\n(lockstep Engine rows: cert-ed25519 handshake, the workspace zero-filled, so it is all resident\n"
                " (what net::Server did before its workspace pool); net::Server rows: one loop, idle_trim 200 ms, the\n"
                " server process's VmRSS with the clients in another process; TLS: mutual-auth Ed25519 handshake over memory BIOs, client SSL freed, server SSL + BIOs kept;\n"
                " both include malloc overhead; sockets and kernel buffers are not included)\n");
    (void)one;
    return 0;
}
