// SPDX-License-Identifier: Apache-2.0
// lockstep — the initial three-message handshake: HELLO, HELLO ACK, ACK;
// the client's side and what both sides share (hello.hpp). The server's side: server.cpp.
// spec: PROTOCOL.md §5 (key schedule), §6.2-6.5 (messages), §5.4 (transcript)
//
// Transcript items, in order (each appended as th = SHA-256(th || item)):
//   T1 HELLO without its MAC          -> s0 MAC of HELLO = HMAC(k_c_hello, th1)
//   T2 HELLO ACK clear part           -> s0 MAC of HELLO ACK; handshake secrets
//   T3 vec16(server certificate)      -> server signature covers th3
//   T4 vec16(server signature)        -> server finished covers th4
//   T5 server finished
//   T6 ACK plaintext up to and with vec16(client certificate) -> client signature
//   T7 vec16(client signature)        -> client finished covers th7
//   T8 client finished                -> application secrets of epoch 1
// In PSK modes certificates and signatures are empty vectors (items "00 00").
#include <cstring>

#include "handshake/auth.hpp"
#include "handshake/certs.hpp"
#include "handshake/handshake.hpp"
#include "handshake/hello.hpp"

namespace lockstep::handshake {

using namespace hello;


namespace {

bool any_mode(const Config& c, bool (*pred)(Mode)) noexcept {
    for (std::uint8_t i = 0; i < c.modes.count; ++i)
        if (pred(c.modes.items[i])) return true;
    return false;
}

// The server certificate names one of the servers the client asked for.
bool expected_server(const Config& c, ConstBytes subject) noexcept {
    if (c.insecure_accept_any_server_name) return true;
    for (std::string_view n : c.server_names)
        if (n.size() == subject.size() && std::memcmp(n.data(), subject.data(), n.size()) == 0) return true;
    return false;
}

}  // namespace

// ---- what both sides share (hello.hpp)
namespace hello {

Status check_credentials(const Config& c, Mode m) noexcept {
    if (!features::uses_cert(m)) return {};
    if (c.signer == nullptr || c.certificate.empty() || c.ca_certificate.empty()) return Err::invalid_argument;
    // A client must know which server it wants (spec §7.4), or opt out loudly.
    if (c.role == Role::client && c.server_names.empty() && !c.insecure_accept_any_server_name)
        return Err::invalid_argument;
    return {};
}

Result<std::uint32_t> random_u32(crypto::Provider& p) noexcept {
    std::uint8_t b[4];
    LS_TRY(p.random(b));
    return load_be32(b);
}

Status hmac_check(crypto::Provider& p, const keys::Secret32& key, ConstBytes th, ConstBytes mac) noexcept {
    std::uint8_t expect[wire::kMacLen];
    LS_TRY(keys::mac(p, key.span(), th, expect));
    return ct_equal(expect, mac) ? Status{} : Status{Err::bad_mac};
}

}  // namespace hello

Result<Choice> negotiate(const wire::IdList& cv, const wire::IdList& cs, const wire::IdList& cm,
                         const wire::IdList& sv, const wire::IdList& ss, const wire::IdList& sm, bool psk_offered,
                         bool share_offered) noexcept {
    Choice c;
    for (std::uint8_t i = 0; i < cv.n; ++i)
        if (sv.contains(cv.v[i]) && cv.v[i] > c.version) c.version = cv.v[i];
    if (c.version == 0) return Err::no_common_parameters;
    bool have_suite = false;
    for (std::uint8_t i = 0; i < cs.n && !have_suite; ++i)
        if (ss.contains(cs.v[i]) && record::suite_known(cs.v[i])) {
            c.suite = static_cast<Suite>(cs.v[i]);
            have_suite = true;
        }
    bool have_mode = false;
    for (std::uint8_t i = 0; i < cm.n && !have_mode; ++i) {
        const std::uint8_t v = cm.v[i];
        if (v < 1 || v > 4 || !sm.contains(v)) continue;
        const Mode m = static_cast<Mode>(v);
        if (mode_uses_psk(m) && !psk_offered) continue;
        if (mode_uses_ecdhe(m) && !share_offered) continue;
        c.mode = m;
        have_mode = true;
    }
    if (!have_suite || !have_mode) return Err::no_common_parameters;
    return c;
}

namespace hello {

Result<keys::HandshakeSecret> handshake_keys(Link& e, Mode mode, Suite suite, ConstBytes th2,
                                             keys::EarlySecret&& early, keys::Secret32& shared,
                                             Pending& out) noexcept {
    crypto::Provider& p = e.provider();
    // psk-only has no ECDHE: th2, which covers both parties' randoms, takes its
    // place, so hs and everything below it are per connection (spec §5.1).
    if (features::uses_psk(mode)) LS_TRY(keys::expand_label(p, early.s.span(), "rekey psk", {}, out.rekey_psk.span()));
    const ConstBytes ikm = features::uses_ecdhe(mode) ? shared.span() : th2;
    auto hs = keys::handshake_secret(p, std::move(early), ikm);
    shared.wipe();
    if (!hs) return hs.error();
    LS_TRY(keys::derive_secret(p, hs->s.span(), "c hs traffic", th2, out.c_hs));
    LS_TRY(keys::derive_secret(p, hs->s.span(), "s hs traffic", th2, out.s_hs));
    e.keylog("th2", th2);
    e.keylog("handshake secret", hs->s.span());
    e.keylog("c hs traffic", out.c_hs.span());
    e.keylog("s hs traffic", out.s_hs.span());
    const bool client = e.client();
    LS_TRY(record::derive(p, suite, 0, (client ? out.c_hs : out.s_hs).span(), out.tx));
    LS_TRY(record::derive(p, suite, 0, (client ? out.s_hs : out.c_hs).span(), out.rx));
    return hs;
}

// The largest handshake message a build without certificates writes or opens
// must fit detail::kMinInnerCapNoCert (include/lockstep/engine.hpp): a HELLO
// (our X25519 share or a random, the longest PSK identity, its MAC) with the
// server's cookie kept behind it, and a HELLO ACK with its sealed part (empty
// certificate and signature, finished, the largest AEAD overhead).
constexpr std::size_t kMaxIdLists = 3 * (1 + wire::kMaxListLen);
constexpr std::size_t kMaxPskHello = 1 + kMaxIdLists + 1 + 1 + 2 + crypto::kX25519Len + wire::kRandomLen + 4 + 4 +
                                     1 + wire::kMaxPskId + wire::kMacLen;
constexpr std::size_t kMaxPskHelloAck = 1 + 4 + kMaxIdLists + 1 + 2 + crypto::kX25519Len + wire::kRandomLen + 12 +
                                        wire::kMacLen + 2 + 2 + 2 + wire::kFinishedLen + crypto::kAeadTagLen +
                                        wire::kEtmTagLen;
static_assert(kMaxPskHello + wire::kMaxCookie <= detail::kMinInnerCapNoCert, "raise kMinInnerCapNoCert");
// Every HELLO (no mode adds to it): the transmit queue's room for a padded one.
static_assert(kMaxPskHello == detail::kMaxHello, "detail::kMaxHello (include/lockstep/engine.hpp)");
static_assert(wire::kMaxCookie == 64 && wire::kMaxHelloPadding == 1200, "detail::kMaxHelloFrame");
static_assert(kMaxPskHelloAck <= detail::kMinInnerCapNoCert, "raise kMinInnerCapNoCert");

}  // namespace hello

// ---------------------------------------------------------------- client: HELLO
Status client_start(Link& e, const Now& now) noexcept {
    // Every failure goes through fail(): the engine never stays in START (spec §10).
    const Config& c = e.cfg_;
    crypto::Provider& p = e.provider();
    KeyState& k = e.keys_;
    const bool want_psk = any_mode(c, [](Mode m) { return features::uses_psk(m); });
    const bool want_ecdhe = any_mode(c, [](Mode m) { return features::uses_ecdhe(m); });
    if (c.modes.count == 0 || c.suites.count == 0 || c.versions.count == 0) return e.fail(Err::invalid_argument, now);
    if (want_psk && (c.psk.size() < 16 || c.psk.size() > 64 || c.psk_id.empty() || c.psk_id.size() > wire::kMaxPskId))
        return e.fail(Err::invalid_argument, now);
    for (std::uint8_t i = 0; i < c.modes.count; ++i)
        if (auto st = check_credentials(c, c.modes.items[i]); !st) return e.fail(st.error(), now);

    wire::Hello h;
    h.versions = to_list(c.versions);
    h.suites = to_list(c.suites);
    h.modes = to_list(c.modes);
    e.relative_ttl_ = c.ttl_mode == TtlMode::relative;
    h.flags = e.relative_ttl_ ? wire::kFlagRelativeTtl : 0;
    if (want_ecdhe) {
        if (!p.x25519_keygen(k.x_priv.span(), k.x_pub)) return e.fail(Err::crypto_failure, now);
        k.have_x = true;
        h.kx = Kx::x25519;
        h.share = k.x_pub;
    } else {
        h.kx = Kx::none;
    }
    auto isn = random_u32(p);
    if (!isn || (!want_ecdhe && !p.random(h.random))) return e.fail(Err::rng_failure, now);
    h.seq = *isn;
    h.ttl = e.make_ttl(now);
    if (want_psk) h.psk_id = c.psk_id;

    std::uint8_t* const slot = e.new_slot();
    Writer w({slot, e.kept_cap()});
    wire::encode_hello_body(h, w);
    if (!w.ok()) return e.fail(Err::internal, now);
    if (auto st = k.th.append(p, w.written()); !st) return e.fail(st.error(), now);  // T1
    if (want_psk) {
        // The s0 MAC (R6): keyed from the PSK through HKDF, over th1.
        auto early = keys::early_secret(p, c.psk);
        if (!early) return e.fail(early.error(), now);
        keys::Secret32 mk;
        if (auto st = keys::hello_mac_key(p, *early, Role::client, mk); !st) return e.fail(st.error(), now);
        Bytes mac = w.reserve(wire::kMacLen);
        if (!w.ok()) return e.fail(Err::internal, now);
        if (auto st = keys::mac(p, mk.span(), k.th.span(), mac); !st) return e.fail(st.error(), now);
    }
    e.state_ = State::wait_hello_ack;
    wire::Inner meta{MsgType::hello, h.seq, 0, h.ttl, {}, {}};
    return e.send_kept(meta, w.size(), 0, true, now);
}

namespace hello {

// Cert modes carry a certificate and a signature, PSK modes neither. A peer
// certificate is verified against the CA and its key and subject remembered.
Status accept_peer_cert(Link& e, Mode mode, ConstBytes cert, ConstBytes sig, CertRole role, const Now& now) noexcept {
    const bool want = features::uses_cert(mode);
    if (want == cert.empty() || want == sig.empty()) return Err::bad_value;
    if (!want) return {};
    if constexpr (!features::kCertModes) return Err::internal;  // want is false: no peer_key_ room (link.hpp)
    const Config& c = e.cfg_;
    // The CA signature (and the cache) come after the transcript signature: peer_cert_signed.
    auto pc = certs::check_fields(e.provider(), cert, c.ca_certificate, role, now.wall.seconds(),
                                  c.insecure_skip_cert_validity);
    if (!pc) return pc.error();
    if (c.cert_policy != nullptr) {  // spec: PROTOCOL.md §7.4 (revocation)
        auto kid = certs::key_id(e.provider(), pc->key_alg, pc->pubkey);
        if (!kid) return kid.error();
        if (c.cert_policy->revoked(pc->serial, *kid, pc->subject)) return Err::bad_certificate;
    }
    // cert+psk (server): one identity, not two: the subject is the psk_id the HELLO named.
    if (role == CertRole::client && mode == Mode::cert_psk &&
        (pc->subject.size() != e.peer_subject_len_ ||
         std::memcmp(pc->subject.data(), e.peer_subject_, e.peer_subject_len_) != 0))
        return Err::bad_certificate;
    std::memcpy(e.peer_key_, pc->pubkey.data(), pc->pubkey.size());
    e.peer_key_alg_ = static_cast<std::uint8_t>(pc->key_alg);
    std::memcpy(e.peer_subject_, pc->subject.data(), pc->subject.size());
    e.peer_subject_len_ = pc->subject.size();
    // The client's server-name check, before anything of its own identity leaves (spec §7.4).
    if (role == CertRole::server && !expected_server(c, pc->subject)) return Err::bad_certificate;
    return {};
}

// The peer certificate's CA signature (through the cache), checked only
// after the transcript signature verified under its key (spec §7.4).
Status peer_cert_signed(Link& e, Mode mode, ConstBytes cert) noexcept {
    if (!features::uses_cert(mode)) return {};
    return certs::check_ca_signature(e.provider(), cert, e.cfg_.ca_certificate, e.cfg_.cert_cache);
}

Status enter_epoch1(Link& e, const Now& now) noexcept {
    crypto::Provider& p = e.provider();
    KeyState& k = e.keys_;
    keys::Secret32 cap, sap;
    LS_TRY(keys::derive_secret(p, k.master.s.span(), "c ap traffic", k.th.span(), cap));
    LS_TRY(keys::derive_secret(p, k.master.s.span(), "s ap traffic", k.th.span(), sap));
    e.keylog("th8", k.th.span());
    e.keylog("master secret", k.master.s.span());
    e.keylog("c ap traffic", cap.span());
    e.keylog("s ap traffic", sap.span());
    const bool client = e.client();
    LS_TRY(record::derive(p, e.suite_, 1, (client ? cap : sap).span(), k.tx));
    LS_TRY(record::derive(p, e.suite_, 1, (client ? sap : cap).span(), k.rx));
    k.wipe_handshake();
    e.epoch_ = 1;
    e.epoch_start_ = now.mono;
    e.state_ = State::idle;
    return {};
}

void handshake_done(Link& e) noexcept {
    ++e.stats_.handshakes;
    Event ev;
    ev.kind = EventKind::handshake_done;
    ev.epoch = 1;
    e.push_event(ev);
}

}  // namespace hello

PeerKey peer_key(const Link& e) noexcept {
    const auto alg = static_cast<crypto::SigAlg>(e.peer_key_alg_);
    return {alg, {e.peer_key_, crypto::pubkey_len(alg)}};
}

// ---------------------------------------------------------------- client: HELLO ACK -> ACK
Status on_hello_ack(Link& e, ConstBytes msg, const Now& now, std::uint32_t& peer_seq) noexcept {
    const Config& c = e.cfg_;
    crypto::Provider& p = e.provider();
    KeyState& k = e.keys_;
    auto h = wire::decode_hello_ack(msg);
    if (!h) return h.error();
    e.trace_received(wire::Inner{MsgType::hello_ack, h->seq, h->ack, h->ttl, {}, {}}, msg.size());
    // First: does it answer our HELLO? A blind sender does not know c0 (spec §6.3).
    if (h->ack != e.tx_seq_) return Err::bad_sequence;
    peer_seq = h->seq;  // a clear CLOSE refusing it answers s0
    // The server may only pick what we offered.
    if (!c.versions.contains(h->version) || !c.suites.contains(h->suite) || !c.modes.contains(h->mode))
        return Err::downgrade;
    const Mode mode = h->mode;
    if (features::uses_ecdhe(mode) != (h->kx == Kx::x25519) || (features::uses_ecdhe(mode) && !k.have_x))
        return Err::bad_value;
    if (((h->flags & wire::kFlagRelativeTtl) != 0) != e.relative_ttl_) return Err::downgrade;
    LS_TRY(e.check_ttl(h->ttl, now));

    keys::Transcript th = k.th;
    LS_TRY(th.append(p, h->clear));  // T2
    auto early = keys::early_secret(p, features::uses_psk(mode) ? c.psk : ConstBytes{});
    if (!early) return early.error();
    if (features::uses_psk(mode)) {
        keys::Secret32 mk;
        LS_TRY(keys::hello_mac_key(p, *early, Role::server, mk));
        LS_TRY(hmac_check(p, mk, th.span(), h->mac));  // before the X25519 work
    }
    keys::Secret32 shared;
    if (features::uses_ecdhe(mode)) {
        if (ct_equal(h->share, k.x_pub)) return Err::bad_value;  // our own share reflected (spec §4.4)
        LS_TRY(p.x25519(k.x_priv.span(), k.x_pub, h->share, shared.span()));
        e.keylog("ecdhe", shared.span());
    }
    Pending pk;
    auto hs = handshake_keys(e, mode, h->suite, th.span(), std::move(*early), shared, pk);
    if (!hs) return hs.error();

    const std::size_t over = record::suite_overhead(h->suite);
    if (h->sealed.size() < over || h->sealed.size() - over > e.inner_cap_) return Err::too_long;
    Bytes pt = e.scratch().first(h->sealed.size() - over);
    LS_TRY(record::open_payload(p, pk.rx, 0, h->aad, h->sealed, pt));
    pk.rx.window.mark(0);
    pk.rx.next_rn = 1;
    auto auth = wire::decode_hello_ack_auth(pt);
    if (!auth) return auth.error();

    const bool cert = features::uses_cert(mode);
    LS_TRY(accept_peer_cert(e, mode, auth->cert, auth->sig, CertRole::server, now));
    LS_TRY(th.append(p, pt.first(2 + auth->cert.size())));  // T3
    const PeerKey server_key = peer_key(e);
    LS_TRY(check_auth(p, th, pt.subspan(2 + auth->cert.size(), 2 + auth->sig.size()), cert ? &server_key : nullptr,
                      keys::kServerSigContext, pk.s_hs.span(), auth->finished));  // T4, T5
    LS_TRY(peer_cert_signed(e, mode, auth->cert));
    e.peer_proved_ = true;  // from here on the server's word counts: failures are fatal
    // Downgrade check (S2): now that the server's lists are authenticated.
    auto best = negotiate(to_list(c.versions), to_list(c.suites), to_list(c.modes), h->versions, h->suites,
                          h->modes, !c.psk_id.empty() && any_mode(c, [](Mode m) { return features::uses_psk(m); }),
                          k.have_x);
    if (!best || best->version != h->version || best->suite != h->suite || best->mode != h->mode)
        return Err::downgrade;

    // Commit: the HELLO ACK is the server's, and what it chose stands.
    e.mode_ = mode;
    e.suite_ = h->suite;
    k.th = th;
    pk.commit(k);
    e.accept_rx(h->seq, MsgType::hello_ack, 0);
    LS_TRY(p.hash(crypto::Hash::sha256, msg, {}, k.hello_digest));  // recognises a resent copy

    // ACK: nonce, vec16 cert, vec16 sig, finished — sealed under the client handshake key.
    auto nonce = random_u32(p);
    if (!nonce) return Err::rng_failure;
    wire::Inner m = e.next_inner(MsgType::ack, now);
    const ConstBytes my_cert = cert ? c.certificate : ConstBytes{};
    const std::size_t slen = cert ? crypto::sig_len(c.signer->alg()) : 0;
    const std::size_t body_len = 4 + 2 + my_cert.size() + 2 + slen + wire::kFinishedLen;
    std::uint8_t* const slot = e.new_slot();
    std::uint8_t* inner = slot + wire::kRecordHeaderLen;
    Writer w({inner, e.kept_cap() - wire::kRecordHeaderLen});
    wire::encode_inner_prefix(m, w);
    w.u16(static_cast<std::uint16_t>(body_len));
    const wire::AuthSlots slots = wire::layout_ack_body(*nonce, my_cert, slen, w);
    LS_TRY(w.status());
    LS_TRY(k.th.append(p, {inner, static_cast<std::size_t>(slots.sig_field.data() - inner)}));  // T6
    LS_TRY(write_auth(p, k.th, cert ? c.signer : nullptr, keys::kClientSigContext, k.c_hs.span(),
                      slots));  // T7, T8
    auto len = e.seal_slot(slot, w.size());
    if (!len) return len.error();

    // Application keys of epoch 1, bound to the whole transcript.
    auto master = keys::master_secret(p, std::move(*hs));
    if (!master) return master.error();
    k.master = std::move(*master);
    m.body = {inner + wire::kInnerHeaderLen, body_len};
    LS_TRY(e.send_kept(m, *len, *nonce, false, now));
    LS_TRY(enter_epoch1(e, now));
    handshake_done(e);
    return {};
}

}  // namespace lockstep::handshake
