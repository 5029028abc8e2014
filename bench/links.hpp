// SPDX-License-Identifier: Apache-2.0
// The loopback pattern's pieces shared by bench_loopback and profile_exchange:
// the request body, blocking socket I/O (plain, TLS, DTLS), a lockstep
// net::Server with its blocking net::Clients, and the DTLS 1.2 baseline (a
// blocking server thread per client on its own connected UDP socket).
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <tuple>

#include "common.hpp"
#include "lockstep/net.hpp"

namespace bench {

inline constexpr std::size_t kRequest = 64, kAck = 8;
inline constexpr std::size_t kChunk = Config{}.max_data;  // the largest lockstep message body
inline constexpr int kFreshKeysEvery = 10;                // responses per epoch / per TLS connection
inline constexpr auto kTimeout = std::chrono::seconds(10);

// The request body: 64 bytes, the first 4 the wanted response size (big-endian).
inline Buf request_for(std::size_t n) {
    Buf r(kRequest, 0x11);
    for (int i = 0; i < 4; ++i) r[i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
    return r;
}
inline std::size_t wanted_size(std::span<const std::uint8_t> req) {
    if (req.size() < 4) return 0;
    return std::size_t{req[0]} << 24 | std::size_t{req[1]} << 16 | std::size_t{req[2]} << 8 | req[3];
}

// ---------------------------------------------------------------- sockets (baselines)
inline void nodelay(int fd) {
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
inline sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}
inline int listen_loopback(std::uint16_t& port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        die("listen on 127.0.0.1");
    port = ntohs(a.sin_port);
    return fd;
}
inline int connect_loopback(std::uint16_t port) {
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


// ---------------------------------------------------------------- lockstep
// A net::Server on its own thread and one blocking net::Client connected to it.
class LockstepLink {
public:
    LockstepLink(const ModeCase& m, std::uint32_t rekey_after, net::Transport t = net::Transport::tcp,
                 int clients = 1, int threads = 1)
        : cfg_(configs(m, rekey_after)),
          server_(cfg_.s, options(t, threads),
                  [](std::span<const std::uint8_t> req, const net::PeerInfo&, std::span<std::uint8_t> resp) {
                      return fill_response(resp, std::min(wanted_size(req), kChunk));
                  }) {
        if (!server_.bind()) die("net::Server::bind");
        thread_ = std::thread([this] { (void)server_.run(); });
        const std::uint16_t port = t == net::Transport::tcp ? server_.tcp_port() : server_.udp_port();
        for (int i = 0; i < clients; ++i) {
            // A provider per client: clients run on threads of their own, providers are not thread-safe.
            providers_.push_back(std::make_unique<crypto::openssl::OpenSslProvider>());
            Config c = cfg_.c;
            c.provider = providers_.back().get();
            clients_.push_back(std::make_unique<net::Client>(c, t));
            if (!clients_.back()->connect("127.0.0.1", port, kTimeout)) die("lockstep connect over loopback");
        }
    }
    ~LockstepLink() {
        for (auto& c : clients_) (void)c->close(std::chrono::seconds(1));
        clients_.clear();
        server_.stop();
        thread_.join();
    }
    bool exchange(const Buf& req, std::size_t n, std::size_t client = 0) {
        auto r = clients_[client]->request(req, kTimeout);
        return r && r->size() == n;
    }
    net::Server::Counters counters() const { return server_.counters(); }

private:
    static net::ServerOptions options(net::Transport t, int threads) {
        net::ServerOptions o;
        o.threads = threads;
        o.tcp = t == net::Transport::tcp;
        o.udp = !o.tcp;
        return o;
    }
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
    std::vector<std::unique_ptr<crypto::openssl::OpenSslProvider>> providers_;
    std::vector<std::unique_ptr<net::Client>> clients_;
};

// ---------------------------------------------------------------- DTLS 1.2 (the UDP baseline)
// OpenSSL 3.0 negotiates no Ed25519 signatures in DTLS 1.2 (its handshake fails
// with them), so the DTLS baseline has ECDSA P-256 certificates (SHA-256) of its own.
inline EVP_PKEY* p256_key() {
    EVP_PKEY* k = EVP_EC_gen("P-256");
    if (!k) die("P-256 keygen");
    return k;
}
inline X509* p256_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca, long serial) {
    return make_x509(key, cn, issuer, issuer_key, ca, serial, EVP_sha256());
}
struct DtlsCreds {
    DtlsCreds()
        : ca_key(p256_key()), srv_key(p256_key()), cli_key(p256_key()),
          ca(p256_cert(ca_key, "bench CA", nullptr, nullptr, true, 1)),
          srv(p256_cert(srv_key, "server.bench", ca, ca_key, false, 2)),
          cli(p256_cert(cli_key, "device-1", ca, ca_key, false, 3)) {}
    ~DtlsCreds() {
        for (X509* x : {ca, srv, cli}) X509_free(x);
        for (EVP_PKEY* k : {ca_key, srv_key, cli_key}) EVP_PKEY_free(k);
    }
    EVP_PKEY *ca_key, *srv_key, *cli_key;
    X509 *ca, *srv, *cli;
};

// DTLS 1.2 contexts: ECDHE-ECDSA-AES256-GCM-SHA384, X25519 (P-256 offered too:
// TLS 1.2 needs the certificates' curve among the groups), mutual auth, no
// tickets or resumption, no cookie exchange (both ends are this process).
inline SSL_CTX* dtls_ctx(const DtlsCreds& w, bool server) {
    SSL_CTX* ctx = SSL_CTX_new(server ? DTLS_server_method() : DTLS_client_method());
    if (!ctx) die("SSL_CTX_new (DTLS)");
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES256-GCM-SHA384") != 1) die("DTLS cipher list");
    if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1) die("groups");
    if (SSL_CTX_use_certificate(ctx, server ? w.srv : w.cli) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, server ? w.srv_key : w.cli_key) != 1)
        die("cert/key");
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), w.ca);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    return ctx;
}

struct DtlsWorld {
    DtlsCreds creds;  // first: the contexts are made from it
    SSL_CTX *sctx = dtls_ctx(creds, true), *cctx = dtls_ctx(creds, false);
    DtlsWorld() = default;
    DtlsWorld(const DtlsWorld&) = delete;
    DtlsWorld& operator=(const DtlsWorld&) = delete;
    ~DtlsWorld() {
        SSL_CTX_free(sctx);
        SSL_CTX_free(cctx);
    }
};

// Two connected UDP sockets on loopback (each bound to an ephemeral port).
inline std::pair<int, int> udp_pair() {
    int fd[2];
    sockaddr_in a[2];
    for (int i = 0; i < 2; ++i) {
        fd[i] = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        a[i] = loopback(0);
        socklen_t len = sizeof a[i];
        if (fd[i] < 0 || ::bind(fd[i], reinterpret_cast<sockaddr*>(&a[i]), sizeof a[i]) != 0 ||
            ::getsockname(fd[i], reinterpret_cast<sockaddr*>(&a[i]), &len) != 0)
            die("udp socket");
    }
    for (int i = 0; i < 2; ++i)
        if (::connect(fd[i], reinterpret_cast<sockaddr*>(&a[1 - i]), sizeof a[1 - i]) != 0) die("udp connect");
    return {fd[0], fd[1]};
}

inline SSL* dtls_on(SSL_CTX* ctx, int fd) {
    SSL* s = SSL_new(ctx);
    BIO* b = BIO_new_dgram(fd, BIO_NOCLOSE);
    if (!s || !b) die("SSL_new (DTLS)");
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    (void)::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len);
    (void)BIO_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer);
    SSL_set_bio(s, b, b);
    return s;
}

// One DTLS connection: a blocking server thread on its own connected socket
// (serving request -> response -> ack, and a new handshake after each
// close_notify) and the blocking client. reconnect_every > 0: a new DTLS
// handshake (same sockets) before every (reconnect_every + 1)th exchange.
class DtlsLink {
public:
    DtlsLink(DtlsWorld& w, int reconnect_every) : w_(w), every_(reconnect_every), resp_(kChunk), ack_(kAck, 0x22) {
        std::tie(cfd_, sfd_) = udp_pair();
        thread_ = std::thread([this] { serve(); });
        connect();
    }
    ~DtlsLink() {
        disconnect();
        stopping_ = true;
        (void)::shutdown(sfd_, SHUT_RDWR);  // wakes the server's blocking read
        thread_.join();
        ::close(cfd_);
        ::close(sfd_);
    }
    bool exchange(const Buf& req, std::size_t n) {
        if (every_ > 0 && done_ == every_) {
            disconnect();
            connect();
        }
        ++done_;
        const TlsIo io{ssl_};
        return io.write(req.data(), req.size()) && io.read(resp_.data(), n) && io.write(ack_.data(), ack_.size());
    }

private:
    void serve() {
        const Buf response(kChunk, 0x5a);
        std::uint8_t req[kRequest], ack[kAck];
        while (!stopping_) {
            SSL* s = dtls_on(w_.sctx, sfd_);
            if (SSL_accept(s) == 1) {
                const TlsIo io{s};
                for (;;) {
                    if (!io.read(req, sizeof req)) break;
                    const std::size_t n = std::min(wanted_size(req), response.size());
                    if (!io.write(response.data(), n) || !io.read(ack, sizeof ack)) break;
                }
            }
            SSL_free(s);
        }
    }
    void connect() {
        ssl_ = dtls_on(w_.cctx, cfd_);
        done_ = 0;
        if (SSL_connect(ssl_) != 1) die("DTLS 1.2 handshake over loopback failed");
    }
    void disconnect() {
        (void)SSL_shutdown(ssl_);  // close_notify; not waiting for the server's
        SSL_free(ssl_);
        ssl_ = nullptr;
    }

    DtlsWorld& w_;
    int every_, done_ = 0, cfd_ = -1, sfd_ = -1;
    SSL* ssl_ = nullptr;
    Buf resp_, ack_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace bench
