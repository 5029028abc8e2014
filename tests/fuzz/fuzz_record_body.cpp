// SPDX-License-Identifier: Apache-2.0
// Fuzz target: every record body decoder on the same bytes — re-key HELLO,
// re-key HELLO ACK, ACK body, nonce (DATA ACK), CLOSE reason, empty bodies.
#include "fuzz_check.hpp"
#include "wire/wire.hpp"

using namespace lockstep;
using namespace lockstep::fuzz;

LOCKSTEP_FUZZ_ENTRY(record_body) {
    const ConstBytes in{data, size};
    if (auto h = wire::decode_rekey_hello(in)) {
        require_within(h->share, in, "rekey hello share outside input");
        require(h->kx == Kx::x25519 ? h->share.size() == crypto::kX25519Len : h->share.empty(),
                "rekey hello share length");
        require_reencodes([&](Writer& w) { wire::encode_rekey_hello(*h, w); }, in, "rekey hello does not re-encode");
    }
    if (auto a = wire::decode_rekey_hello_ack(in)) {
        require_within(a->share, in, "rekey hello ack share outside input");
        require_within(a->sig, in, "rekey hello ack sig outside input");
        require(a->finished.size() == wire::kFinishedLen, "rekey hello ack finished length");
        require_reencodes([&](Writer& w) { wire::encode_rekey_hello_ack(*a, w); }, in,
                          "rekey hello ack does not re-encode");
    }
    if (auto a = wire::decode_ack_body(in)) {
        require_within(a->cert, in, "ack cert outside input");
        require_reencodes([&](Writer& w) { wire::encode_ack_body(*a, w); }, in, "ack body does not re-encode");
    }
    if (auto n = wire::decode_nonce_body(in)) require(size == 4 && load_be32(data) == *n, "nonce body");
    if (auto r = wire::decode_close_body(in))
        require(size == 1 && data[0] == static_cast<std::uint8_t>(*r) && *r <= kLastReason, "close body");
    require(wire::decode_empty_body(in).has_value() == (size == 0), "empty body");
    return 0;
}
