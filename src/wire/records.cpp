// SPDX-License-Identifier: Apache-2.0
// lockstep — the protected record: its header, the plaintext inside (type,
// seq, ack, ttl, body, padding) and the record messages' bodies.
// spec: PROTOCOL.md §6.4, §6.5, §5.6 (re-key bodies)
#include "wire/fields.hpp"

namespace lockstep::wire {

using namespace fields;

// ---- records
void encode_record_header(const RecordHeader& h, Writer& w) noexcept {
    w.u8(static_cast<std::uint8_t>(Frame::record));
    w.u8(h.epoch);
    w.u32(h.rn);
}

Result<RecordView> decode_record(ConstBytes in, std::size_t min_payload) noexcept {
    if (in.size() > kMaxRecord) return Err::too_long;
    Reader r(in);
    RecordView v;
    expect_frame(r, Frame::record);
    v.header.epoch = r.u8();
    v.header.rn = r.u32();
    v.aad = r.consumed();
    r.check(r.remaining() >= min_payload, Err::truncated);
    v.payload = r.rest();
    if (!r.ok()) return r.error();
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
    Inner m;
    const std::uint8_t type = r.u8();
    r.check(type >= 1 && type < kMsgTypeCount, Err::bad_value);
    m.type = static_cast<MsgType>(type);
    m.seq = r.u32();
    m.ack = r.u32();
    m.ttl = r.u32();
    m.body = r.vec16(kMaxData);
    m.raw = r.consumed();
    // Padding: at most kMaxPadding bytes, all zero.
    r.check(r.remaining() <= kMaxPadding, Err::trailing_bytes);
    std::uint8_t nz = 0;
    for (auto b : r.take(r.remaining())) nz |= b;
    r.check(nz == 0, Err::trailing_bytes);
    if (!r.ok()) return r.error();
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
    h.kx = read_kx(r);
    h.share = read_share(r, h.kx);
    read_random(r, h.share, h.random);
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
    h.share = r.vec16(kMaxShare);
    r.check(h.share.empty() || h.share.size() == crypto::kX25519Len, Err::bad_value);
    read_random(r, h.share, h.random);
    h.sig = r.vec16(crypto::kMaxSignatureLen);
    h.finished = r.take(kFinishedLen);
    LS_TRY(r.finish());
    return h;
}

Result<std::uint32_t> decode_nonce_body(ConstBytes body) noexcept {
    Reader r(body);
    const std::uint32_t nonce = r.u32();
    LS_TRY(r.finish());
    return nonce;
}

Result<Reason> decode_close_body(ConstBytes body) noexcept {
    Reader r(body);
    const std::uint8_t reason = r.u8();
    LS_TRY(r.finish());
    if (reason > static_cast<std::uint8_t>(kLastReason)) return Err::bad_value;
    return static_cast<Reason>(reason);
}

Status decode_empty_body(ConstBytes body) noexcept {
    return body.empty() ? Status{} : Status{Err::trailing_bytes};
}

}  // namespace lockstep::wire
