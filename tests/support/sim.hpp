// SPDX-License-Identifier: Apache-2.0
// lockstep tests — a simulation harness: two engines over a simulated network
// with a virtual clock and a seeded RNG, so a 45 s timeout costs microseconds.
//
// The network can drop, duplicate, reorder and delay messages, and a hook lets
// attack tests inspect, tamper with, drop or inject messages in flight.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "crypto/providers/bearssl/bearssl_provider.hpp"
#include "crypto/providers/openssl/openssl_keys.hpp"
#include "crypto/providers/openssl/openssl_provider.hpp"
#include "crypto/providers/sodium/sodium_provider.hpp"
#include "lockstep/engine.hpp"
#include "wire/wire.hpp"

namespace lockstep::sim {

using Buf = std::vector<std::uint8_t>;

// The real provider under a simulation's seeded RNG.
enum class RealCrypto { openssl, sodium, bearssl };

// Test-only: a real provider (OpenSSL, libsodium, or BearSSL with libsodium's
// Ed25519 verification composed) with its RNG replaced by a
// seeded generator, so runs are reproducible. INSECURE: never use outside tests.
class InsecureSeededProvider final : public crypto::Provider {
public:
    explicit InsecureSeededProvider(std::uint64_t seed, RealCrypto real = RealCrypto::openssl)
        : real_(make_real(real)), rng_(seed) {}
    static std::unique_ptr<crypto::Provider> make_real(RealCrypto real) {
        if (real == RealCrypto::sodium) return std::make_unique<crypto::sodium::SodiumProvider>();
        if (real == RealCrypto::bearssl)
            return std::make_unique<crypto::bearssl::BearSslProvider>(&crypto::sodium::ed25519_verify);
        return std::make_unique<crypto::openssl::OpenSslProvider>();
    }
    Status random(crypto::Bytes out) noexcept override;
    Status hash(crypto::Hash h, crypto::ConstBytes a, crypto::ConstBytes b, crypto::Bytes out) noexcept override {
        return real_->hash(h, a, b, out);
    }
    Status hmac(crypto::Hash h, crypto::ConstBytes k, crypto::ConstBytes a, crypto::ConstBytes b,
                crypto::Bytes out) noexcept override {
        return real_->hmac(h, k, a, b, out);
    }
    Status hkdf_extract(crypto::Hash h, crypto::ConstBytes s, crypto::ConstBytes i, crypto::Bytes o) noexcept override {
        return real_->hkdf_extract(h, s, i, o);
    }
    Status hkdf_expand(crypto::Hash h, crypto::ConstBytes p, crypto::ConstBytes i, crypto::Bytes o) noexcept override {
        return real_->hkdf_expand(h, p, i, o);
    }
    Status aead_seal(crypto::Aead a, crypto::ConstBytes k, crypto::ConstBytes n, crypto::ConstBytes ad,
                     crypto::ConstBytes pt, crypto::Bytes out) noexcept override {
        ++seals;
        if (on_seal) on_seal(k, n);
        if (on_seal_plaintext) on_seal_plaintext(pt);
        return real_->aead_seal(a, k, n, ad, pt, out);
    }
    Status aead_open(crypto::Aead a, crypto::ConstBytes k, crypto::ConstBytes n, crypto::ConstBytes ad,
                     crypto::ConstBytes ct, crypto::Bytes out) noexcept override {
        return real_->aead_open(a, k, n, ad, ct, out);
    }
    Status x25519_keygen(crypto::Bytes priv, crypto::Bytes pub) noexcept override;
    Status x25519(crypto::ConstBytes priv, crypto::ConstBytes pub, crypto::ConstBytes peer,
                  crypto::Bytes shared) noexcept override {
        ++x25519_ops;
        return real_->x25519(priv, pub, peer, shared);
    }
    Status verify(crypto::SigAlg alg, crypto::ConstBytes pk, crypto::ConstBytes msg,
                  crypto::ConstBytes sig) noexcept override {
        ++verifies;
        return real_->verify(alg, pk, msg, sig);
    }

    // Observers for tests (e.g. "no public-key work before the s0 MAC").
    int seals = 0, x25519_ops = 0, verifies = 0, keygens = 0;
    // Every (key, nonce) pair sealed with, to prove nonces never repeat.
    std::function<void(crypto::ConstBytes key, crypto::ConstBytes nonce)> on_seal;
    // Every plaintext sealed (the RSA-PSS vector finds the finished MACs in them).
    std::function<void(crypto::ConstBytes pt)> on_seal_plaintext;
    // Every ephemeral X25519 key pair made (test vectors print them).
    std::function<void(crypto::ConstBytes priv, crypto::ConstBytes pub)> on_keygen;

private:
    std::unique_ptr<crypto::Provider> real_;
    std::mt19937_64 rng_;
};

// Test-only: an Ed25519 signer from a fixed 32-byte seed (for reproducible vectors).
std::unique_ptr<crypto::Signer> fixed_ed25519_signer(std::uint8_t fill);

// A CA, server and client certificates and keys, made once per process.
struct Credentials {
    std::unique_ptr<crypto::openssl::OpenSslSigner> ca_key, server_key, client_key;
    Buf ca_cert, server_cert, client_cert;
    static const Credentials& get(crypto::SigAlg alg = crypto::SigAlg::ed25519);
    // Issue an extra certificate (other CA, wrong role, expired ...).
    static Buf issue(crypto::Signer& issuer, crypto::Signer& subject_key, CertRole role, const char* subject,
                     std::uint32_t not_before, std::uint32_t not_after, std::uint64_t serial = 7);
};

// The subject of the test server certificate, which test clients expect.
inline constexpr std::string_view kTestServerNames[] = {"server.test"};

inline const Buf& test_psk() {
    static const Buf k(32, 0x5a);
    return k;
}
inline const Buf& test_psk_id() {
    static const Buf id{'d', 'e', 'v', 'i', 'c', 'e', '-', '1'};  // the client certificate's subject (cert+psk)
    return id;
}

class OnePsk final : public PskStore {
public:
    std::span<const std::uint8_t> find(std::span<const std::uint8_t> id) const noexcept override {
        if (std::equal(id.begin(), id.end(), test_psk_id().begin(), test_psk_id().end())) return test_psk();
        return {};
    }
};

// A record sealed as its sender would, under the epoch's key derived from a
// traffic secret taken from a key log (a stolen key, in attack tests): m
// encoded without padding and sealed with record number rn (suite 1).
Buf seal_with_secret(const Buf& traffic_secret, std::uint8_t epoch, std::uint32_t rn, const wire::Inner& m);

enum class Dir { c2s, s2c };

struct Packet {
    Dir dir;
    Buf bytes;
    std::int64_t deliver_at_ms;
    std::uint64_t order;
};

struct NetOptions {
    double drop = 0, duplicate = 0, reorder = 0;  // probabilities per message
    std::int64_t latency_ms = 5;
    std::int64_t reorder_delay_ms = 20;
};

// What a hook decides for a message in flight.
enum class Verdict { deliver, drop };

struct Endpoint {
    Config cfg;
    Buf ws;
    std::unique_ptr<Engine> engine;
    std::vector<Event> events;          // copies (data copied into `datas`)
    std::vector<Buf> datas;
    std::vector<TraceEntry> sent, received;
    std::vector<Err> faults;
    Buf last_response;
    int responses = 0, requests = 0, rekeys = 0, handshakes = 0;
    bool closed = false;
    Event closed_event{};
    std::function<Buf(const Buf& request)> respond;  // server application
    bool auto_respond = true;
    std::unique_ptr<Tracer> tracer;
};

class Sim {
public:
    struct Options {
        Mode mode = Mode::cert;
        Suite suite = Suite::aes256gcm;
        Policy policy = Policy::strict;
        crypto::SigAlg alg = crypto::SigAlg::ed25519;
        TtlMode ttl = TtlMode::absolute;
        std::uint64_t seed = 1;
        NetOptions net{};
        RealCrypto crypto = RealCrypto::openssl;
    };
    explicit Sim(Options o);
    Sim() : Sim(Options{}) {}
    // Build the engines (call after adjusting client_cfg()/server_cfg()).
    void build();

    Config& client_cfg() { return c_.cfg; }
    Config& server_cfg() { return s_.cfg; }
    Endpoint& client() { return c_; }
    Endpoint& server() { return s_; }
    Engine& ce() { return *c_.engine; }
    Engine& se() { return *s_.engine; }
    Now now() const;
    void advance(std::int64_t ms) { now_ms_ += ms; }
    std::int64_t now_ms() const { return now_ms_; }
    NetOptions& net() { return opts_.net; }
    InsecureSeededProvider& client_provider() { return cprov_; }
    InsecureSeededProvider& server_provider() { return sprov_; }

    // Optional in-flight hook (attack tests): may modify bytes or drop.
    std::function<Verdict(Dir, Buf&)> hook;
    // Inject a message as if it arrived from the network now.
    void inject(Dir d, Buf bytes, std::int64_t delay_ms = 0);
    // Every message that went on the wire, in order (attack tests replay these).
    std::vector<Packet> wire_log;

    void start();
    // Run until pred() or until no work remains before max_ms of virtual time.
    bool run_until(const std::function<bool()>& pred, std::int64_t max_ms = 600'000);
    // Convenience: handshake, then n requests one after another; returns responses received.
    bool handshake();
    int exchange(int n, std::size_t body_len = 8);
    bool close_from_client();

    static Buf body(std::size_t n, std::uint8_t fill = 0x42) { return Buf(n, fill); }

private:
    void flush(Endpoint& ep, Dir d);
    void drain_events(Endpoint& ep);
    void deliver(const Packet& p);
    void step_timers();
    std::optional<std::int64_t> next_time() const;

    Options opts_;
    InsecureSeededProvider cprov_, sprov_;
    OnePsk psks_;
    Endpoint c_, s_;
    std::deque<Packet> inflight_;
    std::int64_t now_ms_ = 1'000;
    std::int64_t wall_base_ms_ = 1'800'000'000'000;  // 2027-01-15, inside the test certificates' validity
    std::uint64_t order_ = 0;
    std::mt19937_64 netrng_;

};

}  // namespace lockstep::sim
