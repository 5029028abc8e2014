// SPDX-License-Identifier: Apache-2.0
// lockstep — INSECURE test provider (see the header: non-cryptographic on purpose).
#include "crypto/providers/insecure_test/insecure_test_provider.hpp"

#include <cstring>

#include "common/bytes.hpp"

namespace lockstep::crypto::insecure {
namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x00000100000001b3ull;
constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ull;

// Domain bytes: one per primitive, so e.g. a hash never equals an HMAC.
enum Domain : std::uint8_t {
    kRandom = 'R',
    kHash = 'H',
    kHmac = 'M',
    kExtract = 'E',
    kExpand = 'X',
    kKeystream = 'K',
    kTag = 'T',
    kSig = 'S',
    kPub = 'P',
};

constexpr std::uint64_t rotl(std::uint64_t x, int r) noexcept { return (x << r) | (x >> (64 - r)); }

constexpr std::uint64_t splitmix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Two FNV-style lanes over the input bytes, expanded by a counter.
class Mix {
public:
    explicit Mix(Domain d) noexcept { byte(d); }
    void byte(std::uint8_t x) noexcept {
        a_ = (a_ ^ x) * kFnvPrime;
        b_ = rotl(b_ ^ x, 23) * kGolden;
    }
    // Raw bytes (no length): hash(a, b) must equal hash(a || b, {}).
    void raw(ConstBytes s) noexcept {
        for (std::uint8_t x : s) byte(x);
    }
    void u64(std::uint64_t v) noexcept {
        for (int i = 0; i < 8; ++i) byte(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    // Length-prefixed bytes: unambiguous when several fields are mixed.
    void field(ConstBytes s) noexcept {
        u64(s.size());
        raw(s);
    }
    void expand(Bytes out) const noexcept {
        const std::uint64_t key = splitmix(a_) ^ rotl(b_, 17);
        std::size_t i = 0;
        for (std::uint64_t block = 1; i < out.size(); ++block) {
            const std::uint64_t v = splitmix(key + block * kGolden);
            for (int j = 0; j < 8 && i < out.size(); ++j, ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * j));
        }
    }

private:
    std::uint64_t a_ = kFnvOffset;
    std::uint64_t b_ = kFnvOffset ^ kGolden;
};

// An output span must be exactly `want` bytes (the OpenSSL provider's rule).
Status check_out(std::size_t have, std::size_t want) noexcept {
    if (have < want) return Err::buffer_too_small;
    if (have > want) return Err::invalid_argument;
    return {};
}

bool overlaps(const std::uint8_t* a, std::size_t an, const std::uint8_t* b, std::size_t bn) noexcept {
    if (an == 0 || bn == 0) return false;
    const auto pa = reinterpret_cast<std::uintptr_t>(a);
    const auto pb = reinterpret_cast<std::uintptr_t>(b);
    return pa < pb + bn && pb < pa + an;
}

// `out` is either disjoint from `in` or starts at the same byte (crypto.hpp).
bool alias_ok(ConstBytes in, Bytes out) noexcept {
    return out.data() == in.data() || !overlaps(in.data(), in.size(), out.data(), out.size());
}

// The key and nonce sizes the real AEADs accept (AES-GCM 16/24/32-byte keys and
// 1..128-byte nonces as in OpenSSL 3.0; ChaCha20-Poly1305 32 and 12).
bool aead_sizes_ok(Aead a, std::size_t key, std::size_t nonce) noexcept {
    if (a == Aead::chacha20_poly1305) return key == 32 && nonce == 12;
    return (key == 16 || key == 24 || key == 32) && nonce >= 1 && nonce <= 128;
}

Mix aead_base(Domain d, Aead a, ConstBytes key, ConstBytes nonce) noexcept {
    Mix m(d);
    m.byte(static_cast<std::uint8_t>(a));
    m.field(key);
    m.field(nonce);
    return m;
}

void compute_tag(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes ct,
                 std::uint8_t (&tag)[kAeadTagLen]) noexcept {
    Mix m = aead_base(kTag, a, key, nonce);
    m.field(aad);
    m.field(ct);
    m.expand(tag);
}

// out[i] = in[i] XOR keystream[i]; in and out may be the same bytes.
void xor_keystream(Aead a, ConstBytes key, ConstBytes nonce, const std::uint8_t* in, std::uint8_t* out,
                   std::size_t n) noexcept {
    const Mix m = aead_base(kKeystream, a, key, nonce);
    std::uint8_t block[64];
    for (std::size_t off = 0; off < n; off += sizeof block) {
        // Each 64-byte block from its own mix of the block index.
        Mix b = m;
        b.u64(off);
        b.expand(block);
        const std::size_t len = n - off < sizeof block ? n - off : sizeof block;
        for (std::size_t i = 0; i < len; ++i) out[off + i] = static_cast<std::uint8_t>(in[off + i] ^ block[i]);
    }
}

bool all_zero(ConstBytes b) noexcept {
    std::uint8_t acc = 0;
    for (std::uint8_t x : b) acc |= x;
    return acc == 0;
}

}  // namespace

Status InsecureTestProvider::random(Bytes out) noexcept {
    std::size_t i = 0;
    while (i < out.size()) {
        const std::uint64_t v = splitmix(seed_ * kGolden + ++counter_ + (static_cast<std::uint64_t>(kRandom) << 56));
        for (int j = 0; j < 8 && i < out.size(); ++j, ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * j));
    }
    return {};
}

Status InsecureTestProvider::hash(Hash h, ConstBytes a, ConstBytes b, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    Mix m(kHash);
    m.byte(static_cast<std::uint8_t>(h));
    m.raw(a);
    m.raw(b);
    m.expand(out);
    return {};
}

Status InsecureTestProvider::hmac(Hash h, ConstBytes key, ConstBytes a, ConstBytes b, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    Mix m(kHmac);
    m.byte(static_cast<std::uint8_t>(h));
    m.field(key);
    m.raw(a);
    m.raw(b);
    m.expand(out);
    return {};
}

Status InsecureTestProvider::hkdf_extract(Hash h, ConstBytes salt, ConstBytes ikm, Bytes out) noexcept {
    LS_TRY(check_out(out.size(), hash_len(h)));
    Mix m(kExtract);
    m.byte(static_cast<std::uint8_t>(h));
    m.field(salt);
    m.field(ikm);
    m.expand(out);
    return {};
}

Status InsecureTestProvider::hkdf_expand(Hash h, ConstBytes prk, ConstBytes info, Bytes out) noexcept {
    if (out.size() > 255 * hash_len(h)) return Err::invalid_argument;  // RFC 5869 §2.3
    Mix m(kExpand);
    m.byte(static_cast<std::uint8_t>(h));
    m.field(prk);
    m.field(info);
    m.expand(out);  // counter expansion: a shorter output is a prefix of a longer one, as in HKDF
    return {};
}

Status InsecureTestProvider::aead_seal(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad, ConstBytes pt,
                                       Bytes out) noexcept {
    LS_TRY(check_out(out.size(), pt.size() + kAeadTagLen));
    if (!alias_ok(pt, out) || !aead_sizes_ok(a, key.size(), nonce.size())) return Err::invalid_argument;
    xor_keystream(a, key, nonce, pt.data(), out.data(), pt.size());
    std::uint8_t tag[kAeadTagLen];
    compute_tag(a, key, nonce, aad, out.first(pt.size()), tag);
    std::memcpy(out.data() + pt.size(), tag, kAeadTagLen);
    return {};
}

Status InsecureTestProvider::aead_open(Aead a, ConstBytes key, ConstBytes nonce, ConstBytes aad,
                                       ConstBytes ct_and_tag, Bytes out) noexcept {
    if (ct_and_tag.size() < kAeadTagLen) return Err::invalid_argument;
    const std::size_t ct_len = ct_and_tag.size() - kAeadTagLen;
    LS_TRY(check_out(out.size(), ct_len));
    if (!alias_ok(ct_and_tag, out) || !aead_sizes_ok(a, key.size(), nonce.size())) return Err::invalid_argument;
    // The tag covers the ciphertext, so check it before decrypting in place.
    std::uint8_t tag[kAeadTagLen];
    compute_tag(a, key, nonce, aad, ct_and_tag.first(ct_len), tag);
    if (!accept_any_tag_ && !ct_equal(tag, ct_and_tag.subspan(ct_len))) {
        if (!out.empty()) secure_wipe(out.data(), out.size());
        return Err::bad_mac;
    }
    xor_keystream(a, key, nonce, ct_and_tag.data(), out.data(), ct_len);
    return {};
}

Status InsecureTestProvider::x25519_keygen(Bytes priv32, Bytes pub32) noexcept {
    LS_TRY(check_out(priv32.size(), kX25519Len));
    LS_TRY(check_out(pub32.size(), kX25519Len));
    LS_TRY(random(priv32));
    if (all_zero(priv32)) priv32[0] = 1;  // an all-zero public key would be rejected
    std::memcpy(pub32.data(), priv32.data(), kX25519Len);
    return {};
}

Status InsecureTestProvider::x25519(ConstBytes priv32, ConstBytes pub32, ConstBytes peer_pub32, Bytes shared32) noexcept {
    if (priv32.size() != kX25519Len || peer_pub32.size() != kX25519Len || (!pub32.empty() && pub32.size() != kX25519Len))
        return Err::invalid_argument;
    LS_TRY(check_out(shared32.size(), kX25519Len));
    std::uint8_t shared[kX25519Len];
    for (std::size_t i = 0; i < kX25519Len; ++i) shared[i] = static_cast<std::uint8_t>(priv32[i] ^ peer_pub32[i]);
    // Like RFC 7748 §6.1: refuse the all-zero result (and the all-zero "low-order" key).
    if (all_zero(peer_pub32) || all_zero(shared)) {
        secure_wipe(shared, sizeof shared);
        secure_wipe(shared32.data(), shared32.size());
        return Err::crypto_failure;
    }
    std::memcpy(shared32.data(), shared, kX25519Len);
    secure_wipe(shared, sizeof shared);
    return {};
}

Status InsecureTestProvider::verify(SigAlg alg, ConstBytes pubkey, ConstBytes msg, ConstBytes sig) noexcept {
    if (!sig_alg_known(static_cast<std::uint8_t>(alg)) || pubkey.size() != pubkey_len(alg) ||
        sig.size() != sig_len(alg))
        return Err::invalid_argument;
    std::uint8_t expect[kMaxSignatureLen];
    LS_TRY(InsecureTestSigner::make_signature(alg, pubkey, msg, {expect, sig_len(alg)}));
    return ct_equal({expect, sig_len(alg)}, sig) ? Status{} : Status{Err::bad_signature};
}

// ---------------------------------------------------------------- signer
InsecureTestSigner::InsecureTestSigner(SigAlg alg, std::uint64_t key_seed) noexcept
    : alg_(sig_alg_known(static_cast<std::uint8_t>(alg)) ? alg : SigAlg::ed25519) {
    Mix m(kPub);
    m.byte(static_cast<std::uint8_t>(alg_));
    m.u64(key_seed);
    m.expand({pub_.data(), pubkey_len(alg_)});
    if (alg_ != SigAlg::ed25519) pub_[0] |= 0x80;  // an RSA modulus has its top bit set
}

Status InsecureTestSigner::make_signature(SigAlg alg, ConstBytes pubkey, ConstBytes msg, Bytes sig) noexcept {
    if (!sig_alg_known(static_cast<std::uint8_t>(alg)) || pubkey.size() != pubkey_len(alg)) return Err::invalid_argument;
    LS_TRY(check_out(sig.size(), sig_len(alg)));
    Mix m(kSig);
    m.byte(static_cast<std::uint8_t>(alg));
    m.field(pubkey);
    m.field(msg);
    m.expand(sig);
    return {};
}

Status InsecureTestSigner::sign(ConstBytes msg, Bytes sig) noexcept { return make_signature(alg_, public_key(), msg, sig); }

}  // namespace lockstep::crypto::insecure
