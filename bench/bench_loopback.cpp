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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "common.hpp"
#include "lockstep/net.hpp"

using namespace bench;

namespace {

constexpr std::size_t kRequest = 64, kAck = 8;
constexpr std::size_t kChunk = Config{}.max_data;  // the largest lockstep message body
constexpr int kFreshKeysEvery = 10;                // responses per epoch / per TLS connection
constexpr auto kTimeout = std::chrono::seconds(10);

// The request body: 64 bytes, the first 4 the wanted response size (big-endian).
Buf request_for(std::size_t n) {
    Buf r(kRequest, 0x11);
    for (int i = 0; i < 4; ++i) r[i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
    return r;
}
std::size_t wanted_size(std::span<const std::uint8_t> req) {
    if (req.size() < 4) return 0;
    return std::size_t{req[0]} << 24 | std::size_t{req[1]} << 16 | std::size_t{req[2]} << 8 | req[3];
}

// ---------------------------------------------------------------- sockets (baselines)
void nodelay(int fd) {
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}
int listen_loopback(std::uint16_t& port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        die("listen on 127.0.0.1");
    port = ntohs(a.sin_port);
    return fd;
}
int connect_loopback(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(port);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect to 127.0.0.1");
    nodelay(fd);
    return fd;
}

// Whole-buffer reads and writes over a blocking socket, plain or TLS.
struct PlainIo {
    int fd;
    bool read(std::uint8_t* p, std::size_t n) const { return read_full(fd, p, n); }
    bool write(const std::uint8_t* p, std::size_t n) const { return write_full(fd, p, n); }
};
struct TlsIo {
    SSL* ssl;
    bool read(std::uint8_t* p, std::size_t n) const {
        while (n > 0) {
            std::size_t got = 0;
            if (SSL_read_ex(ssl, p, n, &got) != 1) return false;
            p += got;
            n -= got;
        }
        return true;
    }
    bool write(const std::uint8_t* p, std::size_t n) const {
        std::size_t put = 0;  // blocking, no partial writes: one call writes everything
        return SSL_write_ex(ssl, p, n, &put) == 1 && put == n;
    }
};

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

// ---------------------------------------------------------------- lockstep
// A net::Server on its own thread and one blocking net::Client connected to it.
class LockstepLink {
public:
    LockstepLink(const ModeCase& m, std::uint32_t rekey_after)
        : cfg_(configs(m, rekey_after)),
          server_(cfg_.s, net::ServerOptions{}, [](std::span<const std::uint8_t> req, const net::PeerInfo&) {
              return std::vector<std::uint8_t>(std::min(wanted_size(req), kChunk), 0x5a);
          }) {
        if (!server_.bind()) die("net::Server::bind");
        thread_ = std::thread([this] { (void)server_.run(); });
        client_.emplace(cfg_.c, net::Transport::tcp);
        if (!client_->connect("127.0.0.1", server_.tcp_port(), kTimeout)) die("lockstep connect over loopback");
    }
    ~LockstepLink() {
        (void)client_->close(std::chrono::seconds(1));
        client_.reset();
        server_.stop();
        thread_.join();
    }
    bool exchange(const Buf& req, std::size_t n) {
        auto r = client_->request(req, kTimeout);
        return r && r->size() == n;
    }
    net::Server::Counters counters() const { return server_.counters(); }

private:
    PairConfig configs(const ModeCase& m, std::uint32_t rekey_after) {
        crypto::Signer *cs = nullptr, *ss = nullptr;
        if (mode_uses_cert(m.mode)) {
            cs = creds(m.alg).client_key.get();
            ss = creds(m.alg).server_key.get();
        }
        // The server replaces the provider with one per loop.
        PairConfig p = pair_config(m, provider_, provider_, cs, ss, store_);
        p.c.rekey.after_responses = p.s.rekey.after_responses = rekey_after;
        return p;
    }

    crypto::openssl::OpenSslProvider provider_;  // the client's
    OnePsk store_;
    PairConfig cfg_;
    net::Server server_;
    std::thread thread_;
    std::optional<net::Client> client_;
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

}  // namespace

int main(int argc, char** argv) {
    Args a = parse_args(argc, argv);
    (void)std::signal(SIGPIPE, SIG_IGN);  // a peer gone mid-write is an error return, not a signal
    const double secs = a.quick ? 0.05 : 0.5;
    const SizeCase sizes[] = {{"64 B", "64B", 64}, {"16 KiB", "16KiB", 16384}, {"1 MiB", "1MiB", 1u << 20}};
    constexpr int S = 3;
    const ModeCase& cert = mode_cases()[0];
    const ModeCase& psk = mode_cases()[2];
    TlsWorld tls;

    Series res[S][kVariants];
    std::uint64_t rekeys = 0, server_errors = 0;
    auto lockstep = [&](const ModeCase& m, std::uint32_t rekey_after, std::size_t size) {
        LockstepLink link(m, rekey_after);
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
    for (int r = 0; r < a.runs; ++r) {
        for (int i = 0; i < S; ++i) {
            const std::size_t z = sizes[i].bytes;
            res[i][kLsRekeyCert].add(lockstep(cert, kFreshKeysEvery, z));
            res[i][kLsRekeyPsk].add(lockstep(psk, kFreshKeysEvery, z));
            res[i][kTlsReconnect].add(baseline(&tls, kFreshKeysEvery, z));
            res[i][kLsCert].add(lockstep(cert, 0, z));
            res[i][kTls].add(baseline(&tls, 0, z));
            res[i][kPlain].add(baseline(nullptr, 0, z));
        }
    }

    std::printf("\nbench_loopback: request/response/ack over loopback TCP, one connection, client and server threads\n");
    note_noise(a);
    std::printf("64 B requests; responses of 64 B / 16 KiB / 1 MiB (1 MiB = 64 exchanges of 16 KiB on every transport);\n"
                "TLS: OpenSSL %s TLS 1.3 mutual auth, Ed25519 certs, X25519, TLS_AES_256_GCM_SHA384, no tickets;\n"
                "lockstep: suite aes256gcm, max_data 16384, net::Server (1 loop) + blocking net::Client\n",
                OpenSSL_version(OPENSSL_VERSION_STRING));

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
    for (int i = 0; i < S; ++i) {
        const double r = ratio(i, kLsRekeyCert, kTlsReconnect);
        std::printf("  fresh keys every 10, %-6s: lockstep cert-ed25519 >= 2.5x TLS 1.3: %.2fx -> %s  (psk: %.2fx -> %s)\n",
                    sizes[i].label, r, verdict(r, 2.5), ratio(i, kLsRekeyPsk, kTlsReconnect),
                    verdict(ratio(i, kLsRekeyPsk, kTlsReconnect), 2.5));
    }
    const double r64 = ratio(0, kLsCert, kPlain), r1m = ratio(2, kLsCert, kTls);
    std::printf("  no re-keys, 64 B exchanges >= 0.9x plain TCP: %.2fx -> %s\n", r64, verdict(r64, 0.9));
    std::printf("  no re-keys, 1 MiB responses >= 1.3x TLS 1.3:  %.2fx -> %s\n", r1m, verdict(r1m, 1.3));
    return server_errors == 0 ? 0 : 1;
}
