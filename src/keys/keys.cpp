// SPDX-License-Identifier: Apache-2.0
#include "keys/keys.hpp"

#include <cstring>

namespace lockstep::keys {
namespace {
constexpr char kLabelPrefix[] = "lockstep1 ";
constexpr std::size_t kMaxLabel = 64;
const std::uint8_t kZeros[kHashLen] = {};
}  // namespace

Status expand_label(crypto::Provider& p, ConstBytes secret, const char* label, ConstBytes context,
                    Bytes out) noexcept {
    const std::size_t prefix_len = sizeof(kLabelPrefix) - 1;
    const std::size_t label_len = std::strlen(label);
    // Every context of the key schedule is empty or a transcript hash, so the
    // info buffer (on the stack of the deepest handshake calls) holds no more.
    if (prefix_len + label_len > kMaxLabel || context.size() > kHashLen || out.size() > 0xffff)
        return Err::invalid_argument;
    std::uint8_t info[2 + 1 + kMaxLabel + 1 + kHashLen];
    Writer w(info);
    w.u16(static_cast<std::uint16_t>(out.size()));
    w.u8(static_cast<std::uint8_t>(prefix_len + label_len));
    w.bytes(as_bytes(kLabelPrefix, prefix_len));
    w.bytes(as_bytes(label, label_len));
    w.vec8(context);
    LS_TRY(w.status());
    return p.hkdf_expand(crypto::Hash::sha256, secret, w.written(), out);
}

Status derive_secret(crypto::Provider& p, ConstBytes secret, const char* label, ConstBytes th,
                     Secret32& out) noexcept {
    return expand_label(p, secret, label, th, out.span());
}

Transcript::Transcript() noexcept : th_{} {
    // SHA-256("lockstep v1 transcript"), fixed so construction needs no provider.
    static constexpr Digest kTh0 = {0x00, 0x88, 0x41, 0xf8, 0xf2, 0x22, 0xe0, 0xb2, 0x07, 0x7d, 0x03, 0xb5, 0xa8, 0x27, 0xd8, 0x62, 0xe8, 0xda, 0x36, 0x44, 0x55, 0x0a, 0x8c, 0x71, 0x00, 0xcc, 0xd3, 0xd4, 0xa8, 0x43, 0x32, 0x23};
    th_ = kTh0;
}

Status Transcript::append(crypto::Provider& p, ConstBytes item) noexcept {
    Digest next{};
    LS_TRY(p.hash(crypto::Hash::sha256, span(), item, next));
    th_ = next;
    return {};
}

Result<EarlySecret> early_secret(crypto::Provider& p, ConstBytes psk) noexcept {
    EarlySecret e;
    ConstBytes ikm = psk.empty() ? ConstBytes{kZeros, kHashLen} : psk;
    LS_TRY(p.hkdf_extract(crypto::Hash::sha256, {}, ikm, e.s.span()));
    return e;
}

Status hello_mac_key(crypto::Provider& p, const EarlySecret& e, Role sender, Secret32& out) noexcept {
    return expand_label(p, e.s.span(), sender == Role::client ? "c hello mac" : "s hello mac", {},
                        out.span());
}

Result<HandshakeSecret> handshake_secret(crypto::Provider& p, EarlySecret&& e, ConstBytes ecdhe) noexcept {
    Secret32 salt;
    LS_TRY(derive_secret(p, e.s.span(), "derived", {}, salt));
    e.s.wipe();
    HandshakeSecret hs;
    ConstBytes ikm = ecdhe.empty() ? ConstBytes{kZeros, kHashLen} : ecdhe;
    LS_TRY(p.hkdf_extract(crypto::Hash::sha256, salt.span(), ikm, hs.s.span()));
    return hs;
}

Result<MasterSecret> master_secret(crypto::Provider& p, HandshakeSecret&& hs) noexcept {
    Secret32 salt;
    LS_TRY(derive_secret(p, hs.s.span(), "derived", {}, salt));
    hs.s.wipe();
    MasterSecret m;
    LS_TRY(p.hkdf_extract(crypto::Hash::sha256, salt.span(), ConstBytes{kZeros, kHashLen}, m.s.span()));
    return m;
}

Result<MasterSecret> next_epoch(crypto::Provider& p, MasterSecret&& m, ConstBytes ecdhe) noexcept {
    Secret32 salt;
    LS_TRY(derive_secret(p, m.s.span(), "rekey", {}, salt));
    m.s.wipe();
    MasterSecret next;
    ConstBytes ikm = ecdhe.empty() ? ConstBytes{kZeros, kHashLen} : ecdhe;
    LS_TRY(p.hkdf_extract(crypto::Hash::sha256, salt.span(), ikm, next.s.span()));
    return next;
}

Status mac(crypto::Provider& p, ConstBytes key, ConstBytes th, Bytes out) noexcept {
    if (out.size() != kMacLen) return Err::invalid_argument;
    Secret32 full;
    LS_TRY(p.hmac(crypto::Hash::sha256, key, th, {}, full.span()));
    std::memcpy(out.data(), full.data(), kMacLen);
    return {};
}

Status finished_mac(crypto::Provider& p, ConstBytes traffic_secret, ConstBytes th, Bytes out) noexcept {
    Secret32 fk;
    LS_TRY(expand_label(p, traffic_secret, "finished", {}, fk.span()));
    return mac(p, fk.span(), th, out);
}

Status connection_id(crypto::Provider& p, ConstBytes traffic_secret, ConnectionId& out) noexcept {
    return expand_label(p, traffic_secret, "cid", {}, {out.data(), out.size()});
}

ConstBytes signed_content(const char* context, ConstBytes th, Bytes out) noexcept {
    Writer w(out);
    w.bytes(as_bytes(context, std::strlen(context)));
    w.u8(0);
    w.bytes(th);
    return w.ok() ? w.written() : ConstBytes{};
}

}  // namespace lockstep::keys
