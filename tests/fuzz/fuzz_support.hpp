// SPDX-License-Identifier: Apache-2.0
// lockstep fuzzing — shared support: credentials and engines on the INSECURE
// test provider, and the script harness that drives two engines for the
// engine fuzz target, the corpus generator and the provider's unit test.
//
// How the engine script works: the first kHeaderLen bytes choose the
// configuration (mode, suite, policy, ttl mode, key type, re-key policy,
// timers, max_data, padding, what each side offers, the RNG seed). Every byte
// after that starts one operation: the low nibble is the kind (OpKind), the high
// nibble its argument (bit 0 of it is usually the side: 0 = towards the server,
// 1 = towards the client); some kinds read more bytes. Missing bytes read as
// zero, so every input is a valid script. After every engine call its output
// is collected, its events drained and the invariants checked; a violated
// invariant prints one line and aborts (libFuzzer records the input):
//  * always: poll_transmit never fails with a max_message_size buffer nor
//    returns more; every message sent decodes with the wire decoders; a closed
//    engine never sends again, has no deadline, emitted exactly one closed
//    event, and receive() on it returns Err::closed; deadlines lie within
//    (start, now + longest timer]; "while deadline <= now: on_timeout(now)"
//    ends; events are consistent (one handshake_done in epoch 1, re-keys count
//    up by one, requests only on the server, responses only on the client,
//    data no longer than max_data); once both handshakes are done, both ends
//    agree on mode and suite and see the certificate subjects as peers;
//  * honest network (loss, duplication, reordering, delay, timers, clock skew,
//    close; changed bytes only with strict tags): every request and response
//    body arrives intact, in order and at most once;
//  * clean run (in-order delivery, application calls and close() only): no
//    fault at all, never stuck (when nothing is in flight the client can send or the
//    server holds a request), and a quiet connection has one epoch on both ends.
//
// Both engines use InsecureTestProvider with accept_any_tag (unless the header
// asks for strict tags), so a mutated record decrypts to a mutated plaintext
// (the keystream is a XOR) and reaches the sequence, table, re-key and close
// logic. With strict tags, changed bytes must be refused instead, and the
// honest-network data checks below stay on even under mutation.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "crypto/providers/insecure_test/insecure_test_provider.hpp"
#include "lockstep/engine.hpp"

namespace lockstep::fuzz {

using Buf = std::vector<std::uint8_t>;
using crypto::insecure::InsecureTestProvider;
using crypto::insecure::InsecureTestSigner;

// A CA (Ed25519) and server and client certificates for `leaf` keys, issued
// with the insecure provider and signers; made once per process.
struct InsecureCredentials {
    InsecureTestSigner ca_key, server_key, client_key;
    Buf ca_cert, server_cert, client_cert;
    static InsecureCredentials& get(crypto::SigAlg leaf = crypto::SigAlg::ed25519);
};
// Issue one certificate (aborts on failure: test setup).
Buf issue_cert(crypto::Signer& issuer, const crypto::Signer& subject_key, CertRole role, const char* subject,
               std::uint32_t not_before, std::uint32_t not_after);

// Virtual wall clock at monotonic 0: inside the certificates' validity.
inline constexpr std::int64_t kWallBaseMs = 1'800'000'000'000;
inline constexpr std::uint32_t kCertNotBefore = 1'700'000'000, kCertNotAfter = 1'900'000'000;
inline constexpr std::string_view kServerNames[] = {"server.test"};  // the server certificate's subject

const Buf& test_psk();
const Buf& test_psk_id();
class TestPskStore final : public PskStore {
public:
    std::span<const std::uint8_t> find(std::span<const std::uint8_t> id) const noexcept override;
};

// Forwards to an InsecureTestProvider and shows every opened plaintext
// (the corpus generator collects record plaintexts through it).
class TapProvider final : public crypto::Provider {
public:
    TapProvider(std::uint64_t seed, bool accept_any_tag) : real_(seed, accept_any_tag) {}
    std::function<void(crypto::ConstBytes plaintext)> on_open;

    Status random(crypto::Bytes out) noexcept override { return real_.random(out); }
    Status hash(crypto::Hash h, crypto::ConstBytes a, crypto::ConstBytes b, crypto::Bytes out) noexcept override {
        return real_.hash(h, a, b, out);
    }
    Status hmac(crypto::Hash h, crypto::ConstBytes k, crypto::ConstBytes a, crypto::ConstBytes b,
                crypto::Bytes out) noexcept override {
        return real_.hmac(h, k, a, b, out);
    }
    Status hkdf_extract(crypto::Hash h, crypto::ConstBytes s, crypto::ConstBytes i, crypto::Bytes o) noexcept override {
        return real_.hkdf_extract(h, s, i, o);
    }
    Status hkdf_expand(crypto::Hash h, crypto::ConstBytes p, crypto::ConstBytes i, crypto::Bytes o) noexcept override {
        return real_.hkdf_expand(h, p, i, o);
    }
    Status aead_seal(crypto::Aead a, crypto::ConstBytes k, crypto::ConstBytes n, crypto::ConstBytes ad,
                     crypto::ConstBytes pt, crypto::Bytes out) noexcept override {
        return real_.aead_seal(a, k, n, ad, pt, out);
    }
    Status aead_open(crypto::Aead a, crypto::ConstBytes k, crypto::ConstBytes n, crypto::ConstBytes ad,
                     crypto::ConstBytes ct, crypto::Bytes out) noexcept override {
        auto st = real_.aead_open(a, k, n, ad, ct, out);
        if (st && on_open) on_open(out);
        return st;
    }
    Status x25519_keygen(crypto::Bytes priv, crypto::Bytes pub) noexcept override {
        return real_.x25519_keygen(priv, pub);
    }
    Status x25519(crypto::ConstBytes priv, crypto::ConstBytes pub, crypto::ConstBytes peer,
                  crypto::Bytes shared) noexcept override {
        return real_.x25519(priv, pub, peer, shared);
    }
    Status verify(crypto::SigAlg alg, crypto::ConstBytes pk, crypto::ConstBytes msg,
                  crypto::ConstBytes sig) noexcept override {
        return real_.verify(alg, pk, msg, sig);
    }

private:
    InsecureTestProvider real_;
};

// ---------------------------------------------------------------- engine script
inline constexpr std::size_t kHeaderLen = 4;

enum OpKind : std::uint8_t {
    kDeliver = 0,         // deliver the next queued message towards `side`
    kDeliverMutated = 1,  // + u8 n, then (n % 4 + 1) x (u16 position, u8 xor): deliver it flipped
    kDrop = 2,            // drop the next queued message towards `side`
    kDuplicate = 3,       // deliver the next queued message but keep it queued
    kReorder = 4,         // swap the first two queued messages towards `side`
    kReplay = 5,          // + u8 index: deliver an old message (history of the other side)
    kRaw = 6,             // + u16 length + bytes: deliver arbitrary bytes to `side`
    kTime = 7,            // + u16 units (arg bits 1-2: 1, 10, 100, 1000 ms): advance, fire due timers
    kRequest = 8,         // + u16 length: client send_request
    kResponse = 9,        // + u16 length: server send_response
    kClose = 10,          // + u8 reason: close() on `side` (0: client, 1: server)
    kPump = 11,           // arg + 1 rounds of "deliver everything, answer requests, send a request"
    kTruncate = 12,       // + u16 length: deliver a prefix of the next queued message
    kSkew = 13,           // + i8 seconds: shift the wall clock of `side` (expired ttl paths)
    kStart = 14,          // start() again on `side` (usage error)
    kDeliverAll = 15,     // deliver every queued message towards `side`
};
inline constexpr std::uint8_t op(OpKind k, std::uint8_t arg = 0) {
    return static_cast<std::uint8_t>(k | (arg << 4));
}
inline constexpr std::uint8_t kToServer = 0, kToClient = 1;

// The configuration chosen by the header.
struct ScriptSetup {
    Mode mode = Mode::cert;
    Suite suite = Suite::aes256gcm;
    Policy policy = Policy::strict;
    TtlMode ttl = TtlMode::absolute;
    crypto::SigAlg alg = crypto::SigAlg::ed25519;
    std::uint8_t after_responses = 10;  // 0 = never
    std::uint8_t after_time = 0;        // index: off, 500 ms, 5 s, 60 s
    bool after_bytes = false;           // 200 bytes
    bool small_timers = false;
    std::uint8_t max_data = 1;  // index: 300, 16384, 1, 64
    std::uint8_t pad_to = 0;    // index: 0, 16, 7, 256
    bool client_all_modes = false, server_all_modes = false, client_all_suites = false;
    bool strict_tags = false;  // aead_open checks tags (no accept_any_tag)
    std::uint8_t seed = 0;
    // Encodes / decodes the kHeaderLen header bytes.
    std::array<std::uint8_t, kHeaderLen> header() const;
    static ScriptSetup from_header(const std::uint8_t* h);
};

class Harness {
public:
    // tap: every message either engine sends (from = its role), in order.
    // Not reentrant: the engines' workspaces are shared by all Harness objects,
    // so only one may exist at a time.
    explicit Harness(const ScriptSetup& s);
    ~Harness();
    Harness(const Harness&) = delete;
    Harness& operator=(const Harness&) = delete;

    std::function<void(Role from, crypto::ConstBytes msg)> on_send;
    std::function<void(crypto::ConstBytes plaintext)> on_open;  // set before start()
    std::function<void(Role at, const Event& ev)> on_event;       // before the checks

    void start();
    // Run a whole script (header already consumed by the caller).
    void run(const std::uint8_t* data, std::size_t size);
    // Execute the operation at the start of [p, p + n); returns bytes consumed (>= 1).
    std::size_t step(const std::uint8_t* p, std::size_t n);

    Engine& client();
    Engine& server();
    std::size_t queued(std::uint8_t towards) const;  // messages waiting to be delivered towards a side
    bool server_has_request() const;                  // a request event not yet answered
    int responses() const;                            // response events on the client
    std::int64_t now_ms() const { return now_ms_; }

private:
    struct Side;
    Side& sender(std::uint8_t towards);
    Side& receiver(std::uint8_t towards);
    Now now(const Side& s) const;
    void deliver(std::uint8_t towards, const Buf& msg);
    void collect(Side& s);
    void collect_all();
    void fire_timers();
    void pump_round();
    void check(Side& s);
    void check_progress();
    void unclean();    // the network was not perfect (loss, duplication, timers, close ...)
    void dishonest();  // bytes were changed (mutation, truncation, raw injection)
    void app_request(const Buf& body);
    void app_response(const Buf& body);
    void expect(std::deque<Buf>& sent, crypto::ConstBytes got, const char* what);

    ScriptSetup setup_;
    std::unique_ptr<Side[]> side_;  // [0] client, [1] server
    TestPskStore psks_;
    std::int64_t now_ms_ = 1'000;
    bool clean_ = true;   // nothing but in-order delivery, application calls and close() so far
    bool honest_ = true;
    bool any_tag_ = true;  // no byte was changed or invented (loss, duplicates, delay are honest)
    int pump_rounds_ = 0;
    std::deque<Buf> sent_requests_, sent_responses_;  // clean runs: bodies not yet received
};

// Runs one fuzz input of the engine target (header + script).
void run_engine_script(const std::uint8_t* data, std::size_t size);

[[noreturn]] void violation(const char* what, const char* detail = "");

}  // namespace lockstep::fuzz
