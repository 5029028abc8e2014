// SPDX-License-Identifier: Apache-2.0
// bench_loopback — request/response/ack over loopback TCP, one connection, one
// request outstanding: lockstep (net::Server on its own thread, the blocking
// net::Client) against the same pattern over OpenSSL TLS 1.3 sockets and over
// plain TCP (a blocking server thread, a blocking client).
//
// The pattern, identical on all three: a 64-byte request naming the response
// size, the response, then a small application "ack" from the client (lockstep:
// its DATA ACK; baselines: 8 bytes, the mirror of DATA ACK). A lockstep message
// carries at most max_data = 16 KiB (spec: PROTOCOL.md §6.7), so a 1 MiB response
// is 64 exchanges of 16 KiB on every transport; its latency is the time of all 64.
// "Fresh keys every 10 responses": lockstep re-keys in place (rekey.after_responses
// = 10, counted in 16 KiB messages); TLS 1.3 has no fresh-DH re-key, so its client
// reconnects (TCP + full mutual-auth handshake) before every 11th message exchange.
// Latency of an exchange runs from the moment the client wants to send the request
// until the whole response is in, so it includes any re-key or reconnect in between.
#include <csignal>

#include "links.hpp"

using namespace bench;

namespace {

// The baseline server: one blocking thread, one connection at a time, serving
// request -> response -> ack until the client goes away. tls == nullptr: plain TCP.
class BaselineServer {
public:
    explicit BaselineServer(TlsWorld* tls) : tls_(tls), lfd_(listen_loopback(port_)), response_(kChunk, 0x5a) {
        thread_ = std::thread([this] { accept_loop(); });
    }
    ~BaselineServer() {
        stopping_ = true;
        (void)::shutdown(lfd_, SHUT_RDWR);  // wakes accept()
        thread_.join();
        ::close(lfd_);
    }
    std::uint16_t port() const { return port_; }

private:
    template <class Io>
    void serve(const Io& io) {
        std::uint8_t req[kRequest], ack[kAck];
        for (;;) {
            if (!io.read(req, sizeof req)) return;
            const std::size_t n = std::min(wanted_size(req), response_.size());
            if (!io.write(response_.data(), n) || !io.read(ack, sizeof ack)) return;
        }
    }
    void accept_loop() {
        while (!stopping_) {
            const int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            nodelay(fd);
            if (!tls_) {
                serve(PlainIo{fd});
            } else {
                SSL* s = SSL_new(tls_->sctx);
                if (!s) die("SSL_new");
                SSL_set_fd(s, fd);
                if (SSL_accept(s) == 1) serve(TlsIo{s});
                SSL_free(s);
            }
            ::close(fd);
        }
    }

    TlsWorld* tls_;
    std::uint16_t port_ = 0;
    int lfd_;
    Buf response_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

// The baseline client. reconnect_every > 0: a new connection (TCP + TLS handshake)
// before every (reconnect_every + 1)th message exchange.
class BaselineClient {
public:
    BaselineClient(TlsWorld* tls, std::uint16_t port, int reconnect_every)
        : tls_(tls), port_(port), every_(reconnect_every), resp_(kChunk), ack_(kAck, 0x22) {
        connect();
    }
    ~BaselineClient() { disconnect(); }
    bool exchange(const Buf& req, std::size_t n) {
        if (every_ > 0 && done_ == every_) {
            disconnect();
            connect();
        }
        ++done_;
        return tls_ ? exchange_on(TlsIo{ssl_}, req, n) : exchange_on(PlainIo{fd_}, req, n);
    }

private:
    template <class Io>
    bool exchange_on(const Io& io, const Buf& req, std::size_t n) {
        return io.write(req.data(), req.size()) && io.read(resp_.data(), n) && io.write(ack_.data(), ack_.size());
    }
    void connect() {
        fd_ = connect_loopback(port_);
        done_ = 0;
        if (!tls_) return;
        ssl_ = SSL_new(tls_->cctx);
        if (!ssl_) die("SSL_new");
        SSL_set_fd(ssl_, fd_);
        if (SSL_connect(ssl_) != 1) die("TLS 1.3 handshake over loopback failed");
    }
    void disconnect() {
        if (ssl_) {
            (void)SSL_shutdown(ssl_);  // close_notify; not waiting for the server's
            SSL_free(ssl_);
            ssl_ = nullptr;
        }
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    TlsWorld* tls_;
    std::uint16_t port_;
    int every_, done_ = 0, fd_ = -1;
    SSL* ssl_ = nullptr;
    Buf resp_, ack_;
};

// ---------------------------------------------------------------- measuring
struct Sample {
    double rate = 0, mbps = 0, p50 = 0, p99 = 0;  // exchanges/s, MB/s of response, µs
};

// Runs logical exchanges of `size` bytes (in chunks of at most kChunk) for at least
// `secs` and `min_n` exchanges; exchange(request, chunk) does one message exchange.
template <class F>
Sample measure(double secs, std::size_t size, F&& exchange) {
    const std::size_t chunk = std::min(size, kChunk), chunks = (size + kChunk - 1) / kChunk;
    const Buf req = request_for(chunk);
    for (int i = 0; i < 2 * kFreshKeysEvery; ++i)  // warm-up
        if (!exchange(req, chunk)) die("exchange failed");
    constexpr long kMinExchanges = 20;
    std::vector<double> lat;
    long n = 0;
    const auto t0 = Clock::now();
    double el = 0;
    do {
        const auto a = Clock::now();
        for (std::size_t c = 0; c < chunks; ++c)
            if (!exchange(req, chunk)) die("exchange failed");
        lat.push_back(seconds_since(a) * 1e6);
        ++n;
        el = seconds_since(t0);
    } while (el < secs || n < kMinExchanges);
    Sample s;
    s.rate = static_cast<double>(n) / el;
    s.mbps = s.rate * static_cast<double>(size) / 1e6;
    s.p50 = percentile(lat, 50);
    s.p99 = percentile(lat, 99);
    return s;
}

// k clients at once, one thread each, 64 B responses, no chunks: total
// exchanges/s over all clients, latency percentiles over all exchanges.
// exchange(i, request, n) does one exchange on client i.
template <class F>
Sample measure_many(double secs, int k, F&& exchange) {
    const Buf req = request_for(64);
    std::vector<std::vector<double>> lat(static_cast<std::size_t>(k));
    std::atomic<int> ready{0};
    std::atomic<bool> go{false}, failed{false};
    std::vector<double> elapsed(static_cast<std::size_t>(k));
    std::vector<std::thread> ts;
    for (int i = 0; i < k; ++i)
        ts.emplace_back([&, i] {
            for (int w = 0; w < 2 * kFreshKeysEvery; ++w)  // warm-up
                if (!exchange(i, req, 64)) failed = true;
            ++ready;
            while (!go) std::this_thread::yield();
            auto& l = lat[static_cast<std::size_t>(i)];
            const auto t0 = Clock::now();
            while (!failed && (seconds_since(t0) < secs || l.size() < 20)) {
                const auto a = Clock::now();
                if (!exchange(i, req, 64)) failed = true;
                l.push_back(seconds_since(a) * 1e6);
            }
            elapsed[static_cast<std::size_t>(i)] = seconds_since(t0);
        });
    while (ready < k && !failed) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polled: the warm-ups
    go = true;
    for (auto& t : ts) t.join();
    if (failed) die("exchange failed");
    std::vector<double> all;
    for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
    Sample s;
    s.rate = static_cast<double>(all.size()) / *std::max_element(elapsed.begin(), elapsed.end());
    s.mbps = s.rate * 64 / 1e6;
    s.p50 = percentile(all, 50);
    s.p99 = percentile(all, 99);
    return s;
}

struct Series {
    std::vector<double> rate, mbps, p50, p99;
    void add(const Sample& s) {
        rate.push_back(s.rate);
        mbps.push_back(s.mbps);
        p50.push_back(s.p50);
        p99.push_back(s.p99);
    }
};

struct SizeCase {
    const char* label;  // tables
    const char* key;    // JSON names
    std::size_t bytes;
};

enum Variant { kLsRekeyCert, kLsRekeyPsk, kTlsReconnect, kLsCert, kTls, kPlain, kVariants };
const char* const kVariantName[kVariants] = {
    "lockstep cert-ed25519, re-key/10", "lockstep psk, re-key/10", "TLS 1.3, reconnect/10",
    "lockstep cert-ed25519",            "TLS 1.3",                 "plain TCP"};
const char* const kVariantKey[kVariants] = {"lockstep-cert-ed25519", "lockstep-psk", "openssl-tls13-reconnect10",
                                            "lockstep-cert-ed25519", "openssl-tls13", "plain-tcp"};

// kULsCores: the same server with a loop per core (at least 2), many clients only.
enum UdpVariant { kULs, kULsCores, kUDtls, kULsRekeyCert, kULsRekeyPsk, kUDtlsReconnect, kUdpVariants };
const char* const kUdpName[kUdpVariants] = {"lockstep cert-ed25519",
                                            "lockstep cert-ed25519, loop/core",
                                            "DTLS 1.2",
                                            "lockstep cert-ed25519, re-key/10",
                                            "lockstep psk, re-key/10",
                                            "DTLS 1.2, reconnect/10"};
const char* const kUdpKey[kUdpVariants] = {"lockstep-cert-ed25519", "lockstep-cert-ed25519-loop-per-core",
                                           "openssl-dtls12",        "lockstep-cert-ed25519",
                                           "lockstep-psk",          "openssl-dtls12-reconnect10"};

// Options of this program beyond parse_args': --only tcp|tcp64|udp (a part of
// the run), --threads N (the server's loops).
constexpr const char* kUsageExtra = " [--only tcp|tcp64|udp] [--threads N]";
struct Extra {
    std::string only;  // empty: everything
    int threads = 1;
};
// Takes this program's own options out of argv (the rest goes to parse_args).
Extra take_extra(int& argc, char** argv) {
    auto opt = take_options(argc, argv, {"--only", "--threads"});
    Extra x{opt["--only"], std::max(1, std::atoi(opt["--threads"].c_str()))};
    if (!x.only.empty() && x.only != "tcp" && x.only != "tcp64" && x.only != "udp") die("--only: tcp, tcp64 or udp");
    return x;
}

void report_tcp(const Args& a, const Extra& opt, int S, const SizeCase* sizes, const Series (*res)[kVariants],
                std::uint64_t rekeys, std::uint64_t server_errors);
void run_udp(const Args& a, const Extra& opt, double secs, const ModeCase& cert, const ModeCase& psk,
             std::uint64_t& rekeys, std::uint64_t& server_errors);

}  // namespace

int main(int argc, char** argv) {
    const Extra x = take_extra(argc, argv);
    Args a = parse_args(argc, argv, kUsageExtra);
    (void)std::signal(SIGPIPE, SIG_IGN);  // a peer gone mid-write is an error return, not a signal
    const double secs = a.quick ? 0.05 : 0.5;
    const SizeCase sizes[] = {{"64 B", "64B", 64}, {"16 KiB", "16KiB", 16384}, {"1 MiB", "1MiB", 1u << 20}};
    constexpr int kSizes = 3;
    const bool tcp = x.only != "udp", udp = x.only.empty() || x.only == "udp", all_tcp = x.only.empty() || x.only == "tcp";
    const int S = all_tcp ? kSizes : 1;  // tcp64: the 64 B row only
    const ModeCase& cert = mode_cases()[0];
    const ModeCase& psk = mode_cases()[2];
    TlsWorld tls;

    Series res[kSizes][kVariants];
    std::uint64_t rekeys = 0, server_errors = 0;
    auto lockstep = [&](const ModeCase& m, std::uint32_t rekey_after, std::size_t size) {
        LockstepLink link(m, rekey_after, net::Transport::tcp, 1, x.threads);
        Sample s = measure(secs, size, [&](const Buf& req, std::size_t n) { return link.exchange(req, n); });
        rekeys += link.counters().rekeys;
        server_errors += link.counters().errors;
        return s;
    };
    auto baseline = [&](TlsWorld* t, int reconnect_every, std::size_t size) {
        BaselineServer srv(t);
        BaselineClient cl(t, srv.port(), reconnect_every);
        return measure(secs, size, [&](const Buf& req, std::size_t n) { return cl.exchange(req, n); });
    };
    // Interleaved, so that the machine's load changes hit every variant alike.
    for (int r = 0; tcp && r < a.runs; ++r) {
        for (int i = 0; i < S; ++i) {
            const std::size_t z = sizes[i].bytes;
            if (all_tcp) {
                res[i][kLsRekeyCert].add(lockstep(cert, kFreshKeysEvery, z));
                res[i][kLsRekeyPsk].add(lockstep(psk, kFreshKeysEvery, z));
                res[i][kTlsReconnect].add(baseline(&tls, kFreshKeysEvery, z));
            }
            res[i][kLsCert].add(lockstep(cert, 0, z));
            res[i][kTls].add(baseline(&tls, 0, z));
            res[i][kPlain].add(baseline(nullptr, 0, z));
        }
    }

    if (tcp) report_tcp(a, x, S, sizes, res, rekeys, server_errors);
    if (udp) run_udp(a, x, secs, cert, psk, rekeys, server_errors);
    std::printf("server errors (TCP and UDP): %llu\n", static_cast<unsigned long long>(server_errors));
    return server_errors == 0 ? 0 : 1;
}

namespace {

void report_tcp(const Args& a, const Extra& opt, int S, const SizeCase* sizes, const Series (*res)[kVariants],
                std::uint64_t rekeys, std::uint64_t server_errors) {
    const bool all_tcp = S > 1;
    std::printf("\nbench_loopback: request/response/ack over loopback TCP, one connection, client and server threads\n");
    note_noise(a);
    std::printf("64 B requests; responses of 64 B / 16 KiB / 1 MiB (1 MiB = 64 exchanges of 16 KiB on every transport);\n"
                "TLS: OpenSSL %s TLS 1.3 mutual auth, Ed25519 certs, X25519, TLS_AES_256_GCM_SHA384, no tickets;\n"
                "lockstep: suite aes256gcm, max_data 16384, net::Server (%d loop%s) + blocking net::Client\n",
                OpenSSL_version(OPENSSL_VERSION_STRING), opt.threads, opt.threads == 1 ? "" : "s");

    auto table = [&](const char* title, std::initializer_list<int> variants, std::initializer_list<int> baselines) {
        std::printf("\n%s\n", title);
        std::printf("%-7s %-34s %9s %17s %9s %9s %9s", "size", "variant", "exch/s", "[min..max]", "MB/s", "p50 us",
                    "p99 us");
        for (int b : baselines) std::printf("  vs %-9.9s", b == kPlain ? "plain" : "TLS");
        std::printf("\n");
        rule(98 + 15 * static_cast<int>(baselines.size()));
        for (int i = 0; i < S; ++i) {
            for (int v : variants) {
                const Series& x = res[i][v];
                Stat rt = stat_of(x.rate), mb = stat_of(x.mbps), p50 = stat_of(x.p50), p99 = stat_of(x.p99);
                std::printf("%-7s %-34s %9.0f  [%6.0f..%6.0f] %9.1f %9.0f %9.0f", sizes[i].label, kVariantName[v],
                            rt.median, rt.min, rt.max, mb.median, p50.median, p99.median);
                const bool is_lockstep = v == kLsRekeyCert || v == kLsRekeyPsk || v == kLsCert;
                for (int b : baselines) {
                    if (!is_lockstep) {
                        std::printf("  %12s", "");
                        continue;
                    }
                    const Series& y = res[i][b];
                    const double ratio = rt.median / stat_of(y.rate).median;
                    std::printf("  %11.2fx", ratio);
                    const std::string n = std::string("loopback/") +
                                          (b == kTlsReconnect ? "fresh_keys_every_10/" : "no_rekey/") + sizes[i].key +
                                          "/" + kVariantKey[v] + "/vs_" + kVariantKey[b];
                    json_metric(a, n + "/exchanges", rt.median, stat_of(y.rate).median, kVariantKey[b], ratio,
                                "exchanges/s", rt);
                    json_metric(a, n + "/throughput", mb.median, stat_of(y.mbps).median, kVariantKey[b],
                                mb.median / stat_of(y.mbps).median, "MB/s", mb);
                    json_metric(a, n + "/p50", p50.median, stat_of(y.p50).median, kVariantKey[b],
                                p50.median / stat_of(y.p50).median, "us", p50);
                    json_metric(a, n + "/p99", p99.median, stat_of(y.p99).median, kVariantKey[b],
                                p99.median / stat_of(y.p99).median, "us", p99);
                }
                std::printf("\n");
            }
        }
    };
    if (all_tcp)
        table("fresh keys every 10 responses (lockstep re-keys in place; TLS reconnects with a full handshake):",
              {kLsRekeyCert, kLsRekeyPsk, kTlsReconnect}, {kTlsReconnect});
    table("no re-keys (one connection throughout):", {kLsCert, kTls, kPlain}, {kTls, kPlain});
    std::printf("\nexch/s: logical exchanges (one per response size) per second, medians of %d runs; MB/s of response\n"
                "payload (1 MB = 1e6 B); latency per logical exchange, incl. any re-key/reconnect before it;\n"
                "p50/p99: medians over runs of each run's percentile. Server re-keys counted: %llu; server errors: %llu\n",
                a.runs, static_cast<unsigned long long>(rekeys), static_cast<unsigned long long>(server_errors));

    auto ratio = [&](int i, int v, int b) { return stat_of(res[i][v].rate).median / stat_of(res[i][b].rate).median; };
    auto verdict = [](double r, double target) { return r >= target ? "MET" : "MISSED"; };
    std::printf("\ntargets:\n");
    for (int i = 0; all_tcp && i < S; ++i) {
        const double r = ratio(i, kLsRekeyCert, kTlsReconnect);
        std::printf("  fresh keys every 10, %-6s: lockstep cert-ed25519 >= 2.5x TLS 1.3: %.2fx -> %s  (psk: %.2fx -> %s)\n",
                    sizes[i].label, r, verdict(r, 2.5), ratio(i, kLsRekeyPsk, kTlsReconnect),
                    verdict(ratio(i, kLsRekeyPsk, kTlsReconnect), 2.5));
    }
    const double r64 = ratio(0, kLsCert, kPlain), t64 = ratio(0, kLsCert, kTls);
    std::printf("  no re-keys, 64 B exchanges >= 1.1x TLS 1.3:   %.2fx -> %s\n", t64, verdict(t64, 1.1));
    std::printf("  no re-keys, 64 B exchanges >= 0.85x plain TCP: %.2fx -> %s\n", r64, verdict(r64, 0.85));
    if (!all_tcp) return;
    const double r1m = ratio(2, kLsCert, kTls);
    std::printf("  no re-keys, 1 MiB responses >= 1.3x TLS 1.3:  %.2fx -> %s\n", r1m, verdict(r1m, 1.3));
}

void run_udp(const Args& a, const Extra& opt, double secs, const ModeCase& cert, const ModeCase& psk,
             std::uint64_t& rekeys, std::uint64_t& server_errors) {
    auto verdict = [](double r, double target) { return r >= target ? "MET" : "MISSED"; };
    DtlsWorld dtls;
    const int counts[2] = {1, a.quick ? 10 : 100};
    Series ures[2][kUdpVariants];
    const int per_core = std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
    auto lockstep_udp = [&](const ModeCase& m, std::uint32_t rekey_after, int k, int loops) {
        LockstepLink link(m, rekey_after, net::Transport::udp, k, loops);
        Sample s = measure_many(secs, k, [&](int i, const Buf& req, std::size_t n) {
            return link.exchange(req, n, static_cast<std::size_t>(i));
        });
        rekeys += link.counters().rekeys;
        server_errors += link.counters().errors;
        return s;
    };
    auto dtls_many = [&](int reconnect_every, int k) {
        std::vector<std::unique_ptr<DtlsLink>> links;
        for (int i = 0; i < k; ++i) links.push_back(std::make_unique<DtlsLink>(dtls, reconnect_every));
        return measure_many(secs, k, [&](int i, const Buf& req, std::size_t n) {
            return links[static_cast<std::size_t>(i)]->exchange(req, n);
        });
    };
    for (int r = 0; r < a.runs; ++r) {
        for (int i = 0; i < 2; ++i) {
            ures[i][kULs].add(lockstep_udp(cert, 0, counts[i], opt.threads));
            if (i == 1) ures[i][kULsCores].add(lockstep_udp(cert, 0, counts[i], per_core));
            ures[i][kUDtls].add(dtls_many(0, counts[i]));
            ures[i][kULsRekeyCert].add(lockstep_udp(cert, kFreshKeysEvery, counts[i], opt.threads));
            ures[i][kULsRekeyPsk].add(lockstep_udp(psk, kFreshKeysEvery, counts[i], opt.threads));
            ures[i][kUDtlsReconnect].add(dtls_many(kFreshKeysEvery, counts[i]));
        }
    }
    std::printf("\nUDP: 64 B request -> 64 B response -> ack over loopback UDP, k clients (one thread each) at once\n"
                "DTLS: OpenSSL %s DTLS 1.2, mutual auth, ECDSA P-256 certs (its DTLS 1.2 takes no Ed25519), X25519,\n"
                "ECDHE-ECDSA-AES256-GCM-SHA384, no "
                "tickets, no cookie exchange; one blocking server thread per client on its own connected socket;\n"
                "lockstep: net::Server (%d loop%s, recvmmsg/sendmmsg; \"loop/core\": %d loops) + blocking net::Client\n"
                "per client thread\n",
                OpenSSL_version(OPENSSL_VERSION_STRING), opt.threads, opt.threads == 1 ? "" : "s", per_core);
    std::printf("%-8s %-34s %9s %17s %9s %9s  %-9s\n", "clients", "variant", "exch/s", "[min..max]", "p50 us", "p99 us",
                "vs DTLS");
    rule(104);
    for (int i = 0; i < 2; ++i) {
        for (int v = 0; v < kUdpVariants; ++v) {
            if (ures[i][v].rate.empty()) continue;  // kULsCores: many clients only
            const Stat rt = stat_of(ures[i][v].rate), p50 = stat_of(ures[i][v].p50), p99 = stat_of(ures[i][v].p99);
            std::printf("%-8d %-34s %9.0f  [%6.0f..%6.0f] %9.0f %9.0f", counts[i], kUdpName[v], rt.median, rt.min,
                        rt.max, p50.median, p99.median);
            if (v == kUDtls || v == kUDtlsReconnect) {
                std::printf("\n");
                continue;
            }
            const int b = v == kULs || v == kULsCores ? kUDtls : kUDtlsReconnect;
            const double base = stat_of(ures[i][b].rate).median, vs = rt.median / base;
            std::printf("  %8.2fx\n", vs);
            const std::string n = std::string("loopback/udp/") + (b == kUDtls ? "no_rekey" : "fresh_keys_every_10") +
                                  "/clients_" + (i == 0 ? "1" : "many") + "/" + kUdpKey[v] + "/vs_" + kUdpKey[b];
            json_metric(a, n + "/exchanges", rt.median, base, kUdpKey[b], vs, "exchanges/s", rt);
            json_metric(a, n + "/p50", p50.median, stat_of(ures[i][b].p50).median, kUdpKey[b],
                        p50.median / stat_of(ures[i][b].p50).median, "us", p50);
        }
    }
    std::printf("\ntargets (UDP, >= 2x DTLS 1.2):\n");
    for (int i = 0; i < 2; ++i)
        for (int v : {kULs, kULsCores, kULsRekeyCert, kULsRekeyPsk}) {
            if (ures[i][v].rate.empty()) continue;
            const int b = v == kULs || v == kULsCores ? kUDtls : kUDtlsReconnect;
            const double r = stat_of(ures[i][v].rate).median / stat_of(ures[i][b].rate).median;
            std::printf("  %3d client(s), %-34s vs %-24s %.2fx -> %s\n", counts[i], kUdpName[v], kUdpName[b], r,
                        verdict(r, 2.0));
        }
}

}  // namespace
