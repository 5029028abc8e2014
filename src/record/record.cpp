// SPDX-License-Identifier: Apache-2.0
#include "record/record.hpp"

#include "keys/keys.hpp"

namespace lockstep::record {

Limits key_limits(Suite s, const KeyLimits& lower) noexcept {
    Limits l;
    if (s == Suite::chacha20poly1305) {
        l.records = kRnHardLimit;
        l.bytes = ~std::uint64_t{0};
    } else {
        l.records = std::uint64_t{1} << 24;
        l.bytes = std::uint64_t{1} << 38;
    }
    l.failed_opens = 0xffffffffu;  // the counter's range; below every suite's integrity limit
    auto lower_to = [](std::uint64_t& v, std::uint8_t log2) {
        if (log2 != 0 && log2 < 64 && (std::uint64_t{1} << log2) < v) v = std::uint64_t{1} << log2;
    };
    lower_to(l.records, lower.records_log2);
    lower_to(l.bytes, lower.bytes_log2);
    lower_to(l.failed_opens, lower.failed_opens_log2);
    return l;
}

Status may_seal(const DirectionKeys& k, const Limits& l, std::uint64_t epoch_bytes, std::size_t len,
                bool closing) noexcept {
    // l.records <= kRnHardLimit (key_limits), so with the reserve a record
    // number stays below 2^32 - 8: a nonce never repeats.
    const std::uint64_t records = l.records + (closing ? kCloseReserveRecords : 0);
    const std::uint64_t bytes = l.bytes == ~std::uint64_t{0} ? l.bytes : l.bytes + (closing ? kCloseReserveBytes : 0);
    if (k.next_rn >= records || epoch_bytes + len > bytes) return Err::limit_exceeded;
    return {};
}

crypto::Aead suite_aead(Suite s) noexcept {
    return s == Suite::chacha20poly1305 ? crypto::Aead::chacha20_poly1305 : crypto::Aead::aes_gcm;
}
bool suite_etm(Suite s) noexcept { return s == Suite::aes256gcm_hmac_sha512; }
bool suite_known(std::uint8_t v) noexcept { return v >= 1 && v <= 3; }
std::size_t suite_overhead(Suite s) noexcept {
    return crypto::kAeadTagLen + (suite_etm(s) ? wire::kEtmTagLen : 0);
}

Status ReplayWindow::check(std::uint32_t rn) const noexcept {
    if (!any_ || rn > top_) return {};
    std::uint32_t age = top_ - rn;
    if (age >= 64) return Err::replay;
    return (bits_ >> age) & 1u ? Status{Err::replay} : Status{};
}

void ReplayWindow::mark(std::uint32_t rn) noexcept {
    if (!any_) {
        any_ = true;
        top_ = rn;
        bits_ = 1;
        return;
    }
    if (rn > top_) {
        std::uint32_t shift = rn - top_;
        bits_ = shift >= 64 ? 0 : bits_ << shift;
        bits_ |= 1;
        top_ = rn;
    } else {
        bits_ |= std::uint64_t{1} << (top_ - rn);
    }
}

void ReplayWindow::unmark(std::uint32_t rn) noexcept {
    if (any_ && rn <= top_ && top_ - rn < 64) bits_ &= ~(std::uint64_t{1} << (top_ - rn));
}

void DirectionKeys::wipe() noexcept {
    key.wipe();
    iv.wipe();
    etm.wipe();
    cid = {};
    valid = false;
    next_rn = 0;
    failed = 0;
    window = ReplayWindow{};
}

DirectionKeys::DirectionKeys(DirectionKeys&& o) noexcept { *this = std::move(o); }

DirectionKeys& DirectionKeys::operator=(DirectionKeys&& o) noexcept {
    if (this == &o) return *this;
    suite = o.suite;
    epoch = o.epoch;
    valid = o.valid;
    key = std::move(o.key);
    iv = std::move(o.iv);
    cid = o.cid;
    etm = std::move(o.etm);
    next_rn = o.next_rn;
    failed = o.failed;
    window = o.window;
    o.wipe();
    return *this;
}

Status derive(crypto::Provider& p, Suite suite, std::uint8_t epoch, ConstBytes traffic_secret,
              DirectionKeys& out) noexcept {
    out.wipe();
    out.suite = suite;
    out.epoch = epoch;
    LS_TRY(keys::expand_label(p, traffic_secret, "key", {}, out.key.span()));
    LS_TRY(keys::expand_label(p, traffic_secret, "iv", {}, out.iv.span()));
    if (suite_etm(suite)) LS_TRY(keys::expand_label(p, traffic_secret, "etm mac", {}, out.etm.span()));
    // Every traffic secret has one; only application epochs' are used (spec §6.9).
    LS_TRY(keys::connection_id(p, traffic_secret, out.cid));
    out.valid = true;
    return {};
}

namespace {
void make_nonce(const DirectionKeys& k, std::uint32_t rn, std::uint8_t (&nonce)[kIvLen]) noexcept {
    std::memcpy(nonce, k.iv.data(), kIvLen);
    std::uint8_t be[4];
    store_be32(be, rn);
    for (int i = 0; i < 4; ++i) nonce[kIvLen - 4 + i] ^= be[i];
}
}  // namespace

Status seal_payload(crypto::Provider& p, const DirectionKeys& k, std::uint32_t rn, ConstBytes aad,
                    ConstBytes pt, Bytes out) noexcept {
    if (!k.valid) return Err::wrong_state;
    if (out.size() != pt.size() + suite_overhead(k.suite)) return Err::buffer_too_small;
    std::uint8_t nonce[kIvLen];
    make_nonce(k, rn, nonce);
    const std::size_t ct_len = pt.size() + crypto::kAeadTagLen;
    LS_TRY(p.aead_seal(suite_aead(k.suite), k.key.span(), nonce, aad, pt, out.first(ct_len)));
    if (suite_etm(k.suite)) {
        // Encrypt-then-MAC over header and ciphertext (the seed's construction).
        LS_TRY(p.hmac(crypto::Hash::sha512, k.etm.span(), aad, out.first(ct_len), out.subspan(ct_len)));
    }
    return {};
}

Status open_payload(crypto::Provider& p, const DirectionKeys& k, std::uint32_t rn, ConstBytes aad,
                    ConstBytes payload, Bytes out) noexcept {
    if (!k.valid) return Err::wrong_state;
    const std::size_t over = suite_overhead(k.suite);
    if (payload.size() < over) return Err::truncated;
    if (out.size() != payload.size() - over) return Err::buffer_too_small;
    const std::size_t ct_len = payload.size() - (suite_etm(k.suite) ? wire::kEtmTagLen : 0);
    if (suite_etm(k.suite)) {
        std::uint8_t mac[wire::kEtmTagLen];
        LS_TRY(p.hmac(crypto::Hash::sha512, k.etm.span(), aad, payload.first(ct_len), mac));
        if (!ct_equal(mac, payload.subspan(ct_len))) return Err::bad_mac;
    }
    std::uint8_t nonce[kIvLen];
    make_nonce(k, rn, nonce);
    return p.aead_open(suite_aead(k.suite), k.key.span(), nonce, aad, payload.first(ct_len), out);
}

Result<std::size_t> seal_record(crypto::Provider& p, DirectionKeys& k, ConstBytes inner, Bytes out) noexcept {
    // The nonce space's end, past the reserve of a closing message (may_seal
    // keeps every sender below it): a nonce never repeats.
    if (k.next_rn >= std::uint64_t{kRnHardLimit} + kCloseReserveRecords) return Err::limit_exceeded;
    const std::size_t total = wire::kRecordHeaderLen + inner.size() + suite_overhead(k.suite);
    if (out.size() < total) return Err::buffer_too_small;
    Writer w(out);
    wire::encode_record_header({k.epoch, k.next_rn}, w);
    LS_TRY(w.status());
    LS_TRY(seal_payload(p, k, k.next_rn, w.written(), inner,
                        out.subspan(wire::kRecordHeaderLen, total - wire::kRecordHeaderLen)));
    ++k.next_rn;
    return total;
}

Result<ConstBytes> open_record(crypto::Provider& p, DirectionKeys& k, const wire::RecordView& rec,
                               Bytes out) noexcept {
    if (!k.valid) return Err::wrong_state;
    if (rec.header.epoch != k.epoch) return Err::old_epoch;
    LS_TRY(k.window.check(rec.header.rn));
    const std::size_t over = suite_overhead(k.suite);
    if (rec.payload.size() < over) return Err::truncated;
    const std::size_t pt_len = rec.payload.size() - over;
    if (out.size() < pt_len) return Err::too_long;
    if (auto st = open_payload(p, k, rec.header.rn, rec.aad, rec.payload, out.first(pt_len)); !st) {
        if (st.error() == Err::bad_mac && k.failed != 0xffffffffu) ++k.failed;
        return st.error();
    }
    k.window.mark(rec.header.rn);
    return ConstBytes{out.data(), pt_len};
}

}  // namespace lockstep::record
