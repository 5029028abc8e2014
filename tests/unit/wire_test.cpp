// SPDX-License-Identifier: Apache-2.0
// Unit tests for the wire codec (src/wire): round trips, truncation, trailing
// bytes, oversized length fields, semantic rejections and golden encodings.
// spec: PROTOCOL.md §6 (wire format), §7 (certificates)
#include "wire/wire.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace lockstep::wire {
namespace {

using u8v = std::vector<std::uint8_t>;

constexpr int kIterations = 200;       // random instances per round-trip test
constexpr int kTruncIterations = 12;   // random instances per truncation test
constexpr std::size_t kSealedMin = crypto::kAeadTagLen + 4 + kFinishedLen;
constexpr std::size_t kSealedMax = kMaxInner + crypto::kAeadTagLen + kEtmTagLen;  // room for the seed suite's HMAC

// ---------------------------------------------------------------- helpers

u8v vec(ConstBytes b) { return u8v(b.begin(), b.end()); }

u8v rep(std::size_t n, std::uint8_t b) { return u8v(n, b); }

u8v cat(std::initializer_list<u8v> parts) {
    u8v out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

u8v be16(std::size_t v) {
    return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

std::string show(const IdList& l) {
    std::string s = "[";
    for (std::uint8_t i = 0; i < l.n; ++i) s += std::to_string(l.v[i]) + (i + 1 < l.n ? "," : "");
    return s + "]";
}

IdList ids(std::initializer_list<std::uint8_t> xs) {
    IdList l;
    for (auto x : xs) l.v[l.n++] = x;  // no duplicate check: tests build bad lists too
    return l;
}

// Runs an encoder into a large buffer and returns exactly the bytes written.
template <class F>
u8v encode_with(F&& f) {
    u8v buf(kMaxRecord + 4096);
    Writer w(buf);
    f(w);
    EXPECT_TRUE(w.ok());
    buf.resize(w.size());
    return buf;
}

template <class R>
::testing::AssertionResult is_err(const R& r, Err want) {
    if (r.has_value()) return ::testing::AssertionFailure() << "decoded, expected " << err_name(want);
    if (r.error() != want)
        return ::testing::AssertionFailure() << "got " << err_name(r.error()) << ", expected " << err_name(want);
    return ::testing::AssertionSuccess();
}

template <class R>
::testing::AssertionResult is_decode_err(const R& r) {
    if (r.has_value()) return ::testing::AssertionFailure() << "decoded, expected a decode error";
    if (err_category(r.error()) != Category::decode)
        return ::testing::AssertionFailure() << "error " << err_name(r.error()) << " is not in Category::decode";
    return ::testing::AssertionSuccess();
}

template <class R>
::testing::AssertionResult is_ok(const R& r) {
    if (!r.has_value()) return ::testing::AssertionFailure() << "error " << err_name(r.error());
    return ::testing::AssertionSuccess();
}

// Every strict prefix must be rejected as a decode error. Each prefix is copied into
// its own exactly-sized buffer so that a read past its end is visible to ASan.
template <class Dec>
void expect_all_truncations_rejected(const u8v& enc, Dec dec) {
    ASSERT_TRUE(is_ok(dec(ConstBytes(enc)))) << "the full encoding must decode";
    for (std::size_t n = 0; n < enc.size(); ++n) {
        const u8v prefix(enc.begin(), enc.begin() + static_cast<std::ptrdiff_t>(n));
        auto r = dec(ConstBytes(prefix));
        ASSERT_TRUE(is_decode_err(r)) << "prefix " << n << " of " << enc.size();
        // A prefix of a valid encoding is only short, never malformed.
        EXPECT_TRUE(is_err(r, Err::truncated)) << "prefix " << n << " of " << enc.size();
    }
}

// Appending any bytes to a valid encoding must give Err::trailing_bytes.
template <class Dec>
void expect_trailing_rejected(const u8v& enc, Dec dec, std::mt19937& g) {
    ASSERT_TRUE(is_ok(dec(ConstBytes(enc)))) << "the full encoding must decode";
    for (std::size_t extra : {1u, 2u, 3u, 32u, 33u}) {
        for (int zero = 0; zero < 2; ++zero) {
            u8v in = enc;
            for (std::size_t i = 0; i < extra; ++i)
                in.push_back(zero ? std::uint8_t{0} : static_cast<std::uint8_t>(g() | 1));
            EXPECT_TRUE(is_err(dec(ConstBytes(in)), Err::trailing_bytes))
                << "extra " << extra << (zero ? " zero" : " non-zero") << " bytes after " << enc.size();
        }
    }
}

class Rng {
public:
    explicit Rng(std::uint32_t seed) : g(seed) {}
    std::mt19937 g;

    std::size_t size(std::size_t lo, std::size_t hi) {
        return std::uniform_int_distribution<std::size_t>(lo, hi)(g);
    }
    // A length in [lo, hi], often exactly at a bound.
    std::size_t len(std::size_t lo, std::size_t hi) {
        switch (g() % 8) {
            case 0: return lo;
            case 1: return hi;
            default: return size(lo, hi);
        }
    }
    std::uint8_t byte() { return static_cast<std::uint8_t>(g()); }
    std::uint8_t in(unsigned lo, unsigned hi) { return static_cast<std::uint8_t>(size(lo, hi)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(g()); }
    std::uint64_t u64() { return (std::uint64_t{u32()} << 32) | u32(); }
    bool coin() { return (g() & 1) != 0; }
    u8v bytes(std::size_t n) {
        u8v v(n);
        for (auto& b : v) b = byte();
        return v;
    }
    Random random() {
        Random r{};
        for (auto& b : r) b = byte();
        return r;
    }
    KeyId key_id() {
        KeyId k{};
        for (auto& b : k) b = byte();
        return k;
    }
    // 1..max distinct ids in random order.
    IdList list(std::size_t max) {
        std::array<std::uint8_t, 256> all{};
        std::iota(all.begin(), all.end(), std::uint8_t{0});
        std::shuffle(all.begin(), all.end(), g);
        IdList l;
        const std::size_t n = len(1, max);
        for (std::size_t i = 0; i < n; ++i) EXPECT_TRUE(l.push(all[i]));
        return l;
    }
};

bool pick(int opt, Rng& r) { return opt >= 0 ? opt != 0 : r.coin(); }

// ---------------------------------------------------------------- generators
// Each case owns the bytes its message's spans point to; cases are filled in place.

struct HelloOpts {
    int psk = -1;       // -1 random, 0 no, 1 yes
    int x25519 = -1;    // -1 random, 0 Kx::none, 1 Kx::x25519
    int relative = -1;  // -1 random, 0/1 kFlagRelativeTtl
};
struct HelloCase {
    u8v share, psk_id, mac;
    Hello h;
    u8v body, wire;
};
void gen_hello(Rng& r, HelloCase& c, HelloOpts o = {}) {
    c.h = Hello{};
    c.h.versions = r.list(kMaxListLen);
    c.h.suites = r.list(kMaxListLen);
    c.h.modes = r.list(kMaxModes);
    c.h.flags = pick(o.relative, r) ? kFlagRelativeTtl : 0;
    const bool x = pick(o.x25519, r);
    c.h.kx = x ? Kx::x25519 : Kx::none;
    c.share = x ? r.bytes(crypto::kX25519Len) : u8v{};
    c.h.random = c.share.empty() ? r.random() : Random{};  // on the wire only without a share
    c.h.seq = r.u32();
    c.h.ttl = r.u32();
    c.psk_id = pick(o.psk, r) ? r.bytes(r.len(1, kMaxPskId)) : u8v{};
    c.mac = c.psk_id.empty() ? u8v{} : r.bytes(kMacLen);
    c.h.share = c.share;
    c.h.psk_id = c.psk_id;
    c.body = encode_with([&](Writer& w) { encode_hello_body(c.h, w); });
    c.wire = cat({c.body, c.mac});
}
void expect_hello_eq(const HelloCase& c, const Hello& d) {
    EXPECT_TRUE(d.versions == c.h.versions) << show(d.versions) << " vs " << show(c.h.versions);
    EXPECT_TRUE(d.suites == c.h.suites) << show(d.suites) << " vs " << show(c.h.suites);
    EXPECT_TRUE(d.modes == c.h.modes) << show(d.modes) << " vs " << show(c.h.modes);
    EXPECT_EQ(d.flags, c.h.flags);
    EXPECT_EQ(d.kx, c.h.kx);
    EXPECT_EQ(vec(d.share), c.share);
    EXPECT_EQ(d.random, c.h.random);
    EXPECT_EQ(d.seq, c.h.seq);
    EXPECT_EQ(d.ttl, c.h.ttl);
    EXPECT_EQ(vec(d.psk_id), c.psk_id);
    EXPECT_EQ(vec(d.mac), c.mac);
    EXPECT_EQ(vec(d.body), c.body);
}

struct HelloAckOpts {
    int mode = -1;  // -1 random, else 1..4
    int x25519 = -1;
    std::size_t sealed_len = 0;  // 0: random in [kSealedMin, kSealedMax]
};
struct HelloAckCase {
    u8v share, mac, sealed;
    HelloAck h;
    u8v clear, wire;
};
void gen_hello_ack(Rng& r, HelloAckCase& c, HelloAckOpts o = {}) {
    c.h = HelloAck{};
    c.h.version = r.in(1, 255);
    c.h.suite = static_cast<Suite>(r.in(1, 3));
    c.h.mode = static_cast<Mode>(o.mode >= 0 ? static_cast<std::uint8_t>(o.mode) : r.in(1, 4));
    c.h.flags = r.coin() ? kFlagRelativeTtl : 0;
    c.h.versions = r.list(kMaxListLen);
    c.h.suites = r.list(kMaxListLen);
    c.h.modes = r.list(kMaxModes);
    const bool x = pick(o.x25519, r);
    c.h.kx = x ? Kx::x25519 : Kx::none;
    c.share = x ? r.bytes(crypto::kX25519Len) : u8v{};
    c.h.share = c.share;
    c.h.random = c.share.empty() ? r.random() : Random{};  // on the wire only without a share
    c.h.seq = r.u32();
    c.h.ack = r.u32();
    c.h.ttl = r.u32();
    c.mac = mode_uses_psk(c.h.mode) ? r.bytes(kMacLen) : u8v{};
    std::size_t n = o.sealed_len;
    if (n == 0) n = (r.g() % 10 == 0) ? r.len(kSealedMin, kSealedMax) : r.len(kSealedMin, 2000);
    c.sealed = r.bytes(n);
    c.clear = encode_with([&](Writer& w) { encode_hello_ack_clear(c.h, w); });
    c.wire = cat({c.clear, c.mac, be16(c.sealed.size()), c.sealed});
}
void expect_hello_ack_eq(const HelloAckCase& c, const HelloAck& d) {
    EXPECT_EQ(d.version, c.h.version);
    EXPECT_EQ(d.suite, c.h.suite);
    EXPECT_EQ(d.mode, c.h.mode);
    EXPECT_EQ(d.flags, c.h.flags);
    EXPECT_TRUE(d.versions == c.h.versions) << show(d.versions) << " vs " << show(c.h.versions);
    EXPECT_TRUE(d.suites == c.h.suites) << show(d.suites) << " vs " << show(c.h.suites);
    EXPECT_TRUE(d.modes == c.h.modes) << show(d.modes) << " vs " << show(c.h.modes);
    EXPECT_EQ(d.kx, c.h.kx);
    EXPECT_EQ(vec(d.share), c.share);
    EXPECT_EQ(d.random, c.h.random);
    EXPECT_EQ(d.seq, c.h.seq);
    EXPECT_EQ(d.ack, c.h.ack);
    EXPECT_EQ(d.ttl, c.h.ttl);
    EXPECT_EQ(vec(d.mac), c.mac);
    EXPECT_EQ(vec(d.sealed), c.sealed);
    EXPECT_EQ(vec(d.clear), c.clear);
    EXPECT_EQ(vec(d.aad), cat({c.clear, c.mac, be16(c.sealed.size())}));
}

struct AuthCase {
    u8v cert, sig, finished;
    Auth a;
    u8v wire;      // hello ack auth part
    u8v ack_wire;  // ACK body
};
void gen_auth(Rng& r, AuthCase& c) {
    c.a = Auth{};
    c.a.nonce = r.u32();
    c.cert = r.coin() ? u8v{} : r.bytes(r.len(1, kMaxCert));
    c.sig = r.coin() ? u8v{} : r.bytes(r.len(1, crypto::kMaxSignatureLen));
    c.finished = r.bytes(kFinishedLen);
    c.a.cert = c.cert;
    c.a.sig = c.sig;
    c.a.finished = c.finished;
    c.wire = encode_with([&](Writer& w) { encode_hello_ack_auth(c.a, w); });
    c.ack_wire = encode_with([&](Writer& w) { encode_ack_body(c.a, w); });
}
void expect_auth_eq(const AuthCase& c, const Auth& d, bool with_nonce) {
    EXPECT_EQ(vec(d.cert), c.cert);
    EXPECT_EQ(vec(d.sig), c.sig);
    EXPECT_EQ(vec(d.finished), c.finished);
    if (with_nonce) {
        EXPECT_EQ(d.nonce, c.a.nonce);
    }
}

struct InnerCase {
    u8v body;
    Inner m;
    std::size_t padding = 0;
    u8v wire;
};
void gen_inner(Rng& r, InnerCase& c, int padding = -1, std::size_t max_body = kMaxData) {
    c.m = Inner{};
    c.m.type = static_cast<MsgType>(r.in(1, kMsgTypeCount - 1));
    c.m.seq = r.u32();
    c.m.ack = r.u32();
    c.m.ttl = r.u32();
    c.body = r.bytes(r.len(0, max_body));
    c.m.body = c.body;
    c.padding = padding >= 0 ? static_cast<std::size_t>(padding) : r.len(0, kMaxPadding);
    c.wire = encode_with([&](Writer& w) { encode_inner(c.m, c.padding, w); });
}

struct RekeyHelloCase {
    u8v share;
    RekeyHello h;
    u8v wire;
};
void gen_rekey_hello(Rng& r, RekeyHelloCase& c) {
    c.h = RekeyHello{};
    const bool x = r.coin();
    c.h.kx = x ? Kx::x25519 : Kx::none;
    c.share = x ? r.bytes(crypto::kX25519Len) : u8v{};
    c.h.share = c.share;
    c.h.random = c.share.empty() ? r.random() : Random{};  // on the wire only without a share
    c.wire = encode_with([&](Writer& w) { encode_rekey_hello(c.h, w); });
}

struct RekeyHelloAckCase {
    u8v share, sig, finished;
    RekeyHelloAck h;
    u8v wire;
};
void gen_rekey_hello_ack(Rng& r, RekeyHelloAckCase& c) {
    c.h = RekeyHelloAck{};
    c.share = r.coin() ? r.bytes(crypto::kX25519Len) : u8v{};
    c.sig = r.coin() ? u8v{} : r.bytes(r.len(1, crypto::kMaxSignatureLen));
    c.finished = r.bytes(kFinishedLen);
    c.h.share = c.share;
    c.h.random = c.share.empty() ? r.random() : Random{};  // on the wire only without a share
    c.h.sig = c.sig;
    c.h.finished = c.finished;
    c.wire = encode_with([&](Writer& w) { encode_rekey_hello_ack(c.h, w); });
}

struct CertOpts {
    int key_alg = -1;  // -1 random, else 1..3
    int sig_alg = -1;
};
struct CertCase {
    u8v subject, pubkey, signature;
    Cert c;
    u8v tbs, wire;
};
void gen_cert(Rng& r, CertCase& k, CertOpts o = {}) {
    k.c = Cert{};
    k.c.role = static_cast<CertRole>(r.in(1, 3));
    k.c.key_alg = static_cast<crypto::SigAlg>(o.key_alg >= 0 ? static_cast<std::uint8_t>(o.key_alg) : r.in(1, 3));
    k.subject = r.bytes(r.len(1, kMaxSubject));
    k.c.subject = k.subject;
    k.c.serial = r.u64();
    k.c.not_before = r.u32();
    k.c.not_after = static_cast<std::uint32_t>(r.size(k.c.not_before, 0xffffffffu));
    if (r.g() % 8 == 0) k.c.not_after = k.c.not_before;
    k.c.issuer = r.key_id();
    k.pubkey = r.bytes(crypto::pubkey_len(k.c.key_alg));
    k.c.pubkey = k.pubkey;
    k.c.sig_alg = static_cast<crypto::SigAlg>(o.sig_alg >= 0 ? static_cast<std::uint8_t>(o.sig_alg) : r.in(1, 3));
    k.signature = r.bytes(crypto::sig_len(k.c.sig_alg));
    k.c.signature = k.signature;
    k.tbs = encode_with([&](Writer& w) { encode_cert_tbs(k.c, w); });
    k.wire = encode_with([&](Writer& w) { encode_cert(k.c, w); });
}
void expect_cert_eq(const CertCase& k, const Cert& d) {
    EXPECT_EQ(d.role, k.c.role);
    EXPECT_EQ(d.key_alg, k.c.key_alg);
    EXPECT_EQ(vec(d.subject), k.subject);
    EXPECT_EQ(d.serial, k.c.serial);
    EXPECT_EQ(d.not_before, k.c.not_before);
    EXPECT_EQ(d.not_after, k.c.not_after);
    EXPECT_EQ(d.issuer, k.c.issuer);
    EXPECT_EQ(vec(d.pubkey), k.pubkey);
    EXPECT_EQ(d.sig_alg, k.c.sig_alg);
    EXPECT_EQ(vec(d.signature), k.signature);
    EXPECT_EQ(vec(d.tbs), k.tbs);
}

// Decoder adaptors with a uniform signature.
constexpr auto dec_hello = [](ConstBytes b) { return decode_hello(b); };
constexpr auto dec_hello_ack = [](ConstBytes b) { return decode_hello_ack(b); };
constexpr auto dec_auth = [](ConstBytes b) { return decode_hello_ack_auth(b); };
constexpr auto dec_ack = [](ConstBytes b) { return decode_ack_body(b); };
constexpr auto dec_clear_close = [](ConstBytes b) { return decode_clear_close(b); };
constexpr auto dec_inner = [](ConstBytes b) { return decode_inner(b); };
constexpr auto dec_rekey_hello = [](ConstBytes b) { return decode_rekey_hello(b); };
constexpr auto dec_rekey_hello_ack = [](ConstBytes b) { return decode_rekey_hello_ack(b); };
constexpr auto dec_nonce = [](ConstBytes b) { return decode_nonce_body(b); };
constexpr auto dec_close = [](ConstBytes b) { return decode_close_body(b); };
constexpr auto dec_cert = [](ConstBytes b) { return decode_cert(b); };

// ================================================================ 1. round trips

void hello_round_trips(std::uint32_t seed, HelloOpts o) {
    Rng r(seed);
    for (int i = 0; i < kIterations; ++i) {
        HelloCase c;
        gen_hello(r, c, o);
        auto d = decode_hello(c.wire);
        ASSERT_TRUE(is_ok(d)) << "iteration " << i;
        expect_hello_eq(c, *d);
        if (::testing::Test::HasFailure()) return;
    }
}

TEST(WireRoundTrip, HelloRandom) { hello_round_trips(1, {}); }
TEST(WireRoundTrip, HelloWithoutPskHasNoMac) {
    hello_round_trips(2, {.psk = 0});
    Rng r(22);
    HelloCase c;
    gen_hello(r, c, {.psk = 0});
    EXPECT_EQ(c.wire, c.body);
    auto d = decode_hello(c.wire);
    ASSERT_TRUE(is_ok(d));
    EXPECT_TRUE(d->psk_id.empty());
    EXPECT_TRUE(d->mac.empty());
    EXPECT_EQ(vec(d->body), c.wire);
}
TEST(WireRoundTrip, HelloWithPskIdCarriesMac) {
    hello_round_trips(3, {.psk = 1});
    Rng r(33);
    HelloCase c;
    gen_hello(r, c, {.psk = 1});
    auto d = decode_hello(c.wire);
    ASSERT_TRUE(is_ok(d));
    ASSERT_EQ(d->mac.size(), kMacLen);
    // mac is the last kMacLen bytes, body everything before it; views, not copies.
    EXPECT_EQ(d->mac.data(), c.wire.data() + c.wire.size() - kMacLen);
    EXPECT_EQ(d->body.data(), c.wire.data());
    EXPECT_EQ(d->body.size(), c.wire.size() - kMacLen);
}
TEST(WireRoundTrip, HelloKxNoneEmptyShare) {
    hello_round_trips(4, {.x25519 = 0});
    Rng r(44);
    HelloCase c;
    gen_hello(r, c, {.x25519 = 0});
    auto d = decode_hello(c.wire);
    ASSERT_TRUE(is_ok(d));
    EXPECT_EQ(d->kx, Kx::none);
    EXPECT_TRUE(d->share.empty());
}
TEST(WireRoundTrip, HelloX25519Share) { hello_round_trips(5, {.x25519 = 1}); }
TEST(WireRoundTrip, HelloRelativeTtlFlag) {
    hello_round_trips(6, {.relative = 1});
    Rng r(66);
    HelloCase c;
    gen_hello(r, c, {.relative = 1});
    auto d = decode_hello(c.wire);
    ASSERT_TRUE(is_ok(d));
    EXPECT_EQ(d->flags, kFlagRelativeTtl);
}
TEST(WireRoundTrip, HelloMaximalListsAndPskId) {
    Rng r(7);
    HelloCase c;
    gen_hello(r, c, {.psk = 1});
    for (std::uint8_t i = 0; i < kMaxListLen; ++i) {
        c.h.versions.v[i] = static_cast<std::uint8_t>(0xff - i);
        c.h.suites.v[i] = i;
    }
    c.h.versions.n = c.h.suites.n = kMaxListLen;
    c.h.modes = ids({4, 3, 2, 1});
    c.psk_id = r.bytes(kMaxPskId);
    c.h.psk_id = c.psk_id;
    c.body = encode_with([&](Writer& w) { encode_hello_body(c.h, w); });
    c.wire = cat({c.body, c.mac});
    auto d = decode_hello(c.wire);
    ASSERT_TRUE(is_ok(d));
    expect_hello_eq(c, *d);
}

void hello_ack_round_trips(std::uint32_t seed, HelloAckOpts o) {
    Rng r(seed);
    for (int i = 0; i < kIterations; ++i) {
        HelloAckCase c;
        gen_hello_ack(r, c, o);
        auto d = decode_hello_ack(c.wire);
        ASSERT_TRUE(is_ok(d)) << "iteration " << i;
        expect_hello_ack_eq(c, *d);
        if (::testing::Test::HasFailure()) return;
    }
}
TEST(WireRoundTrip, HelloAckRandom) { hello_ack_round_trips(10, {}); }
TEST(WireRoundTrip, HelloAckCertModeHasNoMac) {
    hello_ack_round_trips(11, {.mode = 1});
    Rng r(111);
    HelloAckCase c;
    gen_hello_ack(r, c, {.mode = 1});
    auto d = decode_hello_ack(c.wire);
    ASSERT_TRUE(is_ok(d));
    EXPECT_TRUE(d->mac.empty());
    EXPECT_EQ(c.wire.size(), c.clear.size() + 2 + c.sealed.size());
}
TEST(WireRoundTrip, HelloAckPskModesCarryMac) {
    for (int mode : {2, 3, 4}) {
        hello_ack_round_trips(static_cast<std::uint32_t>(12 + mode), {.mode = mode});
        Rng r(static_cast<std::uint32_t>(120 + mode));
        HelloAckCase c;
        gen_hello_ack(r, c, {.mode = mode});
        auto d = decode_hello_ack(c.wire);
        ASSERT_TRUE(is_ok(d)) << mode;
        EXPECT_EQ(d->mac.size(), kMacLen) << mode;
        EXPECT_EQ(d->mac.data(), c.wire.data() + c.clear.size()) << mode;
    }
}
TEST(WireRoundTrip, HelloAckKxNone) { hello_ack_round_trips(16, {.x25519 = 0}); }
TEST(WireRoundTrip, HelloAckSealedLengthBounds) {
    for (std::size_t n : {kSealedMin, kSealedMin + 1, kSealedMax - 1, kSealedMax}) {
        for (int mode = 1; mode <= 4; ++mode) {
            Rng r(static_cast<std::uint32_t>(n) + static_cast<std::uint32_t>(mode));
            HelloAckCase c;
            gen_hello_ack(r, c, {.mode = mode, .sealed_len = n});
            auto d = decode_hello_ack(c.wire);
            ASSERT_TRUE(is_ok(d)) << "sealed " << n << " mode " << mode;
            expect_hello_ack_eq(c, *d);
        }
    }
}

TEST(WireRoundTrip, HelloAckAuth) {
    Rng r(20);
    for (int i = 0; i < kIterations; ++i) {
        AuthCase c;
        gen_auth(r, c);
        auto d = decode_hello_ack_auth(c.wire);
        ASSERT_TRUE(is_ok(d)) << "iteration " << i;
        expect_auth_eq(c, *d, false);
        if (HasFailure()) return;
    }
}
TEST(WireRoundTrip, HelloAckAuthMaximalAndEmptyFields) {
    Rng r(21);
    AuthCase c;
    gen_auth(r, c);
    for (auto [cert_len, sig_len] : {std::pair<std::size_t, std::size_t>{0, 0}, {kMaxCert, crypto::kMaxSignatureLen},
                                     {kMaxCert, 0}, {0, crypto::kMaxSignatureLen}}) {
        c.cert = r.bytes(cert_len);
        c.sig = r.bytes(sig_len);
        c.a.cert = c.cert;
        c.a.sig = c.sig;
        c.wire = encode_with([&](Writer& w) { encode_hello_ack_auth(c.a, w); });
        EXPECT_EQ(c.wire.size(), 2 + cert_len + 2 + sig_len + kFinishedLen);
        auto d = decode_hello_ack_auth(c.wire);
        ASSERT_TRUE(is_ok(d)) << cert_len << "/" << sig_len;
        expect_auth_eq(c, *d, false);
    }
}
TEST(WireRoundTrip, AckBody) {
    Rng r(22);
    for (int i = 0; i < kIterations; ++i) {
        AuthCase c;
        gen_auth(r, c);
        EXPECT_EQ(c.ack_wire, cat({u8v{static_cast<std::uint8_t>(c.a.nonce >> 24),
                                       static_cast<std::uint8_t>(c.a.nonce >> 16),
                                       static_cast<std::uint8_t>(c.a.nonce >> 8),
                                       static_cast<std::uint8_t>(c.a.nonce)},
                                   c.wire}));
        auto d = decode_ack_body(c.ack_wire);
        ASSERT_TRUE(is_ok(d)) << "iteration " << i;
        expect_auth_eq(c, *d, true);
        if (HasFailure()) return;
    }
}

TEST(WireRoundTrip, ClearClose) {
    Rng r(30);
    for (int i = 0; i < kIterations; ++i) {
        ClearClose c;
        c.reason = static_cast<Reason>(r.in(0, static_cast<unsigned>(kLastReason)));
        c.seq = r.u32();
        c.ack = r.u32();
        c.ttl = r.u32();
        const u8v wire = encode_with([&](Writer& w) { encode_clear_close(c, w); });
        ASSERT_EQ(wire.size(), 14u);
        auto d = decode_clear_close(wire);
        ASSERT_TRUE(is_ok(d)) << "iteration " << i;
        EXPECT_EQ(d->reason, c.reason);
        EXPECT_EQ(d->seq, c.seq);
        EXPECT_EQ(d->ack, c.ack);
        EXPECT_EQ(d->ttl, c.ttl);
        if (HasFailure()) return;
    }
}
TEST(WireRoundTrip, ClearCloseEveryReason) {
    for (unsigned v = 0; v <= static_cast<unsigned>(kLastReason); ++v) {
        ClearClose c;
        c.reason = static_cast<Reason>(v);
        const u8v wire = encode_with([&](Writer& w) { encode_clear_close(c, w); });
        auto d = decode_clear_close(wire);
        ASSERT_TRUE(is_ok(d)) << v;
        EXPECT_EQ(d->reason, c.reason);
    }
}

TEST(WireRoundTrip, RecordHeaderViaDecodeRecord) {
    Rng r(40);
    for (int i = 0; i < kIterations; ++i) {
        RecordHeader h;
        h.epoch = r.byte();
        h.rn = r.u32();
        const u8v payload = r.bytes(r.g() % 20 == 0 ? r.len(0, kMaxRecord - kRecordHeaderLen) : r.len(0, 300));
        const u8v wire = cat({encode_with([&](Writer& w) { encode_record_header(h, w); }), payload});
        ASSERT_EQ(wire.size(), kRecordHeaderLen + payload.size());
        const std::size_t min_payload = r.size(0, payload.size());
        auto d = decode_record(wire, min_payload);
        ASSERT_TRUE(is_ok(d)) << "iteration " << i;
        EXPECT_EQ(d->header.epoch, h.epoch);
        EXPECT_EQ(d->header.rn, h.rn);
        EXPECT_EQ(vec(d->aad), u8v(wire.begin(), wire.begin() + kRecordHeaderLen));
        EXPECT_EQ(vec(d->payload), payload);
        EXPECT_EQ(d->payload.data(), wire.data() + kRecordHeaderLen);
        if (HasFailure()) return;
    }
}
TEST(WireRoundTrip, RecordMinPayloadBoundary) {
    const u8v wire = cat({{0x17, 0x01, 0, 0, 0, 9}, rep(crypto::kAeadTagLen, 0xab)});
    EXPECT_TRUE(is_ok(decode_record(wire, crypto::kAeadTagLen)));
    EXPECT_TRUE(is_err(decode_record(wire, crypto::kAeadTagLen + 1), Err::truncated));
}

void inner_round_trips(std::uint32_t seed, int padding) {
    Rng r(seed);
    for (int i = 0; i < kIterations; ++i) {
        InnerCase c;
        gen_inner(r, c, padding);
        ASSERT_EQ(c.wire.size(), kInnerHeaderLen + c.body.size() + c.padding);
        auto d = decode_inner(c.wire);
        ASSERT_TRUE(is_ok(d)) << "iteration " << i << " body " << c.body.size() << " pad " << c.padding;
        EXPECT_EQ(d->type, c.m.type);
        EXPECT_EQ(d->seq, c.m.seq);
        EXPECT_EQ(d->ack, c.m.ack);
        EXPECT_EQ(d->ttl, c.m.ttl);
        EXPECT_EQ(vec(d->body), c.body);
        // The transcript prefix is the first 13 bytes of the encoding.
        const u8v prefix = encode_with([&](Writer& w) { encode_inner_prefix(c.m, w); });
        EXPECT_EQ(prefix, u8v(c.wire.begin(), c.wire.begin() + 13));
        if (::testing::Test::HasFailure()) return;
    }
}
TEST(WireRoundTrip, InnerWithoutPadding) { inner_round_trips(50, 0); }
TEST(WireRoundTrip, InnerWithPadding) { inner_round_trips(51, -1); }
TEST(WireRoundTrip, InnerMaximalBodyAndPadding) {
    Rng r(52);
    InnerCase c;
    gen_inner(r, c, static_cast<int>(kMaxPadding));
    c.body = r.bytes(kMaxData);
    c.m.body = c.body;
    c.wire = encode_with([&](Writer& w) { encode_inner(c.m, kMaxPadding, w); });
    ASSERT_EQ(c.wire.size(), kMaxInner);
    auto d = decode_inner(c.wire);
    ASSERT_TRUE(is_ok(d));
    EXPECT_EQ(vec(d->body), c.body);
}
TEST(WireRoundTrip, InnerEveryMessageType) {
    for (int t = 1; t < kMsgTypeCount; ++t) {
        Inner m;
        m.type = static_cast<MsgType>(t);
        const u8v wire = encode_with([&](Writer& w) { encode_inner(m, 0, w); });
        auto d = decode_inner(wire);
        ASSERT_TRUE(is_ok(d)) << t;
        EXPECT_EQ(d->type, m.type);
    }
}

TEST(WireRoundTrip, RekeyHello) {
    Rng r(60);
    for (int i = 0; i < kIterations; ++i) {
        RekeyHelloCase c;
        gen_rekey_hello(r, c);
        auto d = decode_rekey_hello(c.wire);
        ASSERT_TRUE(is_ok(d)) << "iteration " << i;
        EXPECT_EQ(d->kx, c.h.kx);
        EXPECT_EQ(vec(d->share), c.share);
        EXPECT_EQ(d->random, c.h.random);
        if (HasFailure()) return;
    }
}

TEST(WireRoundTrip, RekeyHelloAck) {
    Rng r(61);
    for (int i = 0; i < kIterations; ++i) {
        RekeyHelloAckCase c;
        gen_rekey_hello_ack(r, c);
        auto d = decode_rekey_hello_ack(c.wire);
        ASSERT_TRUE(is_ok(d)) << "iteration " << i;
        EXPECT_EQ(vec(d->share), c.share);
        EXPECT_EQ(d->random, c.h.random);
        EXPECT_EQ(vec(d->sig), c.sig);
        EXPECT_EQ(vec(d->finished), c.finished);
        // The layout the engine writes (slots filled afterwards) is the same message.
        u8v buf(c.wire.size() + 8, 0xee);
        Writer w(buf);
        const AuthSlots s = layout_rekey_hello_ack(c.h, c.sig.size(), w);
        ASSERT_TRUE(w.ok());
        ASSERT_EQ(w.size(), c.wire.size());
        EXPECT_EQ(s.sig_field.data(), buf.data() + 2 + c.share.size() + random_len(c.share));
        ASSERT_EQ(s.sig_field.size(), 2 + c.sig.size());
        ASSERT_EQ(s.finished.size(), kFinishedLen);
        std::copy(c.sig.begin(), c.sig.end(), s.sig_field.begin() + 2);
        std::copy(c.finished.begin(), c.finished.end(), s.finished.begin());
        EXPECT_EQ(u8v(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(w.size())), c.wire);
        if (HasFailure()) return;
    }
}

TEST(WireRoundTrip, NonceBody) {
    Rng r(70);
    for (int i = 0; i < kIterations; ++i) {
        const std::uint32_t n = (i == 0) ? 0 : (i == 1) ? 0xffffffffu : r.u32();
        const u8v wire = encode_with([&](Writer& w) { w.u32(n); });
        auto d = decode_nonce_body(wire);
        ASSERT_TRUE(is_ok(d));
        EXPECT_EQ(*d, n);
    }
}

TEST(WireRoundTrip, CloseBody) {
    for (unsigned v = 0; v <= static_cast<unsigned>(kLastReason); ++v) {
        const u8v wire = {static_cast<std::uint8_t>(v)};
        auto d = decode_close_body(wire);
        ASSERT_TRUE(is_ok(d)) << v;
        EXPECT_EQ(static_cast<unsigned>(*d), v);
    }
}

TEST(WireRoundTrip, EmptyBody) {
    EXPECT_TRUE(is_ok(decode_empty_body(ConstBytes{})));
    const u8v none;
    EXPECT_TRUE(is_ok(decode_empty_body(none)));
}

void cert_round_trips(std::uint32_t seed, CertOpts o) {
    Rng r(seed);
    for (int i = 0; i < kIterations; ++i) {
        CertCase k;
        gen_cert(r, k, o);
        ASSERT_EQ(k.wire, cat({k.tbs, be16(k.signature.size()), k.signature}));
        auto d = decode_cert(k.wire);
        ASSERT_TRUE(is_ok(d)) << "iteration " << i;
        expect_cert_eq(k, *d);
        if (::testing::Test::HasFailure()) return;
    }
}
TEST(WireRoundTrip, CertRandom) { cert_round_trips(80, {}); }
TEST(WireRoundTrip, CertEveryAlgorithmPair) {
    for (int ka = 1; ka <= 3; ++ka)
        for (int sa = 1; sa <= 3; ++sa)
            cert_round_trips(static_cast<std::uint32_t>(800 + ka * 10 + sa), {.key_alg = ka, .sig_alg = sa});
}
TEST(WireRoundTrip, CertLargestFitsUnderMaxCert) {
    Rng r(81);
    CertCase k;
    gen_cert(r, k, {.key_alg = 3, .sig_alg = 3});
    k.subject = r.bytes(kMaxSubject);
    k.c.subject = k.subject;
    k.tbs = encode_with([&](Writer& w) { encode_cert_tbs(k.c, w); });
    k.wire = encode_with([&](Writer& w) { encode_cert(k.c, w); });
    EXPECT_LE(k.wire.size(), kMaxCert);
    auto d = decode_cert(k.wire);
    ASSERT_TRUE(is_ok(d));
    expect_cert_eq(k, *d);
}

// ================================================================ 2. truncation

TEST(WireTruncation, Hello) {
    Rng r(100);
    for (int i = 0; i < kTruncIterations; ++i) {
        HelloCase c;
        gen_hello(r, c, {.psk = i % 2});
        expect_all_truncations_rejected(c.wire, dec_hello);
        if (HasFailure()) return;
    }
}
TEST(WireTruncation, HelloAck) {
    Rng r(101);
    for (int i = 0; i < kTruncIterations; ++i) {
        HelloAckCase c;
        gen_hello_ack(r, c, {.mode = 1 + i % 4, .sealed_len = r.len(kSealedMin, 300)});
        expect_all_truncations_rejected(c.wire, dec_hello_ack);
        if (HasFailure()) return;
    }
}
TEST(WireTruncation, HelloAckAuth) {
    Rng r(102);
    for (int i = 0; i < kTruncIterations; ++i) {
        AuthCase c;
        gen_auth(r, c);
        expect_all_truncations_rejected(c.wire, dec_auth);
        if (HasFailure()) return;
    }
}
TEST(WireTruncation, AckBody) {
    Rng r(103);
    for (int i = 0; i < kTruncIterations; ++i) {
        AuthCase c;
        gen_auth(r, c);
        expect_all_truncations_rejected(c.ack_wire, dec_ack);
        if (HasFailure()) return;
    }
}
TEST(WireTruncation, ClearClose) {
    ClearClose c;
    c.reason = Reason::bad_sequence;
    c.seq = 7;
    const u8v wire = encode_with([&](Writer& w) { encode_clear_close(c, w); });
    expect_all_truncations_rejected(wire, dec_clear_close);
}
TEST(WireTruncation, Record) {
    Rng r(104);
    for (int i = 0; i < kTruncIterations; ++i) {
        RecordHeader h{r.byte(), r.u32()};
        const u8v payload = r.bytes(r.len(crypto::kAeadTagLen, 200));
        const u8v wire = cat({encode_with([&](Writer& w) { encode_record_header(h, w); }), payload});
        // The caller states the smallest payload it accepts (here: all of it).
        expect_all_truncations_rejected(wire, [&](ConstBytes b) { return decode_record(b, payload.size()); });
        if (HasFailure()) return;
    }
}
TEST(WireTruncation, RecordHeaderWithZeroMinPayload) {
    const u8v wire = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01};
    expect_all_truncations_rejected(wire, [](ConstBytes b) { return decode_record(b, 0); });
}
TEST(WireTruncation, Inner) {
    // Without padding: with padding, cutting into the padding leaves a valid message.
    Rng r(105);
    for (int i = 0; i < kTruncIterations; ++i) {
        InnerCase c;
        gen_inner(r, c, 0, i == 0 ? kMaxData : 400);
        expect_all_truncations_rejected(c.wire, dec_inner);
        if (HasFailure()) return;
    }
}
TEST(WireTruncation, RekeyHello) {
    Rng r(106);
    for (int i = 0; i < kTruncIterations; ++i) {
        RekeyHelloCase c;
        gen_rekey_hello(r, c);
        expect_all_truncations_rejected(c.wire, dec_rekey_hello);
        if (HasFailure()) return;
    }
}
TEST(WireTruncation, RekeyHelloAck) {
    Rng r(107);
    for (int i = 0; i < kTruncIterations; ++i) {
        RekeyHelloAckCase c;
        gen_rekey_hello_ack(r, c);
        expect_all_truncations_rejected(c.wire, dec_rekey_hello_ack);
        if (HasFailure()) return;
    }
}
TEST(WireTruncation, NonceBody) {
    expect_all_truncations_rejected(u8v{0x12, 0x34, 0x56, 0x78}, dec_nonce);
}
TEST(WireTruncation, CloseBody) { expect_all_truncations_rejected(u8v{0x03}, dec_close); }
TEST(WireTruncation, Cert) {
    Rng r(108);
    for (int i = 0; i < kTruncIterations; ++i) {
        CertCase k;
        gen_cert(r, k);
        expect_all_truncations_rejected(k.wire, dec_cert);
        if (HasFailure()) return;
    }
}

// ================================================================ 3. trailing bytes

TEST(WireTrailing, Hello) {
    Rng r(200);
    for (int i = 0; i < 6; ++i) {
        HelloCase c;
        gen_hello(r, c, {.psk = i % 2});
        expect_trailing_rejected(c.wire, dec_hello, r.g);
    }
}
TEST(WireTrailing, HelloWithoutPskRejectsAMacLikeSuffix) {
    Rng r(201);
    HelloCase c;
    gen_hello(r, c, {.psk = 0});
    const u8v in = cat({c.wire, r.bytes(kMacLen)});
    EXPECT_TRUE(is_err(decode_hello(in), Err::trailing_bytes));
}
TEST(WireTrailing, HelloAck) {
    Rng r(202);
    for (int i = 0; i < 8; ++i) {
        HelloAckCase c;
        gen_hello_ack(r, c, {.mode = 1 + i % 4, .sealed_len = r.len(kSealedMin, 300)});
        expect_trailing_rejected(c.wire, dec_hello_ack, r.g);
    }
}
TEST(WireTrailing, HelloAckAuth) {
    Rng r(203);
    for (int i = 0; i < 6; ++i) {
        AuthCase c;
        gen_auth(r, c);
        expect_trailing_rejected(c.wire, dec_auth, r.g);
    }
}
TEST(WireTrailing, AckBody) {
    Rng r(204);
    for (int i = 0; i < 6; ++i) {
        AuthCase c;
        gen_auth(r, c);
        expect_trailing_rejected(c.ack_wire, dec_ack, r.g);
    }
}
TEST(WireTrailing, ClearClose) {
    Rng r(205);
    ClearClose c;
    c.reason = Reason::shutdown;
    const u8v wire = encode_with([&](Writer& w) { encode_clear_close(c, w); });
    expect_trailing_rejected(wire, dec_clear_close, r.g);
}
TEST(WireTrailing, RekeyHello) {
    Rng r(206);
    for (int i = 0; i < 6; ++i) {
        RekeyHelloCase c;
        gen_rekey_hello(r, c);
        expect_trailing_rejected(c.wire, dec_rekey_hello, r.g);
    }
}
TEST(WireTrailing, RekeyHelloAck) {
    Rng r(207);
    for (int i = 0; i < 6; ++i) {
        RekeyHelloAckCase c;
        gen_rekey_hello_ack(r, c);
        expect_trailing_rejected(c.wire, dec_rekey_hello_ack, r.g);
    }
}
TEST(WireTrailing, NonceBody) {
    Rng r(208);
    expect_trailing_rejected(u8v{0, 0, 0, 1}, dec_nonce, r.g);
}
TEST(WireTrailing, CloseBody) {
    Rng r(209);
    expect_trailing_rejected(u8v{0x00}, dec_close, r.g);
}
TEST(WireTrailing, EmptyBody) {
    for (std::uint8_t b : std::initializer_list<std::uint8_t>{0x00, 0x01, 0xff}) {
        const u8v one = {b};
        EXPECT_TRUE(is_err(decode_empty_body(one), Err::trailing_bytes)) << int{b};
    }
    EXPECT_TRUE(is_err(decode_empty_body(rep(10, 0)), Err::trailing_bytes));
}
TEST(WireTrailing, Cert) {
    Rng r(210);
    for (int i = 0; i < 6; ++i) {
        CertCase k;
        gen_cert(r, k);
        expect_trailing_rejected(k.wire, dec_cert, r.g);
    }
}
TEST(WireTrailing, RecordPayloadTakesEverythingAfterHeader) {
    // A record has no length field: every byte after the header is payload.
    const u8v wire = cat({{0x17, 0x02, 0x00, 0x00, 0x01, 0x00}, rep(20, 0x5c)});
    for (std::size_t extra : {1u, 7u}) {
        const u8v in = cat({wire, rep(extra, 0x00)});
        auto d = decode_record(in, 20);
        ASSERT_TRUE(is_ok(d));
        EXPECT_EQ(d->payload.size(), 20 + extra);
    }
}
TEST(WireTrailing, InnerAcceptsZeroPaddingUpToMax) {
    Rng r(211);
    InnerCase c;
    gen_inner(r, c, 0, 100);
    for (std::size_t pad = 0; pad <= kMaxPadding; ++pad) {
        const u8v in = cat({c.wire, rep(pad, 0)});
        auto d = decode_inner(in);
        ASSERT_TRUE(is_ok(d)) << "padding " << pad;
        EXPECT_EQ(vec(d->body), c.body);
    }
}
TEST(WireTrailing, InnerRejectsPaddingBeyondMax) {
    Rng r(212);
    InnerCase c;
    gen_inner(r, c, 0, 100);
    for (std::size_t pad : {kMaxPadding + 1, kMaxPadding + 2, std::size_t{1000}}) {
        const u8v in = cat({c.wire, rep(pad, 0)});
        EXPECT_TRUE(is_err(decode_inner(in), Err::trailing_bytes)) << "padding " << pad;
    }
}
TEST(WireTrailing, InnerRejectsNonZeroTrailingByte) {
    Rng r(213);
    InnerCase c;
    gen_inner(r, c, 0, 100);
    for (std::size_t pad : {std::size_t{1}, std::size_t{2}, std::size_t{16}, kMaxPadding}) {
        for (std::size_t pos = 0; pos < pad; ++pos) {
            for (std::uint8_t v : std::initializer_list<std::uint8_t>{0x01, 0x80, 0xff}) {
                u8v in = cat({c.wire, rep(pad, 0)});
                in[c.wire.size() + pos] = v;
                ASSERT_TRUE(is_err(decode_inner(in), Err::trailing_bytes))
                    << "padding " << pad << " non-zero at " << pos << " value " << int{v};
            }
        }
    }
}

// ================================================================ 4. oversized lengths
// Each input stops right after the oversized length field: the decoder must refuse
// the length itself (Err::too_long), not run out of bytes while copying. At exactly
// the maximum the same short input yields Err::truncated, which pins the bound.

const u8v kHelloLists = {0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01};  // frame, 3 one-entry lists

TEST(WireOversized, HelloVersionsListLongerThan8) {
    EXPECT_TRUE(is_err(decode_hello(u8v{0x01, 0x09}), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello(cat({{0x01, 0x09}, {1, 2, 3, 4, 5, 6, 7, 8, 9}})), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello(u8v{0x01, 0x08}), Err::truncated));
    EXPECT_TRUE(is_err(decode_hello(u8v{0x01, 0xff}), Err::too_long));
}
TEST(WireOversized, HelloSuitesListLongerThan8) {
    EXPECT_TRUE(is_err(decode_hello(u8v{0x01, 0x01, 0x01, 0x09}), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello(u8v{0x01, 0x01, 0x01, 0x08}), Err::truncated));
}
TEST(WireOversized, HelloModesListLongerThan4) {
    EXPECT_TRUE(is_err(decode_hello(u8v{0x01, 0x01, 0x01, 0x01, 0x01, 0x05}), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello(u8v{0x01, 0x01, 0x01, 0x01, 0x01, 0x05, 1, 2, 3, 4, 5}), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello(u8v{0x01, 0x01, 0x01, 0x01, 0x01, 0x04}), Err::truncated));
}
TEST(WireOversized, HelloShareLongerThanMaxShare) {
    EXPECT_TRUE(is_err(decode_hello(cat({kHelloLists, {0x00, 0x01}, be16(kMaxShare + 1)})), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello(cat({kHelloLists, {0x00, 0x01}, be16(0xffff)})), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello(cat({kHelloLists, {0x00, 0x01}, be16(kMaxShare)})), Err::truncated));
}
TEST(WireOversized, HelloPskIdLongerThanMaxPskId) {
    const u8v head = cat({kHelloLists, {0x00, 0x00}, be16(0), rep(kRandomLen, 0), rep(8, 0)});
    EXPECT_TRUE(is_err(decode_hello(cat({head, {static_cast<std::uint8_t>(kMaxPskId + 1)}})), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello(cat({head, {0xff}})), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello(cat({head, {static_cast<std::uint8_t>(kMaxPskId)}})), Err::truncated));
    EXPECT_TRUE(is_ok(decode_hello(cat({head, {0x00}}))));  // sanity: the head itself is valid
}

const u8v kHelloAckHead = {0x02, 0x01, 0x01, 0x01, 0x00};  // frame, version, suite, mode cert, flags

TEST(WireOversized, HelloAckListsTooLong) {
    EXPECT_TRUE(is_err(decode_hello_ack(cat({kHelloAckHead, {0x09}})), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello_ack(cat({kHelloAckHead, {0x01, 0x01, 0x09}})), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello_ack(cat({kHelloAckHead, {0x01, 0x01, 0x01, 0x01, 0x05}})), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello_ack(cat({kHelloAckHead, {0x01, 0x01, 0x01, 0x01, 0x04}})), Err::truncated));
}
TEST(WireOversized, HelloAckShareLongerThanMaxShare) {
    const u8v head = cat({kHelloAckHead, {0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01}});
    EXPECT_TRUE(is_err(decode_hello_ack(cat({head, be16(kMaxShare + 1)})), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello_ack(cat({head, be16(kMaxShare)})), Err::truncated));
}
TEST(WireOversized, HelloAckSealedLengthOutOfRange) {
    Rng r(300);
    for (int mode = 1; mode <= 4; ++mode) {
        HelloAckCase c;
        gen_hello_ack(r, c, {.mode = mode});
        const u8v head = cat({c.clear, c.mac});
        EXPECT_TRUE(is_err(decode_hello_ack(cat({head, be16(kSealedMax + 1)})), Err::too_long)) << mode;
        EXPECT_TRUE(is_err(decode_hello_ack(cat({head, be16(0xffff)})), Err::too_long)) << mode;
        EXPECT_TRUE(is_err(decode_hello_ack(cat({head, be16(kSealedMax)})), Err::truncated)) << mode;
        // Below the smallest possible sealed part (tag + two empty vec16 + finished).
        EXPECT_TRUE(is_decode_err(decode_hello_ack(cat({head, be16(kSealedMin - 1), rep(kSealedMin - 1, 0)}))))
            << mode;
        EXPECT_TRUE(is_decode_err(decode_hello_ack(cat({head, be16(0)})))) << mode;
        EXPECT_TRUE(is_ok(decode_hello_ack(cat({head, be16(kSealedMin), rep(kSealedMin, 0)})))) << mode;
    }
}
TEST(WireOversized, AuthCertLongerThanMaxCert) {
    EXPECT_TRUE(is_err(decode_hello_ack_auth(be16(kMaxCert + 1)), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello_ack_auth(be16(kMaxCert)), Err::truncated));
    EXPECT_TRUE(is_err(decode_ack_body(cat({rep(4, 0), be16(kMaxCert + 1)})), Err::too_long));
}
TEST(WireOversized, AuthSignatureLongerThan384) {
    EXPECT_TRUE(is_err(decode_hello_ack_auth(cat({be16(0), be16(crypto::kMaxSignatureLen + 1)})), Err::too_long));
    EXPECT_TRUE(is_err(decode_hello_ack_auth(cat({be16(0), be16(crypto::kMaxSignatureLen)})), Err::truncated));
    EXPECT_TRUE(is_err(decode_ack_body(cat({rep(4, 0), be16(0), be16(385)})), Err::too_long));
}
TEST(WireOversized, InnerBodyLongerThanMaxData) {
    const u8v head = cat({{0x04}, rep(12, 0)});
    EXPECT_TRUE(is_err(decode_inner(cat({head, be16(kMaxData + 1)})), Err::too_long));
    EXPECT_TRUE(is_err(decode_inner(cat({head, be16(0xffff)})), Err::too_long));
    EXPECT_TRUE(is_err(decode_inner(cat({head, be16(kMaxData)})), Err::truncated));
}
TEST(WireOversized, RekeyHelloShareLongerThanMaxShare) {
    EXPECT_TRUE(is_err(decode_rekey_hello(cat({{0x01}, be16(kMaxShare + 1)})), Err::too_long));
    EXPECT_TRUE(is_err(decode_rekey_hello(cat({{0x01}, be16(kMaxShare)})), Err::truncated));
}
TEST(WireOversized, RekeyHelloAckShareAndSignatureTooLong) {
    EXPECT_TRUE(is_err(decode_rekey_hello_ack(be16(kMaxShare + 1)), Err::too_long));
    EXPECT_TRUE(is_err(decode_rekey_hello_ack(be16(kMaxShare)), Err::truncated));
    const u8v head = cat({be16(32), rep(32, 9)});  // a share, so no random
    EXPECT_TRUE(is_err(decode_rekey_hello_ack(cat({head, be16(crypto::kMaxSignatureLen + 1)})), Err::too_long));
    EXPECT_TRUE(is_err(decode_rekey_hello_ack(cat({head, be16(crypto::kMaxSignatureLen)})), Err::truncated));
}

// version 1, role server, key ed25519
const u8v kCertHead = {0x01, 0x02, 0x01};

TEST(WireOversized, CertSubjectLongerThanMaxSubject) {
    EXPECT_TRUE(is_err(decode_cert(cat({kCertHead, {static_cast<std::uint8_t>(kMaxSubject + 1)}})), Err::too_long));
    EXPECT_TRUE(is_err(decode_cert(cat({kCertHead, {0xff}})), Err::too_long));
    EXPECT_TRUE(is_err(decode_cert(cat({kCertHead, {static_cast<std::uint8_t>(kMaxSubject)}})), Err::truncated));
}
const u8v kCertToIssuer = cat({kCertHead, {0x01, 's'}, rep(8, 0), rep(4, 0), rep(4, 0), rep(kKeyIdLen, 0xaa)});
TEST(WireOversized, CertPubkeyLongerThanMax) {
    EXPECT_TRUE(is_err(decode_cert(cat({kCertToIssuer, be16(crypto::kMaxPublicKeyLen + 1)})), Err::too_long));
    EXPECT_TRUE(is_err(decode_cert(cat({kCertToIssuer, be16(crypto::kMaxPublicKeyLen)})), Err::truncated));
}
TEST(WireOversized, CertSignatureLongerThan384) {
    const u8v tbs = cat({kCertToIssuer, be16(32), rep(32, 0x44), {0x01}});
    EXPECT_TRUE(is_err(decode_cert(cat({tbs, be16(crypto::kMaxSignatureLen + 1)})), Err::too_long));
    EXPECT_TRUE(is_err(decode_cert(cat({tbs, be16(crypto::kMaxSignatureLen)})), Err::truncated));
    EXPECT_TRUE(is_ok(decode_cert(cat({tbs, be16(64), rep(64, 0x55)}))));  // sanity
}
TEST(WireOversized, CertInputLongerThanMaxCert) {
    Rng r(301);
    CertCase k;
    gen_cert(r, k);
    const u8v to_max = cat({k.wire, rep(kMaxCert - k.wire.size(), 0)});
    EXPECT_TRUE(is_err(decode_cert(to_max), Err::trailing_bytes));
    const u8v over = cat({k.wire, rep(kMaxCert + 1 - k.wire.size(), 0)});
    EXPECT_TRUE(is_err(decode_cert(over), Err::too_long));
}
TEST(WireOversized, RecordLongerThanMaxRecord) {
    const u8v head = {0x17, 0x00, 0x00, 0x00, 0x00, 0x00};
    const u8v at_max = cat({head, rep(kMaxRecord - head.size(), 0x11)});
    EXPECT_TRUE(is_ok(decode_record(at_max, 0)));
    const u8v over = cat({head, rep(kMaxRecord + 1 - head.size(), 0x11)});
    EXPECT_TRUE(is_err(decode_record(over, 0), Err::too_long));
}

// ================================================================ 5. semantic rejections

// A known-good HELLO with fixed contents, to be mutated one field at a time.
struct FixedHello {
    u8v share = u8v(32, 0x5a);
    u8v psk_id;
    Hello h;
    FixedHello() {
        h.versions = ids({1});
        h.suites = ids({1, 2, 3});
        h.modes = ids({1, 2});
        h.kx = Kx::x25519;
        h.share = share;
    }
    u8v wire() const { return encode_with([&](Writer& w) { encode_hello_body(h, w); }); }
};
TEST(WireSemantic, FixedHelloBaselineDecodes) { EXPECT_TRUE(is_ok(decode_hello(FixedHello().wire()))); }

TEST(WireSemantic, HelloDuplicateIdsInList) {
    {
        FixedHello f;
        f.h.versions = ids({1, 1});
        EXPECT_TRUE(is_err(decode_hello(f.wire()), Err::bad_value));
    }
    {
        FixedHello f;
        f.h.suites = ids({1, 2, 3, 4, 5, 6, 7, 1});
        EXPECT_TRUE(is_err(decode_hello(f.wire()), Err::bad_value));
    }
    {
        FixedHello f;
        f.h.modes = ids({4, 2, 4});
        EXPECT_TRUE(is_err(decode_hello(f.wire()), Err::bad_value));
    }
}
TEST(WireSemantic, HelloEmptyList) {
    for (int which = 0; which < 3; ++which) {
        FixedHello f;
        (which == 0 ? f.h.versions : which == 1 ? f.h.suites : f.h.modes) = IdList{};
        EXPECT_TRUE(is_err(decode_hello(f.wire()), Err::bad_value)) << which;
    }
}
TEST(WireSemantic, HelloUnknownFrameByte) {
    const u8v good = FixedHello().wire();
    for (unsigned b = 0; b < 256; ++b) {
        if (b == static_cast<unsigned>(Frame::hello)) continue;
        u8v in = good;
        in[0] = static_cast<std::uint8_t>(b);
        ASSERT_TRUE(is_err(decode_hello(in), Err::bad_value)) << b;
    }
}
TEST(WireSemantic, HelloUnknownKx) {
    for (std::uint8_t kx : std::initializer_list<std::uint8_t>{2, 3, 0x80, 0xff}) {
        FixedHello f;
        f.h.kx = static_cast<Kx>(kx);
        EXPECT_TRUE(is_err(decode_hello(f.wire()), Err::bad_value)) << int{kx};
    }
}
TEST(WireSemantic, HelloX25519ShareNot32Bytes) {
    for (std::size_t n : {0u, 1u, 31u, 33u, 64u, 1280u}) {
        FixedHello f;
        f.share = u8v(n, 0x5a);
        f.h.share = f.share;
        EXPECT_TRUE(is_err(decode_hello(f.wire()), Err::bad_value)) << n;
    }
}
TEST(WireSemantic, HelloKxNoneWithShare) {
    for (std::size_t n : {1u, 32u}) {
        FixedHello f;
        f.h.kx = Kx::none;
        f.share = u8v(n, 0x5a);
        f.h.share = f.share;
        EXPECT_TRUE(is_err(decode_hello(f.wire()), Err::bad_value)) << n;
    }
}
TEST(WireSemantic, HelloUnknownFlagBits) {
    for (int bit = 1; bit < 8; ++bit) {
        for (std::uint8_t base : std::initializer_list<std::uint8_t>{0, 1}) {
            FixedHello f;
            f.h.flags = static_cast<std::uint8_t>(base | (1u << bit));
            EXPECT_TRUE(is_err(decode_hello(f.wire()), Err::bad_value)) << bit;
        }
    }
}

struct FixedHelloAck {
    u8v share = u8v(32, 0x22);
    HelloAck h;
    FixedHelloAck() {
        h.versions = ids({1});
        h.suites = ids({1, 2});
        h.modes = ids({1});
        h.share = share;
    }
    u8v wire() const {
        const u8v clear = encode_with([&](Writer& w) { encode_hello_ack_clear(h, w); });
        const u8v mac = mode_uses_psk(h.mode) ? rep(kMacLen, 0x77) : u8v{};
        return cat({clear, mac, be16(kSealedMin), rep(kSealedMin, 0x99)});
    }
};
TEST(WireSemantic, FixedHelloAckBaselineDecodes) {
    for (int mode = 1; mode <= 4; ++mode) {
        FixedHelloAck f;
        f.h.mode = static_cast<Mode>(mode);
        EXPECT_TRUE(is_ok(decode_hello_ack(f.wire()))) << mode;
    }
}
TEST(WireSemantic, HelloAckSuiteOutOfRange) {
    for (std::uint8_t s : std::initializer_list<std::uint8_t>{0, 4, 0xff}) {
        FixedHelloAck f;
        f.h.suite = static_cast<Suite>(s);
        EXPECT_TRUE(is_err(decode_hello_ack(f.wire()), Err::bad_value)) << int{s};
    }
}
TEST(WireSemantic, HelloAckModeOutOfRange) {
    for (std::uint8_t m : std::initializer_list<std::uint8_t>{0, 5, 0xff}) {
        FixedHelloAck f;
        f.h.mode = static_cast<Mode>(m);
        EXPECT_TRUE(is_err(decode_hello_ack(f.wire()), Err::bad_value)) << int{m};
    }
}
TEST(WireSemantic, HelloAckVersionZero) {
    FixedHelloAck f;
    f.h.version = 0;
    EXPECT_TRUE(is_err(decode_hello_ack(f.wire()), Err::bad_value));
}
TEST(WireSemantic, HelloAckUnknownFlagBits) {
    for (int bit = 1; bit < 8; ++bit) {
        FixedHelloAck f;
        f.h.flags = static_cast<std::uint8_t>(1u << bit);
        EXPECT_TRUE(is_err(decode_hello_ack(f.wire()), Err::bad_value)) << bit;
    }
}
TEST(WireSemantic, HelloAckUnknownFrameByte) {
    const u8v good = FixedHelloAck().wire();
    for (unsigned b = 0; b < 256; ++b) {
        if (b == static_cast<unsigned>(Frame::hello_ack)) continue;
        u8v in = good;
        in[0] = static_cast<std::uint8_t>(b);
        ASSERT_TRUE(is_err(decode_hello_ack(in), Err::bad_value)) << b;
    }
}
TEST(WireSemantic, HelloAckDuplicateAndEmptyLists) {
    for (int which = 0; which < 3; ++which) {
        FixedHelloAck f;
        (which == 0 ? f.h.versions : which == 1 ? f.h.suites : f.h.modes) = ids({2, 2});
        EXPECT_TRUE(is_err(decode_hello_ack(f.wire()), Err::bad_value)) << "duplicate " << which;
        FixedHelloAck g;
        (which == 0 ? g.h.versions : which == 1 ? g.h.suites : g.h.modes) = IdList{};
        EXPECT_TRUE(is_err(decode_hello_ack(g.wire()), Err::bad_value)) << "empty " << which;
    }
}
TEST(WireSemantic, HelloAckKxAndShareChecks) {
    {
        FixedHelloAck f;
        f.h.kx = static_cast<Kx>(2);
        EXPECT_TRUE(is_err(decode_hello_ack(f.wire()), Err::bad_value));
    }
    for (std::size_t n : {0u, 31u, 33u}) {
        FixedHelloAck f;
        f.share = u8v(n, 1);
        f.h.share = f.share;
        EXPECT_TRUE(is_err(decode_hello_ack(f.wire()), Err::bad_value)) << n;
    }
    {
        FixedHelloAck f;
        f.h.kx = Kx::none;
        EXPECT_TRUE(is_err(decode_hello_ack(f.wire()), Err::bad_value));  // none with a 32-byte share
        f.share.clear();
        f.h.share = f.share;
        EXPECT_TRUE(is_ok(decode_hello_ack(f.wire())));
    }
}
TEST(WireSemantic, HelloAckMacPresenceFollowsMode) {
    // PSK mode without the MAC: the sealed length is read from the wrong place.
    FixedHelloAck f;
    f.h.mode = Mode::psk;
    const u8v clear = encode_with([&](Writer& w) { encode_hello_ack_clear(f.h, w); });
    EXPECT_TRUE(is_decode_err(decode_hello_ack(cat({clear, be16(kSealedMin), rep(kSealedMin, 0)}))));
    // Cert mode with a MAC inserted: the zero MAC is read as a sealed length of 0.
    f.h.mode = Mode::cert;
    const u8v clear2 = encode_with([&](Writer& w) { encode_hello_ack_clear(f.h, w); });
    EXPECT_TRUE(is_decode_err(decode_hello_ack(cat({clear2, rep(kMacLen, 0), be16(kSealedMin), rep(kSealedMin, 0)}))));
}

TEST(WireSemantic, InnerTypeOutOfRange) {
    for (std::uint8_t t : std::initializer_list<std::uint8_t>{0, 11, 0x80, 0xff}) {
        Inner m;
        m.type = static_cast<MsgType>(t);
        const u8v wire = encode_with([&](Writer& w) { encode_inner(m, 0, w); });
        EXPECT_TRUE(is_err(decode_inner(wire), Err::bad_value)) << int{t};
    }
}

TEST(WireSemantic, ClearCloseReasonOutOfRange) {
    for (std::uint8_t v : std::initializer_list<std::uint8_t>{0x13, 0x14, 0x80, 0xff}) {
        ClearClose c;
        c.reason = static_cast<Reason>(v);
        const u8v wire = encode_with([&](Writer& w) { encode_clear_close(c, w); });
        EXPECT_TRUE(is_err(decode_clear_close(wire), Err::bad_value)) << int{v};
    }
}
TEST(WireSemantic, ClearCloseUnknownFrameByte) {
    const u8v good = encode_with([&](Writer& w) { encode_clear_close(ClearClose{}, w); });
    for (unsigned b = 0; b < 256; ++b) {
        if (b == static_cast<unsigned>(Frame::close)) continue;
        u8v in = good;
        in[0] = static_cast<std::uint8_t>(b);
        ASSERT_TRUE(is_err(decode_clear_close(in), Err::bad_value)) << b;
    }
}
TEST(WireSemantic, CloseBodyReasonOutOfRange) {
    for (std::uint8_t v : std::initializer_list<std::uint8_t>{0x13, 0xff}) {
        const u8v body = {v};
        EXPECT_TRUE(is_err(decode_close_body(body), Err::bad_value)) << int{v};
    }
}
TEST(WireSemantic, RecordUnknownFrameByte) {
    const u8v good = {0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0xaa};
    for (unsigned b = 0; b < 256; ++b) {
        if (b == static_cast<unsigned>(Frame::record)) continue;
        u8v in = good;
        in[0] = static_cast<std::uint8_t>(b);
        ASSERT_TRUE(is_err(decode_record(in, 0), Err::bad_value)) << b;
    }
}

TEST(WireSemantic, RekeyHelloKxAndShareChecks) {
    RekeyHello h;
    u8v share(32, 3);
    h.share = share;
    auto enc = [&] { return encode_with([&](Writer& w) { encode_rekey_hello(h, w); }); };
    ASSERT_TRUE(is_ok(decode_rekey_hello(enc())));
    h.kx = static_cast<Kx>(2);
    EXPECT_TRUE(is_err(decode_rekey_hello(enc()), Err::bad_value));
    h.kx = Kx::none;
    EXPECT_TRUE(is_err(decode_rekey_hello(enc()), Err::bad_value));  // none with a share
    h.kx = Kx::x25519;
    for (std::size_t n : {0u, 31u, 33u}) {
        share.assign(n, 3);
        h.share = share;
        EXPECT_TRUE(is_err(decode_rekey_hello(enc()), Err::bad_value)) << n;
    }
}
TEST(WireSemantic, RekeyHelloAckShareNot32OrEmpty) {
    for (std::size_t n : {1u, 31u, 33u, 64u}) {
        RekeyHelloAck h;
        const u8v share(n, 3), fin(kFinishedLen, 4);
        h.share = share;
        h.finished = fin;
        const u8v wire = encode_with([&](Writer& w) { encode_rekey_hello_ack(h, w); });
        EXPECT_TRUE(is_err(decode_rekey_hello_ack(wire), Err::bad_value)) << n;
    }
}

// A known-good certificate with fixed contents, to be mutated one field at a time.
struct FixedCert {
    u8v subject = {'n', 'o', 'd', 'e'};
    u8v pubkey = u8v(32, 0x44);
    u8v signature = u8v(64, 0x55);
    Cert c;
    FixedCert() {
        c.role = CertRole::server;
        c.subject = subject;
        c.not_before = 1000;
        c.not_after = 2000;
        c.pubkey = pubkey;
        c.signature = signature;
    }
    void set_pubkey(std::size_t n) {
        pubkey.assign(n, 0x44);
        c.pubkey = pubkey;
    }
    void set_signature(std::size_t n) {
        signature.assign(n, 0x55);
        c.signature = signature;
    }
    u8v wire() const { return encode_with([&](Writer& w) { encode_cert(c, w); }); }
};
TEST(WireSemantic, FixedCertBaselineDecodes) { EXPECT_TRUE(is_ok(decode_cert(FixedCert().wire()))); }

TEST(WireSemantic, CertWrongVersion) {
    for (std::uint8_t v : std::initializer_list<std::uint8_t>{0, 2, 0xff}) {
        u8v in = FixedCert().wire();
        in[0] = v;
        EXPECT_TRUE(is_err(decode_cert(in), Err::bad_value)) << int{v};
    }
}
TEST(WireSemantic, CertRoleOutOfRange) {
    for (std::uint8_t v : std::initializer_list<std::uint8_t>{0, 4, 0xff}) {
        FixedCert f;
        f.c.role = static_cast<CertRole>(v);
        EXPECT_TRUE(is_err(decode_cert(f.wire()), Err::bad_value)) << int{v};
    }
}
TEST(WireSemantic, CertUnknownKeyAlg) {
    for (std::uint8_t v : std::initializer_list<std::uint8_t>{0, 4, 0xff}) {
        FixedCert f;
        f.c.key_alg = static_cast<crypto::SigAlg>(v);
        EXPECT_TRUE(is_err(decode_cert(f.wire()), Err::bad_value)) << int{v};
    }
}
TEST(WireSemantic, CertUnknownSigAlg) {
    for (std::uint8_t v : std::initializer_list<std::uint8_t>{0, 4, 0xff}) {
        FixedCert f;
        f.c.sig_alg = static_cast<crypto::SigAlg>(v);
        EXPECT_TRUE(is_err(decode_cert(f.wire()), Err::bad_value)) << int{v};
    }
}
TEST(WireSemantic, CertPubkeyLengthNotMatchingAlg) {
    struct Case {
        crypto::SigAlg alg;
        std::size_t len;
    };
    for (auto [alg, len] : {Case{crypto::SigAlg::ed25519, 0}, Case{crypto::SigAlg::ed25519, 31},
                            Case{crypto::SigAlg::ed25519, 33}, Case{crypto::SigAlg::ed25519, 256},
                            Case{crypto::SigAlg::rsa_pss_2048_sha256, 32},
                            Case{crypto::SigAlg::rsa_pss_2048_sha256, 384},
                            Case{crypto::SigAlg::rsa_pss_3072_sha256, 256},
                            Case{crypto::SigAlg::rsa_pss_3072_sha256, 383}}) {
        FixedCert f;
        f.c.key_alg = alg;
        f.set_pubkey(len);
        EXPECT_TRUE(is_err(decode_cert(f.wire()), Err::bad_value)) << static_cast<int>(alg) << "/" << len;
        f.set_pubkey(crypto::pubkey_len(alg));
        EXPECT_TRUE(is_ok(decode_cert(f.wire()))) << static_cast<int>(alg);
    }
}
TEST(WireSemantic, CertSignatureLengthNotMatchingSigAlg) {
    struct Case {
        crypto::SigAlg alg;
        std::size_t len;
    };
    for (auto [alg, len] : {Case{crypto::SigAlg::ed25519, 0}, Case{crypto::SigAlg::ed25519, 63},
                            Case{crypto::SigAlg::ed25519, 65}, Case{crypto::SigAlg::ed25519, 256},
                            Case{crypto::SigAlg::rsa_pss_2048_sha256, 64},
                            Case{crypto::SigAlg::rsa_pss_2048_sha256, 384},
                            Case{crypto::SigAlg::rsa_pss_3072_sha256, 256},
                            Case{crypto::SigAlg::rsa_pss_3072_sha256, 383}}) {
        FixedCert f;
        f.c.sig_alg = alg;
        f.set_signature(len);
        EXPECT_TRUE(is_err(decode_cert(f.wire()), Err::bad_value)) << static_cast<int>(alg) << "/" << len;
        f.set_signature(crypto::sig_len(alg));
        EXPECT_TRUE(is_ok(decode_cert(f.wire()))) << static_cast<int>(alg);
    }
}
TEST(WireSemantic, CertNotAfterBeforeNotBefore) {
    FixedCert f;
    f.c.not_before = 2000;
    f.c.not_after = 1999;
    EXPECT_TRUE(is_err(decode_cert(f.wire()), Err::bad_value));
    f.c.not_before = 0xffffffffu;
    f.c.not_after = 0;
    EXPECT_TRUE(is_err(decode_cert(f.wire()), Err::bad_value));
    f.c.not_after = f.c.not_before;  // equal is a valid (one-second) window
    EXPECT_TRUE(is_ok(decode_cert(f.wire())));
}
TEST(WireSemantic, CertEmptySubject) {
    FixedCert f;
    f.subject.clear();
    f.c.subject = f.subject;
    EXPECT_TRUE(is_err(decode_cert(f.wire()), Err::bad_value));
}

// ================================================================ 6. golden encodings
// Expected bytes written by hand from the field order in wire.cpp / PROTOCOL.md §6.

TEST(WireGolden, HelloWithPskIdAndKxNone) {
    Hello h;
    h.versions = ids({1});
    h.suites = ids({3, 1});
    h.modes = ids({2, 1});
    h.flags = kFlagRelativeTtl;
    h.kx = Kx::none;
    for (std::uint8_t i = 0; i < kRandomLen; ++i) h.random[i] = i;
    h.seq = 0x01020304;
    h.ttl = 0xa0b0c0d0;
    const u8v psk = {'i', 'd'};
    h.psk_id = psk;
    const u8v expect = {
        0x01,                                            // frame hello
        0x01, 0x01,                                      // versions {1}
        0x02, 0x03, 0x01,                                // suites {3,1}
        0x02, 0x02, 0x01,                                // modes {2,1}
        0x01,                                            // flags: relative ttl
        0x00,                                            // kx none
        0x00, 0x00,                                      // share: empty
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,  // random
        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,  //
        0x01, 0x02, 0x03, 0x04,                          // seq
        0xa0, 0xb0, 0xc0, 0xd0,                          // ttl
        0x02, 'i', 'd',                                  // psk_id
    };
    EXPECT_EQ(encode_with([&](Writer& w) { encode_hello_body(h, w); }), expect);

    const u8v wire = cat({expect, rep(kMacLen, 0xee)});
    auto d = decode_hello(wire);
    ASSERT_TRUE(is_ok(d));
    EXPECT_TRUE(d->suites == h.suites);
    EXPECT_EQ(d->flags, kFlagRelativeTtl);
    EXPECT_EQ(d->seq, 0x01020304u);
    EXPECT_EQ(d->ttl, 0xa0b0c0d0u);
    EXPECT_EQ(vec(d->psk_id), psk);
    EXPECT_EQ(vec(d->mac), rep(kMacLen, 0xee));
    EXPECT_EQ(vec(d->body), expect);
}

TEST(WireGolden, HelloWithX25519Share) {
    const u8v share(32, 0x5a);
    Hello h;
    h.versions = ids({1});
    h.suites = ids({2});
    h.modes = ids({1});
    h.kx = Kx::x25519;
    h.share = share;
    h.seq = 0xfffffffe;
    h.ttl = 0x00000100;
    const u8v expect = cat({
        {0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x01, 0x00, 0x20},
        rep(32, 0x5a),  // share; no random follows a share
        {0xff, 0xff, 0xff, 0xfe, 0x00, 0x00, 0x01, 0x00, 0x00},
    });
    EXPECT_EQ(encode_with([&](Writer& w) { encode_hello_body(h, w); }), expect);
    auto d = decode_hello(expect);
    ASSERT_TRUE(is_ok(d));
    EXPECT_EQ(d->share.data(), expect.data() + 11);  // a view into the input
    EXPECT_EQ(d->seq, 0xfffffffeu);
    EXPECT_EQ(d->ttl, 0x100u);
}

TEST(WireGolden, HelloAckClear) {
    const u8v share(32, 0x22);
    HelloAck h;
    h.version = 1;
    h.suite = Suite::chacha20poly1305;
    h.mode = Mode::cert;
    h.versions = ids({1});
    h.suites = ids({1, 2, 3});
    h.modes = ids({1, 2});
    h.kx = Kx::x25519;
    h.share = share;
    h.random.fill(0x33);  // not encoded: the share stands for it
    h.seq = 1;
    h.ack = 2;
    h.ttl = 3;
    const u8v expect = cat({
        {0x02, 0x01, 0x02, 0x01, 0x00},  // frame, version, suite, mode, flags
        {0x01, 0x01},                    // versions
        {0x03, 0x01, 0x02, 0x03},        // suites
        {0x02, 0x01, 0x02},              // modes
        {0x01, 0x00, 0x20},              // kx, share length
        rep(32, 0x22),
        {0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3},  // seq, ack, ttl
    });
    EXPECT_EQ(encode_with([&](Writer& w) { encode_hello_ack_clear(h, w); }), expect);
}

TEST(WireGolden, ClearClose) {
    ClearClose c;
    c.reason = Reason::bad_mac;
    c.seq = 0x11223344;
    c.ack = 0x55667788;
    c.ttl = 0x99aabbcc;
    const u8v expect = {0x08, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc};
    EXPECT_EQ(encode_with([&](Writer& w) { encode_clear_close(c, w); }), expect);
    auto d = decode_clear_close(expect);
    ASSERT_TRUE(is_ok(d));
    EXPECT_EQ(d->reason, Reason::bad_mac);
    EXPECT_EQ(d->seq, 0x11223344u);
    EXPECT_EQ(d->ack, 0x55667788u);
    EXPECT_EQ(d->ttl, 0x99aabbccu);
}

TEST(WireGolden, RecordHeader) {
    RecordHeader h;
    h.epoch = 0x05;
    h.rn = 0xdeadbeef;
    const u8v expect = {0x17, 0x05, 0xde, 0xad, 0xbe, 0xef};
    EXPECT_EQ(encode_with([&](Writer& w) { encode_record_header(h, w); }), expect);
    const u8v wire = cat({expect, {0xc0, 0xc1}});
    auto d = decode_record(wire, 2);
    ASSERT_TRUE(is_ok(d));
    EXPECT_EQ(d->header.epoch, 0x05);
    EXPECT_EQ(d->header.rn, 0xdeadbeefu);
    EXPECT_EQ(vec(d->aad), expect);
    EXPECT_EQ(vec(d->payload), (u8v{0xc0, 0xc1}));
}

TEST(WireGolden, InnerWithPadding) {
    const u8v body = {'h', 'i'};
    Inner m;
    m.type = MsgType::data_request;
    m.seq = 1;
    m.ack = 2;
    m.ttl = 0x01000003;
    m.body = body;
    const u8v expect = {
        0x04,                    // type data request
        0x00, 0x00, 0x00, 0x01,  // seq
        0x00, 0x00, 0x00, 0x02,  // ack
        0x01, 0x00, 0x00, 0x03,  // ttl
        0x00, 0x02, 'h', 'i',    // body
        0x00, 0x00, 0x00,        // padding
    };
    EXPECT_EQ(encode_with([&](Writer& w) { encode_inner(m, 3, w); }), expect);
    EXPECT_EQ(encode_with([&](Writer& w) { encode_inner_prefix(m, w); }), u8v(expect.begin(), expect.begin() + 13));
    auto d = decode_inner(expect);
    ASSERT_TRUE(is_ok(d));
    EXPECT_EQ(d->type, MsgType::data_request);
    EXPECT_EQ(d->seq, 1u);
    EXPECT_EQ(d->ack, 2u);
    EXPECT_EQ(d->ttl, 0x01000003u);
    EXPECT_EQ(vec(d->body), body);
}

TEST(WireGolden, Cert) {
    FixedCert f;
    f.subject = {'s', 'r', 'v'};
    f.c.subject = f.subject;
    f.c.serial = 0x0102030405060708ull;
    f.c.not_before = 0x10000000;
    f.c.not_after = 0x20000000;
    for (std::uint8_t i = 0; i < kKeyIdLen; ++i) f.c.issuer[i] = static_cast<std::uint8_t>(0xa0 + i);
    const u8v tbs = cat({
        {0x01, 0x02, 0x01},                                      // version, role server, key ed25519
        {0x03, 's', 'r', 'v'},                                   // subject
        {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08},        // serial
        {0x10, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00},        // not_before, not_after
        {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7},        // issuer
        {0x00, 0x20}, rep(32, 0x44),                             // pubkey
        {0x01},                                                  // sig_alg ed25519
    });
    const u8v expect = cat({tbs, {0x00, 0x40}, rep(64, 0x55)});
    EXPECT_EQ(encode_with([&](Writer& w) { encode_cert_tbs(f.c, w); }), tbs);
    EXPECT_EQ(f.wire(), expect);
    auto d = decode_cert(expect);
    ASSERT_TRUE(is_ok(d));
    EXPECT_EQ(vec(d->tbs), tbs);
    EXPECT_EQ(d->serial, 0x0102030405060708ull);
}

TEST(WireGolden, RekeyBodies) {
    RekeyHello h;
    const u8v share(32, 0x01);
    h.share = share;
    h.random.fill(0x02);  // not encoded after a share
    EXPECT_EQ(encode_with([&](Writer& w) { encode_rekey_hello(h, w); }), cat({{0x01, 0x00, 0x20}, rep(32, 0x01)}));
    h.kx = Kx::none;
    h.share = {};
    EXPECT_EQ(encode_with([&](Writer& w) { encode_rekey_hello(h, w); }), cat({{0x00, 0x00, 0x00}, rep(16, 0x02)}));
    RekeyHelloAck a;
    const u8v sig = {0xaa, 0xbb}, fin(32, 0x03);
    a.random.fill(0x02);
    a.sig = sig;
    a.finished = fin;
    EXPECT_EQ(encode_with([&](Writer& w) { encode_rekey_hello_ack(a, w); }),
              cat({{0x00, 0x00}, rep(16, 0x02), {0x00, 0x02, 0xaa, 0xbb}, rep(32, 0x03)}));
}

}  // namespace
}  // namespace lockstep::wire
