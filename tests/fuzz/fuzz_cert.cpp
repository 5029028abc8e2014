// SPDX-License-Identifier: Apache-2.0
// Fuzz target: wire::decode_cert (compact certificates, received in handshakes).
#include "fuzz_check.hpp"
#include "wire/wire.hpp"

using namespace lockstep;
using namespace lockstep::fuzz;

LOCKSTEP_FUZZ_ENTRY(cert) {
    const ConstBytes in{data, size};
    auto c = wire::decode_cert(in);
    if (!c) return 0;
    require(in.size() <= wire::kMaxCert, "cert longer than kMaxCert");
    require_within(c->subject, in, "cert subject outside input");
    require_within(c->pubkey, in, "cert pubkey outside input");
    require_within(c->signature, in, "cert signature outside input");
    require(!c->subject.empty() && c->subject.size() <= wire::kMaxSubject, "cert subject length");
    require(c->pubkey.size() == crypto::pubkey_len(c->key_alg), "cert pubkey length");
    require(c->signature.size() == crypto::sig_len(c->sig_alg), "cert signature length");
    require(c->not_before <= c->not_after, "cert validity inverted");
    require(same(c->tbs, in.first(c->tbs.size())), "cert tbs is not a prefix");
    require_reencodes([&](Writer& w) { wire::encode_cert_tbs(*c, w); }, c->tbs, "cert tbs does not re-encode");
    require_reencodes([&](Writer& w) { wire::encode_cert(*c, w); }, in, "cert does not re-encode");
    return 0;
}
