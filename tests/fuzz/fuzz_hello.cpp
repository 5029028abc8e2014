// SPDX-License-Identifier: Apache-2.0
// Fuzz target: wire::decode_hello (the first message a server parses, unauthenticated).
#include "fuzz_check.hpp"
#include "wire/wire.hpp"

using namespace lockstep;
using namespace lockstep::fuzz;

LOCKSTEP_FUZZ_ENTRY(hello) {
    const ConstBytes in{data, size};
    auto h = wire::decode_hello(in);
    if (!h) return 0;
    require_within(h->share, in, "hello share outside input");
    require_within(h->psk_id, in, "hello psk_id outside input");
    require_within(h->mac, in, "hello mac outside input");
    require(h->psk_id.size() <= wire::kMaxPskId, "hello psk_id too long");
    require(h->psk_id.empty() ? h->mac.empty() : h->mac.size() == wire::kMacLen, "hello mac length");
    require(h->versions.n >= 1 && h->suites.n >= 1 && h->modes.n >= 1 && h->modes.n <= wire::kMaxModes,
            "hello list sizes");
    require(h->body.size() + h->mac.size() == in.size() && same(h->body, in.first(h->body.size())),
            "hello body is not the prefix before the MAC");
    require_reencodes([&](Writer& w) { wire::encode_hello_body(*h, w); }, h->body, "hello does not re-encode");
    return 0;
}
