// SPDX-License-Identifier: Apache-2.0
// bench_dos: legitimate clients' success rate and latency (p50/p99) while the
// server is attacked over loopback — idle TCP sockets, a HELLO flood with and
// without cookies, garbage datagrams — against the no-attack run measured in
// the same process (the anchor); the server thread's CPU per rejected datagram;
// amplification toward a silent address; RSS before, during and after.
// Attack traffic comes from 127.0.1.x / 127.0.2.x, clients from 127.0.0.1.
// Goals (docs/SECURITY.md): >= 99 % success under every attack, p99 <= 3x the
// anchor, amplification <= 3x.
#include <netinet/in.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include "common.hpp"
#include "lockstep/net.hpp"

using namespace lockstep;
using namespace bench;
using lockstep::net::Transport;

namespace {

sockaddr_in addr(const char* ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    a.sin_port = htons(port);
    return a;
}

const OnePsk& psks() {
    static const OnePsk p;
    return p;
}

Config server_config() {
    const Creds& c = creds(crypto::SigAlg::ed25519);
    Config s;
    s.role = Role::server;
    s.modes = {Mode::cert, Mode::psk};
    s.signer = c.server_key.get();
    s.certificate = c.server_cert;
    s.ca_certificate = c.ca_cert;
    s.psk_store = &psks();
    return s;
}

Config client_config(Mode m, crypto::Provider& p) {
    const Creds& c = creds(crypto::SigAlg::ed25519);
    Config k;
    k.provider = &p;
    k.modes = {m};
    k.ca_certificate = c.ca_cert;
    k.server_names = kBenchServerNames;
    k.signer = c.client_key.get();
    k.certificate = c.client_cert;
    k.psk = psks().key;
    k.psk_id = psk_id();
    return k;
}

struct Running {
    explicit Running(net::ServerOptions o)
        : server(server_config(), o, [](std::span<const std::uint8_t> r, const net::PeerInfo&, std::span<std::uint8_t> resp) {
              const std::size_t n = std::min(r.size(), resp.size());
              std::copy_n(r.begin(), n, resp.begin());
              return n;
          }) {
        if (!server.bind()) die("bind");
        thread = std::thread([this] {
            ::pthread_setname_np(::pthread_self(), "dos-server");  // for profilers (perf report --sort comm)
            (void)server.run();
        });
        while (!server_thread_known()) std::this_thread::yield();
    }
    ~Running() {
        server.stop();
        thread.join();
    }
    bool server_thread_known() { return thread.joinable(); }
    double cpu_seconds() {
        clockid_t id;
        if (pthread_getcpuclockid(thread.native_handle(), &id) != 0) return 0;
        timespec ts{};
        clock_gettime(id, &ts);
        return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
    }
    net::Server server;
    std::thread thread;
};

struct Legit {
    int ok = 0, total = 0;
    std::vector<double> ms;
    std::map<std::string, int> failed, slow;  // "udp/cert connect timeout" -> count; slow: > 100 ms
};

// n exchanges (connect, one request, close), alternating TCP / UDP and cert / psk.
Legit legitimate(Running& r, int n) {
    Legit out;
    crypto::openssl::OpenSslProvider p;
    for (int i = 0; i < n; ++i) {
        const Transport t = i % 2 ? Transport::udp : Transport::tcp;
        const Mode m = (i / 2) % 2 ? Mode::psk : Mode::cert;
        const auto t0 = Clock::now();
        net::Client c(client_config(m, p), t);
        const std::string what = std::string(t == Transport::tcp ? "tcp/" : "udp/") + mode_name(m);
        bool good = false;
        std::string why;
        auto st = c.connect("127.0.0.1", t == Transport::tcp ? r.server.tcp_port() : r.server.udp_port(),
                            std::chrono::seconds(5));
        const double connect_ms = seconds_since(t0) * 1e3;
        if (st) {
            const Buf body{'b', static_cast<std::uint8_t>(i)};
            auto resp = c.request(body, std::chrono::seconds(5));
            good = resp && *resp == body;
            if (!good) why = " request " + std::string(resp ? "wrong" : err_name(resp.error()));
        } else {
            why = " connect " + std::string(err_name(st.error()));
        }
        ++out.total;
        if (good) {
            ++out.ok;
            out.ms.push_back(seconds_since(t0) * 1e3);
            if (std::getenv("DOS_TRACE") && out.ms.back() > 50) std::printf("      #%d %s %.1f ms (connect %.1f)\n", i, what.c_str(), out.ms.back(), connect_ms);
            if (out.ms.back() > 100)
                ++out.slow[what + (connect_ms > 100 ? " connect" : " request") + " " +
                           std::to_string(static_cast<int>(out.ms.back() / 100) * 100) + "+ ms"];
        } else {
            ++out.failed[what + why];
        }
    }
    return out;
}

Buf make_hello(Mode m) {
    crypto::openssl::OpenSslProvider p;
    Config c = client_config(m, p);
    Buf ws(Engine::workspace_size(c.max_data));
    Engine e(c, ws);
    (void)e.start(net::clock_now());
    Buf out(Engine::max_message_size(c.max_data));
    auto n = e.poll_transmit(out);
    out.resize(n ? *n : 0);
    return out;
}

// A UDP flood of one payload kind from 250 sources until stopped.
struct Flood {
    Flood(std::uint16_t port, std::vector<Buf> payloads) {
        thread = std::thread([this, port, payloads] {
            ::pthread_setname_np(::pthread_self(), "dos-flood");
            std::vector<int> socks;
            for (int i = 0; i < 250; ++i) {
                const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
                char ip[32];
                std::snprintf(ip, sizeof ip, "127.0.2.%d", 1 + i);
                const sockaddr_in src = addr(ip, 0);
                (void)::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src);
                socks.push_back(fd);
            }
            const sockaddr_in dst = addr("127.0.0.1", port);
            while (!stop) {
                for (std::size_t i = 0; i < socks.size() && !stop; ++i) {
                    const Buf& b = payloads[i % payloads.size()];
                    if (::sendto(socks[i], b.data(), b.size(), 0, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) > 0)
                        ++sent;
                    if (i % 25 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
                }
            }
            for (int fd : socks) ::close(fd);
        });
    }
    ~Flood() {
        stop = true;
        thread.join();
    }
    std::atomic<bool> stop{false};
    std::atomic<long> sent{0};
    std::thread thread;
};

struct Row {
    std::string name;
    Legit legit;
    double cpu_us_per_datagram = kNaN;
    long rss_kib = 0;
};

void print_row(const Row& r, double anchor_p99) {
    std::vector<double> v = r.legit.ms;
    const double p50 = v.empty() ? kNaN : percentile(v, 50), p99 = v.empty() ? kNaN : percentile(v, 99);
    std::printf("%-34s %5d/%-5d %7.1f %%  %8.2f  %8.2f  %6.2fx  %10.2f  %8ld\n", r.name.c_str(), r.legit.ok,
                r.legit.total, 100.0 * r.legit.ok / std::max(1, r.legit.total), p50, p99, p99 / anchor_p99,
                r.cpu_us_per_datagram, r.rss_kib);
    for (const auto& [what, n] : r.legit.failed) std::printf("    failed: %s x%d\n", what.c_str(), n);
    for (const auto& [what, n] : r.legit.slow) std::printf("    slow: %s x%d\n", what.c_str(), n);
}

}  // namespace

int main(int argc, char** argv) {
    Args a = parse_args(argc, argv, "  (--n: idle TCP sockets, default 5000, --quick 1000)");
    const int idle_n = static_cast<int>(a.n > 0 ? a.n : a.quick ? 1000 : 5000);
    const int exchanges = a.quick ? 40 : 200;
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    (void)creds(crypto::SigAlg::ed25519);
    const long rss_start = vmrss_kib();
    std::printf("\nbench_dos: legitimate exchanges (connect + 1 request, TCP/UDP, cert/psk) under attack\n");
    std::printf("%-34s %11s %9s  %8s  %8s  %7s  %10s  %8s\n", "attack", "ok/total", "success", "p50 ms", "p99 ms",
                "p99/anc", "us/datagram", "RSS KiB");
    rule(110);
    std::vector<Row> rows;
    double anchor_p99 = 1;
    {
        net::ServerOptions o;
        o.udp = true;
        Running r(o);
        Row row{"none (anchor)", legitimate(r, exchanges)};
        row.rss_kib = vmrss_kib();
        std::vector<double> v = row.legit.ms;
        anchor_p99 = v.empty() ? 1 : percentile(v, 99);
        print_row(row, anchor_p99);
    }
    {
        net::ServerOptions o;
        o.udp = true;
        Running r(o);
        std::vector<int> idle;
        for (int i = 0; i < idle_n; ++i) {
            const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0) break;
            char ip[32];
            std::snprintf(ip, sizeof ip, "127.0.1.%d", 1 + i % 250);
            const sockaddr_in src = addr(ip, 0), dst = addr("127.0.0.1", r.server.tcp_port());
            (void)::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src);
            (void)::connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
            idle.push_back(fd);
        }
        Row row{"idle TCP x" + std::to_string(idle.size()), legitimate(r, exchanges)};
        row.rss_kib = vmrss_kib();
        print_row(row, anchor_p99);
        for (int fd : idle) ::close(fd);
    }
    const Buf hello_cert = make_hello(Mode::cert), hello_psk = make_hello(Mode::psk);
    struct FloodCase {
        const char* name;
        std::vector<Buf> payloads;
        std::size_t cookie_threshold;
    } floods[] = {
        {"HELLO flood, cookies under load", {hello_cert, hello_psk}, 256},
        {"HELLO flood, no cookies", {hello_cert, hello_psk}, SIZE_MAX},
        {"garbage / spoofed records", {Buf(60, 0x17), Buf{0x55, 1, 2, 3}}, 256},
    };
    long rss_during = 0;
    for (const auto& f : floods) {
        net::ServerOptions o;
        o.udp = true;
        o.cookie_threshold = f.cookie_threshold;
        Running r(o);
        const double cpu0 = r.cpu_seconds();
        Flood flood(r.server.udp_port(), f.payloads);
        Row row{f.name, legitimate(r, exchanges)};
        row.rss_kib = vmrss_kib();
        rss_during = std::max(rss_during, row.rss_kib);
        const long n = flood.sent.load();
        row.cpu_us_per_datagram = n > 0 ? (r.cpu_seconds() - cpu0) * 1e6 / static_cast<double>(n) : kNaN;
        print_row(row, anchor_p99);
    }
    rule(110);
    std::printf("(us/datagram: the server thread's CPU over the run, legitimate work included, per flood datagram)\n");

    // Amplification: one bare cert-mode HELLO from an address that never answers.
    {
        net::ServerOptions o;
        o.tcp = false;
        o.udp = true;
        o.handshake_timeout = std::chrono::seconds(2);
        Running r(o);
        for (std::uint16_t pad : {std::uint16_t{0}, std::uint16_t{256}}) {
            crypto::openssl::OpenSslProvider p;
            Config c = client_config(Mode::cert, p);
            c.hello_pad_to = pad;
            Buf ws(Engine::workspace_size(c.max_data));
            Engine e(c, ws);
            (void)e.start(net::clock_now());
            Buf hello(Engine::max_message_size(c.max_data));
            hello.resize(*e.poll_transmit(hello));
            const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
            const sockaddr_in src = addr("127.0.3.1", 0), dst = addr("127.0.0.1", r.server.udp_port());
            (void)::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src);
            (void)::sendto(fd, hello.data(), hello.size(), 0, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
            const auto t0 = Clock::now();
            const auto before = r.server.counters();
            while (seconds_since(t0) < 10) {
                const auto now = r.server.counters();
                if (now.closed > before.closed || now.cookies > before.cookies) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            std::size_t got = 0;
            Buf buf(65536);
            for (ssize_t n; (n = ::recv(fd, buf.data(), buf.size(), 0)) > 0;) got += static_cast<std::size_t>(n);
            ::close(fd);
            const double ratio = static_cast<double>(got) / static_cast<double>(hello.size());
            std::printf("amplification, cert HELLO %4zu B (pad %3u): %5zu B back = %.2fx (goal <= 3x: %s)\n",
                        hello.size(), pad, got, ratio, ratio <= 3.0 ? "MET" : "MISSED");
            json_metric(a, "dos/amplification_pad" + std::to_string(pad), ratio, kNaN, "", kNaN, "x", Stat{});
        }
    }
    (void)::malloc_trim(0);
    const long rss_after = vmrss_kib();
    std::printf("RSS: start %ld KiB, peak during floods %ld KiB, after %ld KiB (after/start %.2fx, goal <= 2x)\n",
                rss_start, rss_during, rss_after, static_cast<double>(rss_after) / static_cast<double>(rss_start));
    return 0;
}
