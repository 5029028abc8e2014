// SPDX-License-Identifier: Apache-2.0
// lockstep benchmarks — shared helpers: CLI, statistics, JSON summary, a
// recording Provider/Signer (counts and replays every primitive call), lockstep
// credentials and engine pairs over memory, and an in-memory OpenSSL TLS 1.3
// mutual-auth baseline (Ed25519 certificates made with the X509 API, X25519).
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include <algorithm>
#include <span>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/providers/openssl/openssl_keys.hpp"
#include "crypto/providers/openssl/openssl_provider.hpp"
#include "crypto/providers/bearssl/bearssl_provider.hpp"
#include "crypto/providers/sodium/sodium_provider.hpp"
#include "handshake/certs.hpp"
#include "lockstep/engine.hpp"

namespace bench {

using namespace lockstep;
using Buf = std::vector<std::uint8_t>;
using Clock = std::chrono::steady_clock;

[[noreturn]] inline void die(const char* what) {
    std::fprintf(stderr, "bench: fatal: %s\n", what);
    ERR_print_errors_fp(stderr);
    std::exit(1);
}

// This process's resident set size in KiB (-1 if unknown).
inline long vmrss_kib() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "VmRSS:", 6) == 0) kib = std::atol(line + 6);
    std::fclose(f);
    return kib;
}

inline double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---------------------------------------------------------------- CLI
struct Args {
    bool quick = false;
    int runs = 5;
    std::string json = "build/bench/summary.json";
    long n = -1;  // program-specific size override
};
// full_runs: the default --runs outside --quick (quick mode defaults to 2).
inline Args parse_args(int argc, char** argv, const char* usage_extra = "", int full_runs = 5) {
    Args a;
    a.runs = full_runs;
    bool runs_set = false;
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) die("missing option value");
            return argv[++i];
        };
        if (s == "--quick") a.quick = true;
        else if (s == "--runs") a.runs = std::atoi(val().c_str()), runs_set = true;
        else if (s == "--json") a.json = val();
        else if (s == "--n") a.n = std::atol(val().c_str());
        else {
            std::fprintf(stderr, "usage: %s [--quick] [--runs R] [--json PATH] [--n N]%s\n", argv[0], usage_extra);
            std::exit(s == "-h" || s == "--help" ? 0 : 2);
        }
    }
    if (a.quick && !runs_set) a.runs = 2;
    if (a.runs < 1) a.runs = 1;
    return a;
}

// A program's own options, taken out of argv before parse_args: `--name value`
// for the names in with_value, a bare `--name` (value "1") for those in flags.
inline std::map<std::string, std::string> take_options(int& argc, char** argv,
                                                       std::initializer_list<std::string_view> with_value,
                                                       std::initializer_list<std::string_view> flags = {}) {
    std::map<std::string, std::string> got;
    auto in = [](std::initializer_list<std::string_view> l, std::string_view s) {
        return std::find(l.begin(), l.end(), s) != l.end();
    };
    int out = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view s = argv[i];
        if (in(with_value, s) && i + 1 < argc) got[std::string(s)] = argv[++i];
        else if (in(flags, s)) got.insert_or_assign(std::string(s), std::string(1, '1'));
        else argv[out++] = argv[i];
    }
    argc = out;
    return got;
}

// A request handler's answer in the bench programs: n bytes of 0x5a (at most
// what the response buffer holds); returns the length written.
inline std::size_t fill_response(std::span<std::uint8_t> resp, std::size_t n) {
    n = std::min(n, resp.size());
    std::fill_n(resp.begin(), n, std::uint8_t{0x5a});
    return n;
}

// ---------------------------------------------------------------- blocking fd I/O
// The whole buffer or false (EOF, error). Programs writing to sockets ignore SIGPIPE.
inline bool read_full(int fd, void* p, std::size_t n) {
    auto* b = static_cast<std::uint8_t*>(p);
    while (n > 0) {
        const ssize_t r = ::read(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        b += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}
inline bool write_full(int fd, const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    while (n > 0) {
        const ssize_t r = ::write(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        b += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

// ---------------------------------------------------------------- statistics
struct Stat {
    double median = 0, min = 0, max = 0;
    int runs = 0;
};
inline Stat stat_of(std::vector<double> v) {
    Stat s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.runs = static_cast<int>(v.size());
    s.min = v.front();
    s.max = v.back();
    std::size_t m = v.size() / 2;
    s.median = v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
    return s;
}

// The p-th percentile (0..100) of samples, nearest rank; 0 when empty. Reorders v.
inline double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    k = std::min(k, v.size() - 1);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

// ---------------------------------------------------------------- JSON summary
// One object per metric, appended as one line (JSON Lines) to the summary file.
// `stat` describes the lockstep measurement (median/min/max over runs).
inline void make_parent_dirs(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return;
    std::string dir = path.substr(0, slash);
    std::string cmd = "mkdir -p '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) die("cannot create the summary directory");
}
inline std::string jnum(double v) {
    if (!(v == v)) return "null";  // NaN: no baseline
    char b[64];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}
inline void json_metric(const Args& a, const std::string& name, double lockstep_value, double baseline,
                        const std::string& baseline_name, double ratio, const std::string& unit, const Stat& st) {
    make_parent_dirs(a.json);
    std::ofstream f(a.json, std::ios::app);
    if (!f) die("cannot open the summary file");
    f << "{\"name\":\"" << name << "\",\"lockstep\":" << jnum(lockstep_value) << ",\"baseline\":" << jnum(baseline)
      << ",\"baseline_name\":\"" << baseline_name << "\",\"ratio\":" << jnum(ratio) << ",\"unit\":\"" << unit
      << "\",\"runs\":" << st.runs << ",\"median\":" << jnum(st.median) << ",\"min\":" << jnum(st.min)
      << ",\"max\":" << jnum(st.max) << "}\n";
}
inline constexpr double kNaN = __builtin_nan("");

// ---------------------------------------------------------------- providers
// The provider a benchmarked configuration runs on.
// BearSSL: the device's code (constant-time, portable), Ed25519 verification
// composed from libsodium's.
enum class Crypto { openssl, sodium, bearssl };
inline std::unique_ptr<crypto::Provider> make_provider(Crypto k) {
    if (k == Crypto::sodium) return std::make_unique<crypto::sodium::SodiumProvider>();
    if (k == Crypto::bearssl) return std::make_unique<crypto::bearssl::BearSslProvider>(&crypto::sodium::ed25519_verify);
    return std::make_unique<crypto::openssl::OpenSslProvider>();
}
// The suite a provider serves best here: AES-256-GCM, or ChaCha20-Poly1305 where
// libsodium cannot run AES-GCM (no AES-NI) and for BearSSL (what a device runs;
// its portable bitsliced AES is the slower of the two).
inline Suite default_suite(Crypto k) {
    if (k == Crypto::bearssl) return Suite::chacha20poly1305;
    return k == Crypto::sodium && !crypto::sodium::SodiumProvider().aes_gcm_available() ? Suite::chacha20poly1305
                                                                                      : Suite::aes256gcm;
}

// ---------------------------------------------------------------- recording provider
// Forwards every call to the real provider (OpenSSL or libsodium); while `recording`, copies the
// arguments of each call so the exact same primitive work can be replayed and
// timed on its own (the "crypto-only floor").
enum class Op : int { random, hash, hmac, hkdf_extract, hkdf_expand, aead_seal, aead_open, keygen, x25519, verify, sign, count_ };
inline const char* op_name(Op o) {
    static const char* n[] = {"random", "hash", "hmac", "hkdf_extract", "hkdf_expand", "aead_seal",
                              "aead_open", "x25519_keygen", "x25519", "verify", "sign"};
    return n[static_cast<int>(o)];
}
inline constexpr int kOps = static_cast<int>(Op::count_);

struct Call {
    Op op;
    int sel = 0;  // hash / aead / sig alg
    Buf a, b, c, d;
    std::size_t out_len = 0;
    crypto::Signer* signer = nullptr;
};

struct Recorder {
    bool recording = false;
    std::vector<Call> calls;
    long counts[kOps] = {};
    void reset() {
        calls.clear();
        std::fill(std::begin(counts), std::end(counts), 0);
    }
    void add(Call c) {
        if (!recording) return;
        ++counts[static_cast<int>(c.op)];
        calls.push_back(std::move(c));
    }
};

inline Buf B(crypto::ConstBytes s) { return Buf(s.begin(), s.end()); }

class RecordingProvider final : public crypto::Provider {
public:
    explicit RecordingProvider(Recorder& r, Crypto k = Crypto::openssl) : rec_(r), owned_(make_provider(k)), real_(*owned_) {}
    Status random(crypto::Bytes out) noexcept override {
        rec_.add({Op::random, 0, {}, {}, {}, {}, out.size()});
        return real_.random(out);
    }
    Status hash(crypto::Hash h, crypto::ConstBytes a, crypto::ConstBytes b, crypto::Bytes out) noexcept override {
        rec_.add({Op::hash, int(h), B(a), B(b), {}, {}, out.size()});
        return real_.hash(h, a, b, out);
    }
    Status hmac(crypto::Hash h, crypto::ConstBytes k, crypto::ConstBytes a, crypto::ConstBytes b,
                crypto::Bytes out) noexcept override {
        rec_.add({Op::hmac, int(h), B(k), B(a), B(b), {}, out.size()});
        return real_.hmac(h, k, a, b, out);
    }
    Status hkdf_extract(crypto::Hash h, crypto::ConstBytes s, crypto::ConstBytes i, crypto::Bytes o) noexcept override {
        rec_.add({Op::hkdf_extract, int(h), B(s), B(i), {}, {}, o.size()});
        return real_.hkdf_extract(h, s, i, o);
    }
    Status hkdf_expand(crypto::Hash h, crypto::ConstBytes p, crypto::ConstBytes i, crypto::Bytes o) noexcept override {
        rec_.add({Op::hkdf_expand, int(h), B(p), B(i), {}, {}, o.size()});
        return real_.hkdf_expand(h, p, i, o);
    }
    Status aead_seal(crypto::Aead a, crypto::ConstBytes k, crypto::ConstBytes n, crypto::ConstBytes ad,
                     crypto::ConstBytes pt, crypto::Bytes out) noexcept override {
        rec_.add({Op::aead_seal, int(a), B(k), B(n), B(ad), B(pt), out.size()});
        return real_.aead_seal(a, k, n, ad, pt, out);
    }
    Status aead_open(crypto::Aead a, crypto::ConstBytes k, crypto::ConstBytes n, crypto::ConstBytes ad,
                     crypto::ConstBytes ct, crypto::Bytes out) noexcept override {
        rec_.add({Op::aead_open, int(a), B(k), B(n), B(ad), B(ct), out.size()});
        return real_.aead_open(a, k, n, ad, ct, out);
    }
    Status x25519_keygen(crypto::Bytes priv, crypto::Bytes pub) noexcept override {
        rec_.add({Op::keygen, 0, {}, {}, {}, {}, 32});
        return real_.x25519_keygen(priv, pub);
    }
    Status x25519(crypto::ConstBytes priv, crypto::ConstBytes pub, crypto::ConstBytes peer,
                  crypto::Bytes shared) noexcept override {
        rec_.add({Op::x25519, 0, B(priv), B(pub), B(peer), {}, 32});
        return real_.x25519(priv, pub, peer, shared);
    }
    Status verify(crypto::SigAlg alg, crypto::ConstBytes pk, crypto::ConstBytes msg,
                  crypto::ConstBytes sig) noexcept override {
        rec_.add({Op::verify, int(alg), B(pk), B(msg), B(sig), {}, 0});
        return real_.verify(alg, pk, msg, sig);
    }
    crypto::Provider& real() { return real_; }

private:
    Recorder& rec_;
    std::unique_ptr<crypto::Provider> owned_;
    crypto::Provider& real_;
};

class RecordingSigner final : public crypto::Signer {
public:
    RecordingSigner(Recorder& r, crypto::Signer& s) : rec_(r), real_(s) {}
    crypto::SigAlg alg() const noexcept override { return real_.alg(); }
    crypto::ConstBytes public_key() const noexcept override { return real_.public_key(); }
    Status sign(crypto::ConstBytes msg, crypto::Bytes sig) noexcept override {
        rec_.add({Op::sign, int(real_.alg()), B(msg), {}, {}, {}, sig.size(), &real_});
        return real_.sign(msg, sig);
    }

private:
    Recorder& rec_;
    crypto::Signer& real_;
};

// Replays recorded calls directly on a real provider (and the real signers).
// Returns false if any call fails (the recorded inputs are valid, so none should).
inline bool replay(crypto::Provider& p, const std::vector<Call>& calls, Buf& out) {
    bool ok = true;
    for (const Call& c : calls) {
        if (out.size() < c.out_len + 64) out.resize(c.out_len + 64);
        crypto::Bytes o{out.data(), c.out_len};
        auto h = static_cast<crypto::Hash>(c.sel);
        auto ae = static_cast<crypto::Aead>(c.sel);
        Status st{};
        switch (c.op) {
            case Op::random: st = p.random(o); break;
            case Op::hash: st = p.hash(h, c.a, c.b, o); break;
            case Op::hmac: st = p.hmac(h, c.a, c.b, c.c, o); break;
            case Op::hkdf_extract: st = p.hkdf_extract(h, c.a, c.b, o); break;
            case Op::hkdf_expand: st = p.hkdf_expand(h, c.a, c.b, o); break;
            case Op::aead_seal: st = p.aead_seal(ae, c.a, c.b, c.c, c.d, o); break;
            case Op::aead_open: st = p.aead_open(ae, c.a, c.b, c.c, c.d, o); break;
            case Op::keygen: {
                std::uint8_t priv[32], pub[32];
                st = p.x25519_keygen(priv, pub);
                break;
            }
            case Op::x25519: st = p.x25519(c.a, c.b, c.c, o); break;
            case Op::verify: st = p.verify(static_cast<crypto::SigAlg>(c.sel), c.a, c.b, c.c); break;
            case Op::sign: st = c.signer->sign(c.a, o); break;
            case Op::count_: break;
        }
        ok = ok && static_cast<bool>(st);
    }
    return ok;
}

// ---------------------------------------------------------------- lockstep credentials
inline constexpr std::string_view kBenchServerNames[] = {"server.bench"};

struct Creds {
    std::unique_ptr<crypto::Signer> ca_key, server_key, client_key;
    Buf ca_cert, server_cert, client_cert;
};
inline Buf issue_cert(crypto::Signer& issuer, crypto::Signer& subject_key, CertRole role, const char* subject) {
    crypto::openssl::OpenSslProvider p;
    wire::Cert c;
    c.role = role;
    c.key_alg = subject_key.alg();
    c.subject = {reinterpret_cast<const std::uint8_t*>(subject), std::strlen(subject)};
    c.serial = 7;
    c.not_before = 1'700'000'000;
    c.not_after = 1'900'000'000;
    c.pubkey = subject_key.public_key();
    Buf out(wire::kMaxCert);
    auto n = certs::issue(p, issuer, c, out);
    if (!n) die("certs::issue");
    out.resize(*n);
    return out;
}
// Keys made by the provider that signs with them (libsodium: Ed25519 only; with
// BearSSL, which has no Ed25519, libsodium's signer as on a device).
inline const Creds& creds(crypto::SigAlg alg, Crypto kind = Crypto::openssl) {
    static std::unique_ptr<Creds> cache[4][3];
    auto& slot = cache[static_cast<int>(alg)][static_cast<int>(kind)];
    if (slot) return *slot;
    auto gen = [kind](crypto::SigAlg a) -> std::unique_ptr<crypto::Signer> {
        if (kind == Crypto::sodium || kind == Crypto::bearssl) {
            std::uint8_t seed[32];
            crypto::sodium::SodiumProvider p;
            if (a != crypto::SigAlg::ed25519 || !p.random(seed)) die("key generation");
            auto k = std::make_unique<crypto::sodium::SodiumEd25519Signer>(seed);
            if (!k->valid()) die("key generation");
            return k;
        }
        auto k = crypto::openssl::OpenSslSigner::generate(a);
        if (!k) die("key generation");
        return std::move(*k);
    };
    slot = std::make_unique<Creds>();
    Creds& c = *slot;
    c.ca_key = gen(crypto::SigAlg::ed25519);
    c.server_key = gen(alg);
    c.client_key = gen(alg);
    c.ca_cert = issue_cert(*c.ca_key, *c.ca_key, CertRole::ca, "lockstep bench CA");
    c.server_cert = issue_cert(*c.ca_key, *c.server_key, CertRole::server, "server.bench");
    c.client_cert = issue_cert(*c.ca_key, *c.client_key, CertRole::client, "device-1");
    return c;
}

struct OnePsk final : PskStore {
    Buf key = Buf(32, 0x5a);
    std::span<const std::uint8_t> find(std::span<const std::uint8_t>) const noexcept override { return key; }
};
inline const Buf& psk_id() {
    static const Buf id{'d', 'e', 'v', 'i', 'c', 'e', '-', '1'};  // the client certificate's subject (cert+psk)
    return id;
}

// The benchmarked configurations.
struct ModeCase {
    const char* name;  // for tables and JSON
    Mode mode;
    crypto::SigAlg alg;
    Crypto crypto = Crypto::openssl;
};
inline const std::vector<ModeCase>& mode_cases() {
    static const std::vector<ModeCase> v = {
        {"cert-ed25519", Mode::cert, crypto::SigAlg::ed25519},
        {"cert-rsa2048", Mode::cert, crypto::SigAlg::rsa_pss_2048_sha256},
        {"psk", Mode::psk, crypto::SigAlg::ed25519},
        {"cert+psk-ed25519", Mode::cert_psk, crypto::SigAlg::ed25519},
        {"psk-only", Mode::psk_only, crypto::SigAlg::ed25519},
    };
    return v;
}

// Two configs (client, server) for a mode, using the given providers/signers.
struct PairConfig {
    Config c, s;
};
inline PairConfig pair_config(const ModeCase& m, crypto::Provider& pc, crypto::Provider& ps, crypto::Signer* csig,
                              crypto::Signer* ssig, const OnePsk& store, Suite suite = Suite::aes256gcm,
                              std::uint16_t max_data = 16384) {
    PairConfig pc_;
    Config& c = pc_.c;
    Config& s = pc_.s;
    c.role = Role::client;
    s.role = Role::server;
    c.provider = &pc;
    s.provider = &ps;
    c.modes = s.modes = {m.mode};
    c.suites = {suite};
    c.max_data = s.max_data = max_data;
    if (mode_uses_cert(m.mode)) {
        const Creds& cr = creds(m.alg, m.crypto);
        c.ca_certificate = s.ca_certificate = cr.ca_cert;
        c.server_names = kBenchServerNames;
        c.certificate = cr.client_cert;
        s.certificate = cr.server_cert;
        c.signer = csig;
        s.signer = ssig;
    }
    if (mode_uses_psk(m.mode)) {
        c.psk = store.key;
        c.psk_id = psk_id();
        s.psk_store = &store;
    }
    return pc_;
}

// A virtual clock inside the test certificates' validity window.
struct VClock {
    long t = 0;
    Now now() const {
        return Now{Instant{std::chrono::milliseconds(t)}, UnixTime{std::chrono::milliseconds(1'800'000'000'000 + t)}};
    }
};

// Two engines passing messages directly (like tests/unit/no_alloc_test.cpp).
// Counts bytes and messages handed out by poll_transmit.
struct Pair {
    Buf wc, ws, buf;
    std::optional<Engine> c, s;
    VClock clk;
    std::uint64_t bytes = 0, msgs = 0;
    std::vector<std::pair<bool, std::size_t>> log;  // (client->server, length) while log_on
    bool log_on = false;
    int responses = 0, rekeys_c = 0, rekeys_s = 0;
    bool c_done = false, s_done = false;
    Buf body = Buf(64, 0x42);

    explicit Pair(std::uint16_t max_data = 16384)
        : wc(Engine::workspace_size(max_data)), ws(Engine::workspace_size(max_data)),
          buf(Engine::max_message_size(max_data)) {}

    void make(const Config& cc, const Config& sc) {
        c.reset();
        s.reset();
        c.emplace(cc, wc);
        s.emplace(sc, ws);
        c_done = s_done = false;
    }
    void pump(Engine& from, Engine& to) {
        for (;;) {
            auto n = from.poll_transmit(buf);
            if (!n || *n == 0) break;
            bytes += *n;
            ++msgs;
            if (log_on) log.emplace_back(&from == &*c, *n);
            (void)to.receive({buf.data(), *n}, clk.now());
        }
    }
    void events(Engine& e, bool client) {
        Event ev;
        while (e.poll_event(ev)) {
            switch (ev.kind) {
                case EventKind::handshake_done: (client ? c_done : s_done) = true; break;
                case EventKind::request: (void)e.send_response(ev.data, clk.now()); break;
                case EventKind::response: ++responses; break;
                case EventKind::rekeyed: ++(client ? rekeys_c : rekeys_s); break;
                case EventKind::closed: break;
            }
        }
    }
    void step() {
        clk.t += 1;
        pump(*c, *s);
        events(*s, false);
        pump(*s, *c);
        events(*c, true);
    }
    // Full handshake; returns false on failure.
    bool handshake() {
        if (!s->start(clk.now()) || !c->start(clk.now())) return false;
        for (int i = 0; i < 20 && !(c_done && s_done); ++i) step();
        // The final server->client message (if any) is already pumped by step().
        return c_done && s_done && c->established() && s->established();
    }
    // One request/response, including any re-key the server starts after it;
    // returns when the client can send again.
    bool exchange() {
        if (!c->can_send_request()) return false;
        int before = responses;
        if (!c->send_request(body, clk.now())) return false;
        for (int i = 0; i < 20; ++i) {
            step();
            if (responses > before && c->can_send_request() && s->state() == State::idle) {
                // drain anything still queued (e.g. a last ACK)
                step();
                return true;
            }
        }
        return false;
    }
};

// ---------------------------------------------------------------- OpenSSL TLS 1.3 baseline
struct X509Deleter {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

inline EVP_PKEY* ed25519_key() {
    EVP_PKEY* k = nullptr;
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &k) != 1) die("ed25519 keygen");
    EVP_PKEY_CTX_free(ctx);
    return k;
}
// md: the signature digest (nullptr for Ed25519 issuers).
inline X509* make_x509(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca, long serial,
                       const EVP_MD* md = nullptr) {
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, nullptr, nullptr, 0);
    auto ext = [&](int nid, const char* value) {
        X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
        if (!e) die("X509V3_EXT_conf_nid");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    };
    ext(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    ext(NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    if (X509_sign(x, issuer_key ? issuer_key : key, md) <= 0) die("X509_sign");
    return x;
}

struct TlsWorld {
    EVP_PKEY *ca_key, *srv_key, *cli_key;
    X509 *ca, *srv, *cli;
    SSL_CTX *sctx, *cctx;
    explicit TlsWorld(const char* ciphersuite = "TLS_AES_256_GCM_SHA384") {
        ca_key = ed25519_key();
        srv_key = ed25519_key();
        cli_key = ed25519_key();
        ca = make_x509(ca_key, "bench CA", nullptr, nullptr, true, 1);
        srv = make_x509(srv_key, "server.bench", ca, ca_key, false, 2);
        cli = make_x509(cli_key, "device-1", ca, ca_key, false, 3);
        sctx = make_ctx(true, srv, srv_key, ciphersuite);
        cctx = make_ctx(false, cli, cli_key, ciphersuite);
    }
    SSL_CTX* make_ctx(bool server, X509* cert, EVP_PKEY* key, const char* cs) {
        SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
        if (!ctx) die("SSL_CTX_new");
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
        if (SSL_CTX_set_ciphersuites(ctx, cs) != 1) die("ciphersuites");
        if (SSL_CTX_set1_groups_list(ctx, "X25519") != 1) die("groups");
        if (SSL_CTX_set1_sigalgs_list(ctx, "ed25519") != 1) die("sigalgs");
        if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) die("cert/key");
        X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        // Full handshakes only: no session tickets, no resumption cache.
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        return ctx;
    }
    ~TlsWorld() {
        SSL_CTX_free(sctx);
        SSL_CTX_free(cctx);
        X509_free(ca);
        X509_free(srv);
        X509_free(cli);
        EVP_PKEY_free(ca_key);
        EVP_PKEY_free(srv_key);
        EVP_PKEY_free(cli_key);
    }
};

// One TLS 1.3 connection pair over memory BIOs; bytes moved are counted.
struct TlsPair {
    SSL *c = nullptr, *s = nullptr;
    BIO *c_in, *c_out, *s_in, *s_out;  // owned by the SSLs
    std::uint64_t bytes = 0, flights = 0;
    char tmp[16384 + 512];
    explicit TlsPair(TlsWorld& w) {
        c = SSL_new(w.cctx);
        s = SSL_new(w.sctx);
        if (!c || !s) die("SSL_new");
        c_in = BIO_new(BIO_s_mem());
        c_out = BIO_new(BIO_s_mem());
        s_in = BIO_new(BIO_s_mem());
        s_out = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(c_in, -1);
        BIO_set_mem_eof_return(s_in, -1);
        SSL_set_bio(c, c_in, c_out);
        SSL_set_bio(s, s_in, s_out);
        SSL_set_connect_state(c);
        SSL_set_accept_state(s);
    }
    ~TlsPair() {
        if (c) SSL_free(c);
        if (s) SSL_free(s);
    }
    void free_client() {
        SSL_free(c);
        c = nullptr;
    }
    bool move(BIO* from, BIO* to) {
        bool any = false;
        int n;
        while ((n = BIO_read(from, tmp, sizeof tmp)) > 0) {
            bytes += static_cast<std::uint64_t>(n);
            BIO_write(to, tmp, n);
            any = true;
        }
        if (any) ++flights;
        return any;
    }
    bool handshake() {
        int rc_c = 0, rc_s = 0;
        for (int i = 0; i < 20; ++i) {
            if (rc_c != 1) rc_c = SSL_do_handshake(c);
            bool m1 = move(c_out, s_in);
            if (rc_s != 1) rc_s = SSL_do_handshake(s);
            bool m2 = move(s_out, c_in);
            if (rc_c == 1 && rc_s == 1 && !m1 && !m2) return true;
        }
        return false;
    }
};

// ---------------------------------------------------------------- table printing
inline void rule(int w) {
    for (int i = 0; i < w; ++i) std::putchar('-');
    std::putchar('\n');
}
inline void note_noise(const Args& a) {
    std::printf("# runs=%d (median [min..max]); %s\n", a.runs,
                a.quick ? "QUICK mode: fewer runs, smaller sizes" : "full mode");
}

}  // namespace bench
