// SPDX-License-Identifier: Apache-2.0
#include "wire/wire.hpp"

#include <algorithm>

namespace lockstep::wire {
namespace {

// Decode a one-byte-count list of one-byte ids (1..max entries, no duplicates).
Result<IdList> read_list(Reader& r, std::size_t max) noexcept {
    auto raw = r.vec8(max);
    if (!raw) return raw.error();
    if (raw->empty()) return Err::bad_value;
    IdList l;
    for (auto id : *raw) {
        if (l.contains(id)) return Err::bad_value;
        l.push(id);
    }
    return l;
}

bool kx_known(std::uint8_t v) noexcept { return v <= static_cast<std::uint8_t>(Kx::x25519); }

// The share must match its group: 32 bytes for X25519, none for `none`.
Status check_share(Kx kx, ConstBytes share) noexcept {
    if (kx == Kx::none && !share.empty()) return Err::bad_value;
    if (kx == Kx::x25519 && share.size() != crypto::kX25519Len) return Err::bad_value;
    return {};
}

// A random follows the share only when there is no share (random_len).
void write_random(Writer& w, ConstBytes share, const Random& random) noexcept {
    if (share.empty()) w.bytes(random);
}
Status read_random(Reader& r, ConstBytes share, Random& out) noexcept {
    if (!share.empty()) return {};
    auto b = r.take(kRandomLen);
    if (!b) return b.error();
    std::memcpy(out.data(), b->data(), kRandomLen);
    return {};
}

#define LS_READ(var, expr)                   \
    auto var##_r_ = (expr);                  \
    if (!var##_r_) return var##_r_.error();  \
    auto var = *var##_r_

}  // namespace

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
    LS_READ(frame, r.u8());
    if (frame != static_cast<std::uint8_t>(Frame::hello)) return Err::bad_value;
    Hello h;
    LS_READ(versions, read_list(r, kMaxListLen));
    LS_READ(suites, read_list(r, kMaxListLen));
    LS_READ(modes, read_list(r, kMaxModes));
    h.versions = versions;
    h.suites = suites;
    h.modes = modes;
    LS_READ(flags, r.u8());
    if (flags & ~kFlagRelativeTtl) return Err::bad_value;
    h.flags = flags;
    LS_READ(kx, r.u8());
    if (!kx_known(kx)) return Err::bad_value;
    h.kx = static_cast<Kx>(kx);
    LS_READ(share, r.vec16(kMaxShare));
    LS_TRY(check_share(h.kx, share));
    h.share = share;
    LS_TRY(read_random(r, share, h.random));
    LS_READ(seq, r.u32());
    LS_READ(ttl, r.u32());
    h.seq = seq;
    h.ttl = ttl;
    LS_READ(psk_id, r.vec8(kMaxPskId));
    h.psk_id = psk_id;
    h.body = r.consumed();
    if (!psk_id.empty()) {
        LS_READ(mac, r.take(kMacLen));
        h.mac = mac;
    }
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
    LS_READ(frame, r.u8());
    if (frame != static_cast<std::uint8_t>(Frame::hello_ack)) return Err::bad_value;
    HelloAck h;
    LS_READ(version, r.u8());
    LS_READ(suite, r.u8());
    LS_READ(mode, r.u8());
    LS_READ(flags, r.u8());
    if (version == 0) return Err::bad_value;
    if (suite < 1 || suite > 3 || mode < 1 || mode > 4) return Err::bad_value;
    if (flags & ~kFlagRelativeTtl) return Err::bad_value;
    h.version = version;
    h.suite = static_cast<Suite>(suite);
    h.mode = static_cast<Mode>(mode);
    h.flags = flags;
    LS_READ(versions, read_list(r, kMaxListLen));
    LS_READ(suites, read_list(r, kMaxListLen));
    LS_READ(modes, read_list(r, kMaxModes));
    h.versions = versions;
    h.suites = suites;
    h.modes = modes;
    LS_READ(kx, r.u8());
    if (!kx_known(kx)) return Err::bad_value;
    h.kx = static_cast<Kx>(kx);
    LS_READ(share, r.vec16(kMaxShare));
    LS_TRY(check_share(h.kx, share));
    h.share = share;
    LS_TRY(read_random(r, share, h.random));
    LS_READ(seq, r.u32());
    LS_READ(ack, r.u32());
    LS_READ(ttl, r.u32());
    h.seq = seq;
    h.ack = ack;
    h.ttl = ttl;
    h.clear = r.consumed();
    if (mode_uses_psk(h.mode)) {
        LS_READ(mac, r.take(kMacLen));
        h.mac = mac;
    }
    LS_READ(sealed_len, r.u16());
    if (sealed_len < crypto::kAeadTagLen + 4 + kFinishedLen ||
        sealed_len > kMaxInner + crypto::kAeadTagLen + kEtmTagLen)
        return Err::too_long;
    h.aad = r.consumed();
    LS_READ(sealed, r.take(sealed_len));
    h.sealed = sealed;
    LS_TRY(r.finish());
    return h;
}

// ---- Auth parts
namespace {

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

AuthSlots layout_hello_ack_auth(ConstBytes cert, std::size_t sig_len, std::size_t fin_len, Writer& w) noexcept {
    w.vec16(cert);
    return layout_auth_tail(sig_len, fin_len, w);
}

}  // namespace

AuthSlots layout_hello_ack_auth(ConstBytes cert, std::size_t sig_len, Writer& w) noexcept {
    return layout_hello_ack_auth(cert, sig_len, kFinishedLen, w);
}

AuthSlots layout_ack_body(std::uint32_t nonce, ConstBytes cert, std::size_t sig_len, Writer& w) noexcept {
    w.u32(nonce);
    return layout_hello_ack_auth(cert, sig_len, kFinishedLen, w);
}

void encode_hello_ack_auth(const Auth& a, Writer& w) noexcept {
    fill_auth_tail(layout_hello_ack_auth(a.cert, a.sig.size(), a.finished.size(), w), a.sig, a.finished);
}

Result<Auth> decode_hello_ack_auth(ConstBytes in) noexcept {
    Reader r(in);
    Auth a;
    LS_READ(cert, r.vec16(kMaxCert));
    LS_READ(sig, r.vec16(crypto::kMaxSignatureLen));
    LS_READ(finished, r.take(kFinishedLen));
    LS_TRY(r.finish());
    a.cert = cert;
    a.sig = sig;
    a.finished = finished;
    return a;
}

void encode_ack_body(const Auth& a, Writer& w) noexcept {
    w.u32(a.nonce);
    encode_hello_ack_auth(a, w);
}

Result<Auth> decode_ack_body(ConstBytes in) noexcept {
    Reader r(in);
    LS_READ(nonce, r.u32());
    auto a = decode_hello_ack_auth(r.rest());
    if (!a) return a.error();
    a->nonce = nonce;
    return a;
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
    LS_READ(frame, r.u8());
    if (frame != static_cast<std::uint8_t>(Frame::close)) return Err::bad_value;
    LS_READ(reason, r.u8());
    if (reason > static_cast<std::uint8_t>(kLastReason)) return Err::bad_value;
    ClearClose c;
    c.reason = static_cast<Reason>(reason);
    LS_READ(seq, r.u32());
    LS_READ(ack, r.u32());
    LS_READ(ttl, r.u32());
    LS_TRY(r.finish());
    c.seq = seq;
    c.ack = ack;
    c.ttl = ttl;
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
    LS_READ(frame, r.u8());
    if (frame != static_cast<std::uint8_t>(Frame::cookie)) return Err::bad_value;
    Cookie c;
    LS_READ(ack, r.u32());
    LS_READ(cookie, r.vec8(kMaxCookie));
    LS_TRY(r.finish());
    if (cookie.empty()) return Err::bad_value;
    c.ack = ack;
    c.cookie = cookie;
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
    LS_READ(frame, r.u8());
    if (frame != static_cast<std::uint8_t>(Frame::cookie_hello)) return Err::bad_value;
    CookieHello h;
    LS_READ(cookie, r.vec8(kMaxCookie));
    LS_READ(plen, r.u16());
    if (plen > kMaxHelloPadding) return Err::too_long;
    LS_READ(pad, r.take(plen));
    for (std::uint8_t b : pad)
        if (b != 0) return Err::bad_value;
    h.cookie = cookie;
    h.padding = plen;
    h.hello = r.rest();
    if (h.hello.empty() || h.hello[0] != static_cast<std::uint8_t>(Frame::hello)) return Err::bad_value;
    return h;
}

// ---- records
void encode_record_header(const RecordHeader& h, Writer& w) noexcept {
    w.u8(static_cast<std::uint8_t>(Frame::record));
    w.u8(h.epoch);
    w.u32(h.rn);
}

Result<RecordView> decode_record(ConstBytes in, std::size_t min_payload) noexcept {
    if (in.size() > kMaxRecord) return Err::too_long;
    Reader r(in);
    LS_READ(frame, r.u8());
    if (frame != static_cast<std::uint8_t>(Frame::record)) return Err::bad_value;
    RecordView v;
    LS_READ(epoch, r.u8());
    LS_READ(rn, r.u32());
    v.header.epoch = epoch;
    v.header.rn = rn;
    v.aad = r.consumed();
    if (r.remaining() < min_payload) return Err::truncated;
    v.payload = r.rest();
    return v;
}

void encode_inner_prefix(const Inner& m, Writer& w) noexcept {
    w.u8(static_cast<std::uint8_t>(m.type));
    w.u32(m.seq);
    w.u32(m.ack);
    w.u32(m.ttl);
}

void encode_inner(const Inner& m, std::size_t padding, Writer& w) noexcept {
    encode_inner_prefix(m, w);
    w.vec16(m.body);
    w.zeros(padding);
}

Result<Inner> decode_inner(ConstBytes in) noexcept {
    Reader r(in);
    LS_READ(type, r.u8());
    if (type < 1 || type >= kMsgTypeCount) return Err::bad_value;
    Inner m;
    m.type = static_cast<MsgType>(type);
    LS_READ(seq, r.u32());
    LS_READ(ack, r.u32());
    LS_READ(ttl, r.u32());
    m.seq = seq;
    m.ack = ack;
    m.ttl = ttl;
    LS_READ(body, r.vec16(kMaxData));
    m.body = body;
    m.raw = r.consumed();
    // Padding: at most kMaxPadding bytes, all zero.
    if (r.remaining() > kMaxPadding) return Err::trailing_bytes;
    std::uint8_t nz = 0;
    for (auto b : r.rest()) nz |= b;
    if (nz != 0) return Err::trailing_bytes;
    return m;
}

// ---- record bodies
void encode_rekey_hello(const RekeyHello& h, Writer& w) noexcept {
    w.u8(static_cast<std::uint8_t>(h.kx));
    w.vec16(h.share);
    write_random(w, h.share, h.random);
}

Result<RekeyHello> decode_rekey_hello(ConstBytes body) noexcept {
    Reader r(body);
    RekeyHello h;
    LS_READ(kx, r.u8());
    if (!kx_known(kx)) return Err::bad_value;
    h.kx = static_cast<Kx>(kx);
    LS_READ(share, r.vec16(kMaxShare));
    LS_TRY(check_share(h.kx, share));
    h.share = share;
    LS_TRY(read_random(r, share, h.random));
    LS_TRY(r.finish());
    return h;
}

namespace {

AuthSlots layout_rekey_hello_ack(const RekeyHelloAck& h, std::size_t sig_len, std::size_t fin_len,
                                 Writer& w) noexcept {
    w.vec16(h.share);
    write_random(w, h.share, h.random);
    return layout_auth_tail(sig_len, fin_len, w);
}

}  // namespace

AuthSlots layout_rekey_hello_ack(const RekeyHelloAck& h, std::size_t sig_len, Writer& w) noexcept {
    return layout_rekey_hello_ack(h, sig_len, kFinishedLen, w);
}

void encode_rekey_hello_ack(const RekeyHelloAck& h, Writer& w) noexcept {
    fill_auth_tail(layout_rekey_hello_ack(h, h.sig.size(), h.finished.size(), w), h.sig, h.finished);
}

Result<RekeyHelloAck> decode_rekey_hello_ack(ConstBytes body) noexcept {
    Reader r(body);
    RekeyHelloAck h;
    LS_READ(share, r.vec16(kMaxShare));
    if (!share.empty() && share.size() != crypto::kX25519Len) return Err::bad_value;
    h.share = share;
    LS_TRY(read_random(r, share, h.random));
    LS_READ(sig, r.vec16(crypto::kMaxSignatureLen));
    h.sig = sig;
    LS_READ(finished, r.take(kFinishedLen));
    h.finished = finished;
    LS_TRY(r.finish());
    return h;
}

Result<std::uint32_t> decode_nonce_body(ConstBytes body) noexcept {
    Reader r(body);
    LS_READ(nonce, r.u32());
    LS_TRY(r.finish());
    return nonce;
}

Result<Reason> decode_close_body(ConstBytes body) noexcept {
    Reader r(body);
    LS_READ(reason, r.u8());
    LS_TRY(r.finish());
    if (reason > static_cast<std::uint8_t>(kLastReason)) return Err::bad_value;
    return static_cast<Reason>(reason);
}

Status decode_empty_body(ConstBytes body) noexcept {
    return body.empty() ? Status{} : Status{Err::trailing_bytes};
}

// ---- certificates
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
    LS_READ(version, r.u8());
    if (version != kCertVersion) return Err::bad_value;
    LS_READ(role, r.u8());
    if (role < 1 || role > 3) return Err::bad_value;
    c.role = static_cast<CertRole>(role);
    LS_READ(key_alg, r.u8());
    if (!crypto::sig_alg_known(key_alg)) return Err::bad_value;
    c.key_alg = static_cast<crypto::SigAlg>(key_alg);
    LS_READ(subject, r.vec8(kMaxSubject));
    if (subject.empty()) return Err::bad_value;
    c.subject = subject;
    LS_READ(serial, r.u64());
    LS_READ(not_before, r.u32());
    LS_READ(not_after, r.u32());
    if (not_after < not_before) return Err::bad_value;
    c.serial = serial;
    c.not_before = not_before;
    c.not_after = not_after;
    LS_READ(issuer, r.take(kKeyIdLen));
    std::memcpy(c.issuer.data(), issuer.data(), kKeyIdLen);
    LS_READ(pubkey, r.vec16(crypto::kMaxPublicKeyLen));
    if (pubkey.size() != crypto::pubkey_len(c.key_alg)) return Err::bad_value;
    c.pubkey = pubkey;
    LS_READ(sig_alg, r.u8());
    if (!crypto::sig_alg_known(sig_alg)) return Err::bad_value;
    c.sig_alg = static_cast<crypto::SigAlg>(sig_alg);
    c.tbs = r.consumed();
    LS_READ(signature, r.vec16(crypto::kMaxSignatureLen));
    if (signature.size() != crypto::sig_len(c.sig_alg)) return Err::bad_value;
    c.signature = signature;
    LS_TRY(r.finish());
    return c;
}

}  // namespace lockstep::wire
