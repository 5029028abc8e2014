// SPDX-License-Identifier: Apache-2.0
// lockstep — the compact certificate's encoding. spec: PROTOCOL.md §7
// (the rules a certificate must meet: src/handshake/certs.cpp)
#include "wire/wire.hpp"

namespace lockstep::wire {

void encode_cert_tbs(const Cert& c, Writer& w) noexcept {
    w.u8(kCertVersion);
    w.u8(static_cast<std::uint8_t>(c.role));
    w.u8(static_cast<std::uint8_t>(c.key_alg));
    w.vec8(c.subject);
    w.u64(c.serial);
    w.u32(c.not_before);
    w.u32(c.not_after);
    w.bytes(c.issuer);
    w.vec16(c.pubkey);
    w.u8(static_cast<std::uint8_t>(c.sig_alg));
}

void encode_cert(const Cert& c, Writer& w) noexcept {
    encode_cert_tbs(c, w);
    w.vec16(c.signature);
}

Result<Cert> decode_cert(ConstBytes in) noexcept {
    if (in.size() > kMaxCert) return Err::too_long;
    Reader r(in);
    Cert c;
    r.check(r.u8() == kCertVersion, Err::bad_value);
    const std::uint8_t role = r.u8();
    r.check(role >= 1 && role <= 3, Err::bad_value);
    c.role = static_cast<CertRole>(role);
    const std::uint8_t key_alg = r.u8();
    r.check(crypto::sig_alg_known(key_alg), Err::bad_value);
    c.key_alg = static_cast<crypto::SigAlg>(key_alg);
    c.subject = r.vec8(kMaxSubject);
    r.check(!c.subject.empty(), Err::bad_value);
    c.serial = r.u64();
    c.not_before = r.u32();
    c.not_after = r.u32();
    r.check(c.not_after >= c.not_before, Err::bad_value);
    const ConstBytes issuer = r.take(kKeyIdLen);
    if (issuer.size() == kKeyIdLen) std::memcpy(c.issuer.data(), issuer.data(), kKeyIdLen);
    c.pubkey = r.vec16(crypto::kMaxPublicKeyLen);
    r.check(c.pubkey.size() == crypto::pubkey_len(c.key_alg), Err::bad_value);
    const std::uint8_t sig_alg = r.u8();
    r.check(crypto::sig_alg_known(sig_alg), Err::bad_value);
    c.sig_alg = static_cast<crypto::SigAlg>(sig_alg);
    c.tbs = r.consumed();
    c.signature = r.vec16(crypto::kMaxSignatureLen);
    r.check(c.signature.size() == crypto::sig_len(c.sig_alg), Err::bad_value);
    LS_TRY(r.finish());
    return c;
}

}  // namespace lockstep::wire
