// SPDX-License-Identifier: Apache-2.0
// lockstep — the clear frames: HELLO, HELLO ACK (and its sealed part, the ACK
// body), clear CLOSE, COOKIE, the cookie-bearing HELLO, the connection-id head;
// the shared fields (fields.hpp). Records and their bodies: records.cpp;
// certificates: cert.cpp. spec: PROTOCOL.md §6.2, §6.3, §6.6, §6.8, §6.9
#include <algorithm>

#include "wire/fields.hpp"

namespace lockstep::wire {

// ---- shared fields
namespace fields {

IdList read_list(Reader& r, std::size_t max) noexcept {
    const ConstBytes raw = r.vec8(max);
    r.check(!raw.empty(), Err::bad_value);
    IdList l;
    for (auto id : raw) {
        r.check(!l.contains(id), Err::bad_value);
        l.push(id);
    }
    return l;
}

Kx read_kx(Reader& r) noexcept {
    const std::uint8_t v = r.u8();
    r.check(v <= static_cast<std::uint8_t>(Kx::x25519), Err::bad_value);
    return static_cast<Kx>(v);
}

ConstBytes read_share(Reader& r, Kx kx) noexcept {
    const ConstBytes share = r.vec16(kMaxShare);
    r.check(kx == Kx::x25519 ? share.size() == crypto::kX25519Len : share.empty(), Err::bad_value);
    return share;
}

void read_random(Reader& r, ConstBytes share, Random& out) noexcept {
    if (!share.empty()) return;
    const ConstBytes b = r.take(kRandomLen);
    if (b.size() == kRandomLen) std::memcpy(out.data(), b.data(), kRandomLen);
}

void write_random(Writer& w, ConstBytes share, const Random& random) noexcept {
    if (share.empty()) w.bytes(random);
}

AuthSlots layout_auth_tail(std::size_t sig_len, std::size_t fin_len, Writer& w) noexcept {
    Bytes field = w.reserve(2 + sig_len);
    Bytes fin = w.reserve(fin_len);
    if (!w.ok() || sig_len > 0xffff) return {};
    store_be16(field.data(), static_cast<std::uint16_t>(sig_len));
    return {field, fin};
}

void fill_auth_tail(const AuthSlots& s, ConstBytes sig, ConstBytes finished) noexcept {
    if (s.sig_field.size() != 2 + sig.size() || s.finished.size() != finished.size()) return;  // writer full
    std::copy(sig.begin(), sig.end(), s.sig_field.begin() + 2);
    std::copy(finished.begin(), finished.end(), s.finished.begin());
}

}  // namespace fields

using namespace fields;

bool IdList::contains(std::uint8_t x) const noexcept {
    for (std::uint8_t i = 0; i < n; ++i)
        if (v[i] == x) return true;
    return false;
}
bool IdList::push(std::uint8_t x) noexcept {
    if (n >= v.size()) return false;
    v[n++] = x;
    return true;
}
bool operator==(const IdList& a, const IdList& b) noexcept {
    if (a.n != b.n) return false;
    for (std::uint8_t i = 0; i < a.n; ++i)
        if (a.v[i] != b.v[i]) return false;
    return true;
}

// ---- HELLO
void encode_hello_body(const Hello& h, Writer& w) noexcept {
    w.u8(static_cast<std::uint8_t>(Frame::hello));
    w.vec8(h.versions.span());
    w.vec8(h.suites.span());
    w.vec8(h.modes.span());
    w.u8(h.flags);
    w.u8(static_cast<std::uint8_t>(h.kx));
    w.vec16(h.share);
    write_random(w, h.share, h.random);
    w.u32(h.seq);
    w.u32(h.ttl);
    w.vec8(h.psk_id);
}

Result<Hello> decode_hello(ConstBytes in) noexcept {
    Reader r(in);
    Hello h;
    expect_frame(r, Frame::hello);
    h.versions = read_list(r, kMaxListLen);
    h.suites = read_list(r, kMaxListLen);
    h.modes = read_list(r, kMaxModes);
    h.flags = r.u8();
    r.check((h.flags & ~kFlagRelativeTtl) == 0, Err::bad_value);
    h.kx = read_kx(r);
    h.share = read_share(r, h.kx);
    read_random(r, h.share, h.random);
    h.seq = r.u32();
    h.ttl = r.u32();
    h.psk_id = r.vec8(kMaxPskId);
    h.body = r.consumed();
    if (!h.psk_id.empty()) h.mac = r.take(kMacLen);
    LS_TRY(r.finish());
    return h;
}

// ---- HELLO ACK
void encode_hello_ack_clear(const HelloAck& h, Writer& w) noexcept {
    w.u8(static_cast<std::uint8_t>(Frame::hello_ack));
    w.u8(h.version);
    w.u8(static_cast<std::uint8_t>(h.suite));
    w.u8(static_cast<std::uint8_t>(h.mode));
    w.u8(h.flags);
    w.vec8(h.versions.span());
    w.vec8(h.suites.span());
    w.vec8(h.modes.span());
    w.u8(static_cast<std::uint8_t>(h.kx));
    w.vec16(h.share);
    write_random(w, h.share, h.random);
    w.u32(h.seq);
    w.u32(h.ack);
    w.u32(h.ttl);
}

Result<HelloAck> decode_hello_ack(ConstBytes in) noexcept {
    Reader r(in);
    HelloAck h;
    expect_frame(r, Frame::hello_ack);
    h.version = r.u8();
    const std::uint8_t suite = r.u8(), mode = r.u8();
    h.flags = r.u8();
    r.check(h.version != 0, Err::bad_value);
    r.check(suite >= 1 && suite <= 3 && mode >= 1 && mode <= 4, Err::bad_value);
    r.check((h.flags & ~kFlagRelativeTtl) == 0, Err::bad_value);
    h.suite = static_cast<Suite>(suite);
    h.mode = static_cast<Mode>(mode);
    h.versions = read_list(r, kMaxListLen);
    h.suites = read_list(r, kMaxListLen);
    h.modes = read_list(r, kMaxModes);
    h.kx = read_kx(r);
    h.share = read_share(r, h.kx);
    read_random(r, h.share, h.random);
    h.seq = r.u32();
    h.ack = r.u32();
    h.ttl = r.u32();
    h.clear = r.consumed();
    if (mode_uses_psk(h.mode)) h.mac = r.take(kMacLen);
    const std::size_t sealed_len = r.u16();
    r.check(sealed_len >= crypto::kAeadTagLen + 4 + kFinishedLen &&
                sealed_len <= kMaxInner + crypto::kAeadTagLen + kEtmTagLen,
            Err::too_long);
    h.aad = r.consumed();
    h.sealed = r.take(sealed_len);
    LS_TRY(r.finish());
    return h;
}

// ---- Auth parts
AuthSlots layout_hello_ack_auth(ConstBytes cert, std::size_t sig_len, Writer& w) noexcept {
    w.vec16(cert);
    return layout_auth_tail(sig_len, kFinishedLen, w);
}

AuthSlots layout_ack_body(std::uint32_t nonce, ConstBytes cert, std::size_t sig_len, Writer& w) noexcept {
    w.u32(nonce);
    return layout_hello_ack_auth(cert, sig_len, w);
}

void encode_hello_ack_auth(const Auth& a, Writer& w) noexcept {
    w.vec16(a.cert);
    fill_auth_tail(layout_auth_tail(a.sig.size(), a.finished.size(), w), a.sig, a.finished);
}

namespace {

// vec16 cert, vec16 sig, finished: the sealed part of HELLO ACK, the ACK body after its nonce.
Result<Auth> read_auth(Reader& r, Auth& a) noexcept {
    a.cert = r.vec16(kMaxCert);
    a.sig = r.vec16(crypto::kMaxSignatureLen);
    a.finished = r.take(kFinishedLen);
    LS_TRY(r.finish());
    return a;
}

}  // namespace

Result<Auth> decode_hello_ack_auth(ConstBytes in) noexcept {
    Reader r(in);
    Auth a;
    return read_auth(r, a);
}

void encode_ack_body(const Auth& a, Writer& w) noexcept {
    w.u32(a.nonce);
    encode_hello_ack_auth(a, w);
}

Result<Auth> decode_ack_body(ConstBytes in) noexcept {
    Reader r(in);
    Auth a;
    a.nonce = r.u32();
    return read_auth(r, a);
}

// ---- clear CLOSE
void encode_clear_close(const ClearClose& c, Writer& w) noexcept {
    w.u8(static_cast<std::uint8_t>(Frame::close));
    w.u8(static_cast<std::uint8_t>(c.reason));
    w.u32(c.seq);
    w.u32(c.ack);
    w.u32(c.ttl);
}

Result<ClearClose> decode_clear_close(ConstBytes in) noexcept {
    Reader r(in);
    ClearClose c;
    expect_frame(r, Frame::close);
    const std::uint8_t reason = r.u8();
    r.check(reason <= static_cast<std::uint8_t>(kLastReason), Err::bad_value);
    c.reason = static_cast<Reason>(reason);
    c.seq = r.u32();
    c.ack = r.u32();
    c.ttl = r.u32();
    LS_TRY(r.finish());
    return c;
}

// ---- COOKIE, cookie-bearing HELLO
void encode_cookie(const Cookie& c, Writer& w) noexcept {
    w.u8(static_cast<std::uint8_t>(Frame::cookie));
    w.u32(c.ack);
    w.vec8(c.cookie);
}

Result<Cookie> decode_cookie(ConstBytes in) noexcept {
    Reader r(in);
    Cookie c;
    expect_frame(r, Frame::cookie);
    c.ack = r.u32();
    c.cookie = r.vec8(kMaxCookie);
    LS_TRY(r.finish());
    if (c.cookie.empty()) return Err::bad_value;
    return c;
}

void encode_cid_head(const ConnectionId& cid, Writer& w) noexcept {
    w.u8(static_cast<std::uint8_t>(Frame::cid_record));
    w.bytes({cid.data(), cid.size()});
}

Result<CidRecord> decode_cid_record(ConstBytes in) noexcept {
    // Only the envelope: the record inside is checked where it is opened (§6.4).
    if (in.size() < kCidHeadLen + kRecordHeaderLen) return Err::truncated;
    if (in[0] != static_cast<std::uint8_t>(Frame::cid_record)) return Err::bad_value;
    if (in[kCidHeadLen] != static_cast<std::uint8_t>(Frame::record)) return Err::bad_value;
    if (in.size() - kCidHeadLen > kMaxRecord) return Err::too_long;
    CidRecord c;
    std::memcpy(c.cid.data(), in.data() + 1, kConnectionIdLen);
    c.record = in.subspan(kCidHeadLen);
    return c;
}

void encode_cookie_hello_head(ConstBytes cookie, std::size_t padding, Writer& w) noexcept {
    w.u8(static_cast<std::uint8_t>(Frame::cookie_hello));
    w.vec8(cookie);
    w.u16(static_cast<std::uint16_t>(padding));
    w.zeros(padding);
}

Result<CookieHello> decode_cookie_hello(ConstBytes in) noexcept {
    Reader r(in);
    CookieHello h;
    expect_frame(r, Frame::cookie_hello);
    h.cookie = r.vec8(kMaxCookie);
    h.padding = r.u16();
    r.check(h.padding <= kMaxHelloPadding, Err::too_long);
    std::uint8_t nz = 0;
    for (std::uint8_t b : r.take(h.padding)) nz |= b;
    r.check(nz == 0, Err::bad_value);
    h.hello = r.rest();
    r.check(!h.hello.empty() && h.hello[0] == static_cast<std::uint8_t>(Frame::hello), Err::bad_value);
    if (!r.ok()) return r.error();
    return h;
}

}  // namespace lockstep::wire
