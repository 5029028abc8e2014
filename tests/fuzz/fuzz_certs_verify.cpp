// SPDX-License-Identifier: Apache-2.0
// Fuzz target: certs::verify (CA certificate + peer certificate, arbitrary bytes)
// with the insecure provider.
//
// Input: flags (bit 0: accept any signature, to get past the CA signature into
// the role and validity checks; bit 1: skip validity; bits 2-3: expected role),
// u32 now (Unix seconds), u16 CA length, CA bytes, certificate bytes.
#include "fuzz_check.hpp"
#include "handshake/certs.hpp"

using namespace lockstep;
using namespace lockstep::fuzz;

namespace {
// Sizes checked as by the real provider, then every signature accepted.
class AnySignature final : public crypto::Provider {
public:
    Status random(crypto::Bytes o) noexcept override { return p_.random(o); }
    Status hash(crypto::Hash h, crypto::ConstBytes a, crypto::ConstBytes b, crypto::Bytes o) noexcept override {
        return p_.hash(h, a, b, o);
    }
    Status hmac(crypto::Hash h, crypto::ConstBytes k, crypto::ConstBytes a, crypto::ConstBytes b,
                crypto::Bytes o) noexcept override {
        return p_.hmac(h, k, a, b, o);
    }
    Status hkdf_extract(crypto::Hash h, crypto::ConstBytes s, crypto::ConstBytes i, crypto::Bytes o) noexcept override {
        return p_.hkdf_extract(h, s, i, o);
    }
    Status hkdf_expand(crypto::Hash h, crypto::ConstBytes k, crypto::ConstBytes i, crypto::Bytes o) noexcept override {
        return p_.hkdf_expand(h, k, i, o);
    }
    Status aead_seal(crypto::Aead a, crypto::ConstBytes k, crypto::ConstBytes n, crypto::ConstBytes ad,
                     crypto::ConstBytes pt, crypto::Bytes o) noexcept override {
        return p_.aead_seal(a, k, n, ad, pt, o);
    }
    Status aead_open(crypto::Aead a, crypto::ConstBytes k, crypto::ConstBytes n, crypto::ConstBytes ad,
                     crypto::ConstBytes ct, crypto::Bytes o) noexcept override {
        return p_.aead_open(a, k, n, ad, ct, o);
    }
    Status x25519_keygen(crypto::Bytes a, crypto::Bytes b) noexcept override { return p_.x25519_keygen(a, b); }
    Status x25519(crypto::ConstBytes a, crypto::ConstBytes pub, crypto::ConstBytes b, crypto::Bytes o) noexcept override {
        return p_.x25519(a, pub, b, o);
    }
    Status verify(crypto::SigAlg alg, crypto::ConstBytes pk, crypto::ConstBytes, crypto::ConstBytes sig) noexcept override {
        if (pk.size() != crypto::pubkey_len(alg) || sig.size() != crypto::sig_len(alg)) return Err::invalid_argument;
        return {};
    }

private:
    InsecureTestProvider p_{0};
};
}  // namespace

LOCKSTEP_FUZZ_ENTRY(certs_verify) {
    if (size < 7) return 0;
    const std::uint8_t flags = data[0];
    const std::int64_t now = load_be32(data + 1);
    const std::size_t ca_len = std::min<std::size_t>(load_be16(data + 5), size - 7);
    const ConstBytes ca{data + 7, ca_len};
    const ConstBytes cert{data + 7 + ca_len, size - 7 - ca_len};
    const bool skip_validity = (flags & 2) != 0;
    const auto role = static_cast<CertRole>((flags >> 2) % 3 + 1);

    InsecureTestProvider strict(0);
    AnySignature any;
    crypto::Provider& p = (flags & 1) ? static_cast<crypto::Provider&>(any) : strict;

    (void)certs::verify_ca(p, ca);
    auto c = certs::verify(p, cert, ca, role, now, skip_validity);
    // A certificate cache never changes a verdict: not when it is filled, not on a hit.
    FixedCertCache<1> cache;
    for (int i = 0; i < 2; ++i) {
        auto cached = certs::verify(p, cert, ca, role, now, skip_validity, &cache);
        require(cached.has_value() == c.has_value(), "certificate cache changed the verdict");
    }
    if (!c) return 0;
    // verify() treats the CA certificate as the configured trust anchor: it does
    // not re-check its self-signature (verify_ca does, at load time), but the
    // anchor must be a CA, have issued the certificate and be valid now.
    auto v = wire::decode_cert(ca);
    require(v.has_value() && v->role == CertRole::ca, "certificate accepted under a non-CA anchor");
    require(c->role == role, "certificate of the wrong role accepted");
    require(skip_validity || (now >= c->not_before && now <= c->not_after), "certificate outside validity accepted");
    require(skip_validity || (now >= v->not_before && now <= v->not_after), "certificate under an expired CA accepted");
    auto id = certs::key_id(p, v->key_alg, v->pubkey);
    require(id && *id == c->issuer, "certificate of another issuer accepted");
    require(c->sig_alg == v->key_alg, "certificate signed with another algorithm accepted");
    return 0;
}
