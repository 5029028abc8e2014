// SPDX-License-Identifier: Apache-2.0
#include "handshake/certs.hpp"

#include <cstring>

namespace lockstep::certs {
namespace {

// context || 0x00 || tbs, into `buf`.
Result<ConstBytes> signing_input(ConstBytes tbs, Bytes buf) noexcept {
    Writer w(buf);
    w.bytes(as_bytes(wire::kCertSigContext, sizeof(wire::kCertSigContext) - 1));
    w.u8(0);
    w.bytes(tbs);
    if (!w.ok()) return Err::too_long;
    return w.written();
}

Status check_signature(crypto::Provider& p, const wire::Cert& c, const wire::Cert& issuer) noexcept {
    if (c.sig_alg != issuer.key_alg) return Err::bad_certificate;
    std::uint8_t buf[wire::kMaxCert + 32];
    auto in = signing_input(c.tbs, buf);
    if (!in) return in.error();
    auto st = p.verify(c.sig_alg, issuer.pubkey, *in, c.signature);
    return st ? Status{} : Status{Err::bad_certificate};
}

}  // namespace

Result<wire::KeyId> key_id(crypto::Provider& p, crypto::SigAlg alg, ConstBytes pubkey) noexcept {
    std::uint8_t a = static_cast<std::uint8_t>(alg);
    std::uint8_t h[32];
    LS_TRY(p.hash(crypto::Hash::sha256, {&a, 1}, pubkey, h));
    wire::KeyId id{};
    std::memcpy(id.data(), h, id.size());
    return id;
}

Result<std::size_t> issue(crypto::Provider& p, crypto::Signer& issuer, wire::Cert c, Bytes out) noexcept {
    auto id = key_id(p, issuer.alg(), issuer.public_key());
    if (!id) return id.error();
    c.issuer = *id;
    c.sig_alg = issuer.alg();
    if (c.pubkey.size() != crypto::pubkey_len(c.key_alg)) return Err::invalid_argument;
    if (c.subject.empty() || c.subject.size() > wire::kMaxSubject) return Err::invalid_argument;
    std::uint8_t tbs_buf[wire::kMaxCert];
    Writer tw(tbs_buf);
    wire::encode_cert_tbs(c, tw);
    LS_TRY(tw.status());
    std::uint8_t in_buf[wire::kMaxCert + 32];
    auto in = signing_input(tw.written(), in_buf);
    if (!in) return in.error();
    std::uint8_t sig[crypto::kMaxSignatureLen];
    const std::size_t slen = crypto::sig_len(issuer.alg());
    LS_TRY(issuer.sign(*in, {sig, slen}));
    c.signature = {sig, slen};
    Writer w(out);
    wire::encode_cert(c, w);
    LS_TRY(w.status());
    return w.size();
}

Result<wire::Cert> verify_ca(crypto::Provider& p, ConstBytes ca_cert) noexcept {
    auto ca = wire::decode_cert(ca_cert);
    if (!ca) return Err::bad_certificate;
    if (ca->role != CertRole::ca) return Err::cert_wrong_role;
    auto id = key_id(p, ca->key_alg, ca->pubkey);
    if (!id) return id.error();
    if (*id != ca->issuer) return Err::cert_wrong_issuer;
    LS_TRY(check_signature(p, *ca, *ca));
    return ca;
}

Result<wire::Cert> check_fields(crypto::Provider& p, ConstBytes cert, ConstBytes ca_cert, CertRole expected_role,
                                std::int64_t now_unix_seconds, bool skip_validity) noexcept {
    // The CA certificate is the configured trust anchor: its role is checked
    // here, its self-signature once when it is loaded (verify_ca), not on every
    // handshake — a self-signature adds no trust to an anchor.
    auto ca = wire::decode_cert(ca_cert);
    if (!ca) return Err::bad_certificate;
    if (ca->role != CertRole::ca) return Err::cert_wrong_role;
    auto c = wire::decode_cert(cert);
    if (!c) return Err::bad_certificate;
    auto id = key_id(p, ca->key_alg, ca->pubkey);
    if (!id) return id.error();
    if (*id != c->issuer) return Err::cert_wrong_issuer;
    if (c->role != expected_role) return Err::cert_wrong_role;
    if (!skip_validity) {
        for (const wire::Cert* x : {&*ca, &*c})
            if (now_unix_seconds < static_cast<std::int64_t>(x->not_before) ||
                now_unix_seconds > static_cast<std::int64_t>(x->not_after))
                return Err::cert_expired;
    }
    return c;
}

Status check_ca_signature(crypto::Provider& p, ConstBytes cert, ConstBytes ca_cert, CertCache* cache) noexcept {
    auto ca = wire::decode_cert(ca_cert);
    auto c = wire::decode_cert(cert);
    if (!ca || !c) return Err::bad_certificate;
    CertCache::Digest digest{};
    if (cache != nullptr) LS_TRY(p.hash(crypto::Hash::sha256, ca_cert, cert, digest));
    if (cache == nullptr || !cache->contains(digest)) {
        LS_TRY(check_signature(p, *c, *ca));
        if (cache != nullptr) cache->insert(digest);
    }
    return {};
}

Result<wire::Cert> verify(crypto::Provider& p, ConstBytes cert, ConstBytes ca_cert, CertRole expected_role,
                          std::int64_t now_unix_seconds, bool skip_validity, CertCache* cache) noexcept {
    auto c = check_fields(p, cert, ca_cert, expected_role, now_unix_seconds, skip_validity);
    if (!c) return c.error();
    LS_TRY(check_ca_signature(p, cert, ca_cert, cache));
    return c;
}

}  // namespace lockstep::certs
