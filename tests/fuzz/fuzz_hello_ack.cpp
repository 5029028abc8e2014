// SPDX-License-Identifier: Apache-2.0
// Fuzz target: wire::decode_hello_ack (clear part) and, on the same bytes, the
// decoders of its sealed part (decode_hello_ack_auth) and of the ACK body.
#include "fuzz_check.hpp"
#include "wire/wire.hpp"

using namespace lockstep;
using namespace lockstep::fuzz;

namespace {
void check_auth(ConstBytes in) {
    auto a = wire::decode_hello_ack_auth(in);
    if (a) {
        require_within(a->cert, in, "auth cert outside input");
        require_within(a->sig, in, "auth sig outside input");
        require(a->finished.size() == wire::kFinishedLen, "auth finished length");
        require(a->cert.size() <= wire::kMaxCert && a->sig.size() <= crypto::kMaxSignatureLen, "auth lengths");
        require_reencodes([&](Writer& w) { wire::encode_hello_ack_auth(*a, w); }, in, "auth does not re-encode");
    }
    auto b = wire::decode_ack_body(in);
    if (b) require_reencodes([&](Writer& w) { wire::encode_ack_body(*b, w); }, in, "ack body does not re-encode");
}
}  // namespace

LOCKSTEP_FUZZ_ENTRY(hello_ack) {
    const ConstBytes in{data, size};
    check_auth(in);
    auto h = wire::decode_hello_ack(in);
    if (!h) return 0;
    require_within(h->share, in, "hello ack share outside input");
    require_within(h->sealed, in, "hello ack sealed outside input");
    require(mode_uses_psk(h->mode) ? h->mac.size() == wire::kMacLen : h->mac.empty(), "hello ack mac length");
    require(same(h->clear, in.first(h->clear.size())), "hello ack clear is not a prefix");
    require(h->aad.size() == h->clear.size() + h->mac.size() + 2 && same(h->aad, in.first(h->aad.size())),
            "hello ack aad is not clear || mac || length");
    require(h->aad.size() + h->sealed.size() == in.size(), "hello ack sealed is not the rest");
    require(h->sealed.size() >= crypto::kAeadTagLen + 4 + wire::kFinishedLen, "hello ack sealed too short");
    require_reencodes([&](Writer& w) { wire::encode_hello_ack_clear(*h, w); }, h->clear,
                      "hello ack does not re-encode");
    return 0;
}
