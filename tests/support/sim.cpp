// SPDX-License-Identifier: Apache-2.0
#include "sim.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include <openssl/evp.h>

#include "handshake/certs.hpp"
#include "record/record.hpp"

namespace lockstep::sim {

using namespace std::chrono;

Status InsecureSeededProvider::random(crypto::Bytes out) noexcept {
    for (auto& b : out) b = static_cast<std::uint8_t>(rng_());
    return {};
}

Status InsecureSeededProvider::x25519_keygen(crypto::Bytes priv, crypto::Bytes pub) noexcept {
    ++keygens;
    LS_TRY(random(priv));
    std::uint8_t base[32] = {9};
    LS_TRY(real_->x25519(priv, {}, base, pub));
    if (on_keygen) on_keygen(priv, pub);
    return {};
}

namespace {
class FixedSigner final : public crypto::Signer {
public:
    explicit FixedSigner(std::uint8_t fill) {
        std::uint8_t seed[32];
        std::memset(seed, fill, sizeof seed);
        key_ = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, sizeof seed);
        std::size_t n = pub_.size();
        if (!key_ || EVP_PKEY_get_raw_public_key(key_, pub_.data(), &n) != 1) std::abort();
    }
    ~FixedSigner() override { EVP_PKEY_free(key_); }
    crypto::SigAlg alg() const noexcept override { return crypto::SigAlg::ed25519; }
    crypto::ConstBytes public_key() const noexcept override { return pub_; }
    Status sign(crypto::ConstBytes msg, crypto::Bytes sig) noexcept override {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        std::size_t n = sig.size();
        bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_) == 1 &&
                  EVP_DigestSign(ctx, sig.data(), &n, msg.data(), msg.size()) == 1 && n == 64;
        EVP_MD_CTX_free(ctx);
        return ok ? Status{} : Status{Err::crypto_failure};
    }

private:
    EVP_PKEY* key_ = nullptr;
    std::array<std::uint8_t, 32> pub_{};
};
}  // namespace

std::unique_ptr<crypto::Signer> fixed_ed25519_signer(std::uint8_t fill) { return std::make_unique<FixedSigner>(fill); }

// ---------------------------------------------------------------- credentials
Buf Credentials::issue(crypto::Signer& issuer, crypto::Signer& subject_key, CertRole role, const char* subject,
                       std::uint32_t not_before, std::uint32_t not_after, std::uint64_t serial) {
    crypto::openssl::OpenSslProvider p;
    wire::Cert c;
    c.role = role;
    c.key_alg = subject_key.alg();
    c.subject = {reinterpret_cast<const std::uint8_t*>(subject), std::strlen(subject)};
    c.serial = serial;
    c.not_before = not_before;
    c.not_after = not_after;
    c.pubkey = subject_key.public_key();
    Buf out(wire::kMaxCert);
    auto n = certs::issue(p, issuer, c, out);
    if (!n) std::abort();
    out.resize(*n);
    return out;
}

const Credentials& Credentials::get(crypto::SigAlg alg) {
    static std::map<crypto::SigAlg, Credentials> cache;
    auto it = cache.find(alg);
    if (it != cache.end()) return it->second;
    Credentials c;
    auto gen = [](crypto::SigAlg a) {
        auto k = crypto::openssl::OpenSslSigner::generate(a);
        if (!k) std::abort();
        return std::move(*k);
    };
    c.ca_key = gen(crypto::SigAlg::ed25519);
    c.server_key = gen(alg);
    c.client_key = gen(alg);
    const std::uint32_t nb = 1'700'000'000, na = 1'900'000'000;
    c.ca_cert = issue(*c.ca_key, *c.ca_key, CertRole::ca, "lockstep test CA", nb, na);
    c.server_cert = issue(*c.ca_key, *c.server_key, CertRole::server, "server.test", nb, na);
    c.client_cert = issue(*c.ca_key, *c.client_key, CertRole::client, "device-1", nb, na);
    return cache.emplace(alg, std::move(c)).first->second;
}

// ---------------------------------------------------------------- tracer
namespace {
class EpTracer final : public Tracer {
public:
    explicit EpTracer(Endpoint& ep) : ep_(ep) {}
    void on_message(const TraceEntry& e) noexcept override {
        (e.sent ? ep_.sent : ep_.received).push_back(e);
    }
    void on_fault(Err e, bool) noexcept override { ep_.faults.push_back(e); }

private:
    Endpoint& ep_;
};
}  // namespace

// ---------------------------------------------------------------- sim
Sim::Sim(Options o) : opts_(o), cprov_(o.seed * 2 + 1, o.crypto), sprov_(o.seed * 2 + 2, o.crypto), netrng_(o.seed) {
    for (Endpoint* ep : {&c_, &s_}) {
        Config& cfg = ep->cfg;
        cfg.role = ep == &c_ ? Role::client : Role::server;
        cfg.provider = ep == &c_ ? static_cast<crypto::Provider*>(&cprov_) : &sprov_;
        cfg.modes = {o.mode};
        cfg.suites = {o.suite};
        cfg.policy = o.policy;
        cfg.ttl_mode = o.ttl;
        if (mode_uses_cert(o.mode)) {
            const Credentials& cr = Credentials::get(o.alg);
            cfg.ca_certificate = cr.ca_cert;
            cfg.signer = ep == &c_ ? cr.client_key.get() : cr.server_key.get();
            cfg.certificate = ep == &c_ ? cr.client_cert : cr.server_cert;
            if (ep == &c_) cfg.server_names = kTestServerNames;
        }
        if (mode_uses_psk(o.mode)) {
            if (ep == &c_) {
                cfg.psk = test_psk();
                cfg.psk_id = test_psk_id();
            } else {
                cfg.psk_store = &psks_;
            }
        }
    }
    s_.cfg.suites = {Suite::aes256gcm, Suite::chacha20poly1305, Suite::aes256gcm_hmac_sha512};
    s_.respond = [](const Buf& req) {
        Buf r(3 + req.size());
        r[0] = 'r';
        r[1] = 'e';
        r[2] = ':';
        std::copy(req.begin(), req.end(), r.begin() + 3);
        return r;
    };
}

void Sim::build() {
    for (Endpoint* ep : {&c_, &s_}) {
        ep->ws.assign(Engine::workspace_size(ep->cfg.max_data), 0);
        ep->engine = std::make_unique<Engine>(ep->cfg, ep->ws);
        ep->tracer = std::make_unique<EpTracer>(*ep);
        ep->engine->set_tracer(ep->tracer.get());
    }
}

Now Sim::now() const {
    return Now{Instant{milliseconds(now_ms_)}, UnixTime{milliseconds(wall_base_ms_ + now_ms_)}};
}

void Sim::inject(Dir d, Buf bytes, std::int64_t delay_ms) {
    inflight_.push_back(Packet{d, std::move(bytes), now_ms_ + delay_ms, order_++});
}

void Sim::flush(Endpoint& ep, Dir d) {
    Buf buf(Engine::max_message_size(ep.cfg.max_data));
    for (;;) {
        auto n = ep.engine->poll_transmit(buf);
        if (!n || *n == 0) break;
        Buf msg(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
        wire_log.push_back(Packet{d, msg, now_ms_, 0});
        if (hook && hook(d, msg) == Verdict::drop) continue;
        std::uniform_real_distribution<double> u(0, 1);
        const NetOptions& n_ = opts_.net;
        if (u(netrng_) < n_.drop) continue;
        std::int64_t at = now_ms_ + n_.latency_ms;
        if (u(netrng_) < n_.reorder) at += n_.reorder_delay_ms;
        inflight_.push_back(Packet{d, msg, at, order_++});
        if (u(netrng_) < n_.duplicate) inflight_.push_back(Packet{d, msg, at + 1, order_++});
    }
}

void Sim::drain_events(Endpoint& ep) {
    Event ev;
    while (ep.engine->poll_event(ev)) {
        Buf data(ev.data.begin(), ev.data.end());
        ep.datas.push_back(data);
        ep.events.push_back(ev);
        switch (ev.kind) {
            case EventKind::handshake_done: ++ep.handshakes; break;
            case EventKind::rekeyed: ++ep.rekeys; break;
            case EventKind::closed:
                ep.closed = true;
                ep.closed_event = ev;
                break;
            case EventKind::response:
                ++ep.responses;
                ep.last_response = data;
                break;
            case EventKind::request:
                ++ep.requests;
                if (ep.auto_respond && ep.respond) {
                    Buf r = ep.respond(data);
                    (void)ep.engine->send_response(r, now());
                }
                break;
        }
    }
}

void Sim::deliver(const Packet& p) {
    Endpoint& to = p.dir == Dir::c2s ? s_ : c_;
    if (to.engine->is_closed()) return;
    (void)to.engine->receive(p.bytes, now());
}

std::optional<std::int64_t> Sim::next_time() const {
    std::optional<std::int64_t> t;
    for (const auto& p : inflight_)
        if (!t || p.deliver_at_ms < *t) t = p.deliver_at_ms;
    for (const Endpoint* ep : {&c_, &s_}) {
        auto d = ep->engine->next_deadline();
        if (d) {
            std::int64_t ms = d->since_origin.count();
            if (!t || ms < *t) t = ms;
        }
    }
    return t;
}

void Sim::step_timers() {
    for (Endpoint* ep : {&c_, &s_}) {
        auto d = ep->engine->next_deadline();
        if (d && d->since_origin.count() <= now_ms_) (void)ep->engine->on_timeout(now());
    }
}

void Sim::start() {
    (void)se().start(now());
    (void)ce().start(now());
    flush(c_, Dir::c2s);
    flush(s_, Dir::s2c);
    drain_events(c_);
    drain_events(s_);
}

bool Sim::run_until(const std::function<bool()>& pred, std::int64_t max_ms) {
    const std::int64_t limit = now_ms_ + max_ms;
    for (int guard = 0; guard < 1'000'000; ++guard) {
        flush(c_, Dir::c2s);
        flush(s_, Dir::s2c);
        drain_events(c_);
        drain_events(s_);
        flush(c_, Dir::c2s);
        flush(s_, Dir::s2c);
        if (pred()) return true;
        auto t = next_time();
        if (!t || *t > limit) return pred();
        if (*t > now_ms_) now_ms_ = *t;
        // Deliver everything due now, in time then send order.
        std::stable_sort(inflight_.begin(), inflight_.end(), [](const Packet& a, const Packet& b) {
            return a.deliver_at_ms != b.deliver_at_ms ? a.deliver_at_ms < b.deliver_at_ms : a.order < b.order;
        });
        while (!inflight_.empty() && inflight_.front().deliver_at_ms <= now_ms_) {
            Packet p = std::move(inflight_.front());
            inflight_.pop_front();
            deliver(p);
            flush(c_, Dir::c2s);
            flush(s_, Dir::s2c);
            drain_events(c_);
            drain_events(s_);
        }
        step_timers();
    }
    return pred();
}

bool Sim::handshake() {
    start();
    return run_until([&] { return c_.handshakes == 1 && s_.handshakes == 1; });
}

int Sim::exchange(int n, std::size_t body_len) {
    for (int i = 0; i < n; ++i) {
        if (!run_until([&] { return ce().can_send_request() || c_.closed; })) break;
        if (c_.closed) break;
        const int before = c_.responses;
        Buf b = body(body_len, static_cast<std::uint8_t>(i));
        if (!ce().send_request(b, now())) break;
        if (!run_until([&] { return c_.responses > before || c_.closed; })) break;
        if (c_.responses == before) break;
    }
    return c_.responses;
}

bool Sim::close_from_client() {
    (void)ce().close(now());
    return run_until([&] { return c_.closed && s_.closed; });
}

Buf seal_with_secret(const Buf& traffic_secret, std::uint8_t epoch, std::uint32_t rn, const wire::Inner& m) {
    crypto::openssl::OpenSslProvider p;
    record::DirectionKeys k;
    if (!record::derive(p, Suite::aes256gcm, epoch, traffic_secret, k)) return {};
    k.next_rn = rn;
    Buf inner(wire::kInnerHeaderLen + m.body.size()), rec(inner.size() + 128);
    Writer w(inner);
    wire::encode_inner(m, 0, w);
    if (!w.ok()) return {};
    auto n = record::seal_record(p, k, w.written(), rec);
    if (!n) return {};
    rec.resize(*n);
    return rec;
}

}  // namespace lockstep::sim
