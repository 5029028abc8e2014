// SPDX-License-Identifier: Apache-2.0
// Fuzz target: wire::decode_record (header + payload split) and wire::decode_inner
// (record plaintext: type, seq, ack, ttl, body, zero padding), on the whole
// input and on the record's payload.
#include "fuzz_check.hpp"
#include "wire/wire.hpp"

using namespace lockstep;
using namespace lockstep::fuzz;

namespace {
void check_inner(ConstBytes in) {
    auto m = wire::decode_inner(in);
    if (!m) return;
    require_within(m->body, in, "inner body outside input");
    require(m->body.size() <= wire::kMaxData, "inner body too long");
    const std::size_t used = wire::kInnerHeaderLen + m->body.size();
    require(used <= in.size() && in.size() - used <= wire::kMaxPadding, "inner padding length");
    require_reencodes([&](Writer& w) { wire::encode_inner(*m, in.size() - used, w); }, in,
                      "inner does not re-encode");
}
}  // namespace

LOCKSTEP_FUZZ_ENTRY(record) {
    const ConstBytes in{data, size};
    check_inner(in);
    for (std::size_t min_payload : {std::size_t{0}, crypto::kAeadTagLen, crypto::kAeadTagLen + wire::kEtmTagLen}) {
        auto r = wire::decode_record(in, min_payload);
        if (!r) continue;
        require(in.size() <= wire::kMaxRecord, "record longer than kMaxRecord");
        require(r->payload.size() >= min_payload, "record payload shorter than asked");
        require(same(r->aad, in.first(wire::kRecordHeaderLen)), "record aad is not the header");
        require(same(r->payload, in.subspan(wire::kRecordHeaderLen)), "record payload is not the rest");
        require_reencodes([&](Writer& w) { wire::encode_record_header(r->header, w); }, r->aad,
                          "record header does not re-encode");
        check_inner(r->payload);
    }
    return 0;
}
