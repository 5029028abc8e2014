// SPDX-License-Identifier: Apache-2.0
// bench_handshake — full handshakes per second on one core, both roles in one
// process over memory, per mode and per provider (OpenSSL 3, libsodium, BearSSL);
// against OpenSSL TLS 1.3 (mutual auth, Ed25519 certificates, X25519, memory
// BIOs) and against the crypto-only floor (the exact primitive calls one
// lockstep handshake makes, recorded and replayed on the same provider).
#include "common.hpp"

using namespace bench;

namespace {

// Runs fn repeatedly for at least `secs`; returns operations per second.
template <class F>
double rate(double secs, F&& fn) {
    long n = 0;
    auto t0 = Clock::now();
    double el = 0;
    do {
        for (int i = 0; i < 8; ++i) fn();
        n += 8;
        el = seconds_since(t0);
    } while (el < secs);
    return static_cast<double>(n) / el;
}

}  // namespace

int main(int argc, char** argv) {
    Args a = parse_args(argc, argv);
    const double secs = a.quick ? 0.15 : 0.6;
    // Every mode, plus cert-ed25519 with a certificate cache on both sides
    // (Config::cert_cache, as net::Server keeps per loop): a peer seen before.
    std::vector<ModeCase> cases = mode_cases();
    cases.push_back({"cert-ed25519+cache", Mode::cert, crypto::SigAlg::ed25519});
    const std::size_t cached_case = cases.size() - 1;
    std::vector<std::string> names;
    for (const ModeCase& m : cases) names.push_back(m.name);
    // The same handshakes on the libsodium and BearSSL providers (no RSA there).
    for (const Crypto k : {Crypto::sodium, Crypto::bearssl})
        for (const ModeCase& m : mode_cases())
            if (m.alg == crypto::SigAlg::ed25519) {
                cases.push_back({m.name, m.mode, m.alg, k});
                names.push_back(std::string(m.name) + (k == Crypto::sodium ? " sodium" : " bearssl"));
            }
    const std::size_t M = cases.size();

    Recorder rec;
    OnePsk store;
    TlsWorld tls;

    struct PerMode {
        RecordingProvider pc, ps;
        std::unique_ptr<RecordingSigner> csig, ssig;
        PairConfig cfg;
        FixedCertCache<4> ccache, scache;
        Pair pair;
        std::vector<Call> calls;
        long counts[kOps] = {};
        std::vector<double> hs, floor;
        PerMode(Recorder& r, Crypto k) : pc(r, k), ps(r, k) {}
    };
    std::vector<std::unique_ptr<PerMode>> pm;
    for (std::size_t i = 0; i < M; ++i) {
        const ModeCase& m = cases[i];
        auto p = std::make_unique<PerMode>(rec, m.crypto);
        crypto::Signer *cs = nullptr, *ss = nullptr;
        if (mode_uses_cert(m.mode)) {
            const Creds& cr = creds(m.alg, m.crypto);
            p->csig = std::make_unique<RecordingSigner>(rec, *cr.client_key);
            p->ssig = std::make_unique<RecordingSigner>(rec, *cr.server_key);
            cs = p->csig.get();
            ss = p->ssig.get();
        }
        p->cfg = pair_config(m, p->pc, p->ps, cs, ss, store, default_suite(m.crypto));
        if (i == cached_case) {
            p->cfg.c.cert_cache = &p->ccache;
            p->cfg.s.cert_cache = &p->scache;
            p->pair.make(p->cfg.c, p->cfg.s);  // first contact fills the caches
            if (!p->pair.handshake()) die("lockstep handshake failed");
        }
        // Record the primitive calls of one handshake (both roles).
        rec.reset();
        rec.recording = true;
        p->pair.make(p->cfg.c, p->cfg.s);
        if (!p->pair.handshake()) die("lockstep handshake failed");
        rec.recording = false;
        p->calls = rec.calls;
        std::copy(std::begin(rec.counts), std::end(rec.counts), std::begin(p->counts));
        Buf scratch;
        if (!replay(p->pc.real(), p->calls, scratch)) die("replay of recorded primitives failed");
        pm.push_back(std::move(p));
    }
    {
        TlsPair t(tls);
        if (!t.handshake()) die("TLS 1.3 handshake failed");
    }

    std::vector<double> tls_rates;
    for (int r = 0; r < a.runs; ++r) {
        tls_rates.push_back(rate(secs, [&] {
            TlsPair t(tls);
            if (!t.handshake()) die("TLS 1.3 handshake failed");
        }));
        for (std::size_t i = 0; i < M; ++i) {
            PerMode& p = *pm[i];
            p.hs.push_back(rate(secs, [&] {
                p.pair.make(p.cfg.c, p.cfg.s);
                if (!p.pair.handshake()) die("lockstep handshake failed");
            }));
            Buf scratch;
            const auto fp = make_provider(cases[i].crypto);
            p.floor.push_back(rate(secs, [&] { (void)replay(*fp, p.calls, scratch); }));
        }
    }

    std::printf("\nbench_handshake: full handshakes/s, one core, client+server in one process over memory\n");
    note_noise(a);
    Stat ts = stat_of(tls_rates);
    std::printf("baseline: OpenSSL %s TLS 1.3, mutual auth, Ed25519 certs, X25519, TLS_AES_256_GCM_SHA384, "
                "no tickets: %.0f hs/s [%.0f..%.0f]\n\n",
                OpenSSL_version(OPENSSL_VERSION_STRING), ts.median, ts.min, ts.max);
    std::printf("%-25s %10s %17s %12s %9s %11s\n", "mode (provider)", "hs/s", "[min..max]", "floor hs/s", "vs TLS",
                "of floor");
    rule(91);
    for (std::size_t i = 0; i < M; ++i) {
        PerMode& p = *pm[i];
        Stat hs = stat_of(p.hs), fl = stat_of(p.floor);
        double r_tls = hs.median / ts.median, r_floor = hs.median / fl.median;
        std::printf("%-25s %10.0f  [%6.0f..%6.0f] %12.0f %8.2fx %10.0f%%\n", names[i].c_str(), hs.median, hs.min,
                    hs.max, fl.median, r_tls, 100 * r_floor);
        std::string n = std::string("handshake/") + names[i];
        json_metric(a, n + "/vs_tls13", hs.median, ts.median, "openssl-tls13-mutual-ed25519-x25519", r_tls, "handshakes/s", hs);
        json_metric(a, n + "/vs_floor", hs.median, fl.median, "crypto-floor-replay", r_floor, "handshakes/s", hs);
    }
    std::printf("\n'vs TLS' = lockstep hs/s / TLS hs/s (higher is better); 'of floor' = lockstep hs/s / floor hs/s\n"
                "(100%% = the engine adds nothing beyond its primitive calls).\n");
    std::printf("\ntargets: time per handshake <= 1.15x the floor (of floor >= 87%%), rate >= 2.5x TLS 1.3\n");
    for (std::size_t i = 0; i < M; ++i) {
        Stat hs = stat_of(pm[i]->hs), fl = stat_of(pm[i]->floor);
        const double x_floor = fl.median / hs.median, r_tls = hs.median / ts.median;
        std::printf("  %-25s %5.2fx floor -> %-6s  %5.2fx TLS -> %s\n", names[i].c_str(), x_floor,
                    x_floor <= 1.15 ? "MET" : "MISSED", r_tls, r_tls >= 2.5 ? "MET" : "MISSED");
    }

    std::printf("\nprimitive calls per handshake (client + server), counted by a recording Provider/Signer:\n");
    std::printf("%-25s", "mode (provider)");
    for (int o = 0; o < kOps; ++o) std::printf(" %8.8s", op_name(static_cast<Op>(o)));
    std::printf("\n");
    rule(25 + 9 * kOps);
    for (std::size_t i = 0; i < M; ++i) {
        std::printf("%-25s", names[i].c_str());
        for (int o = 0; o < kOps; ++o) std::printf(" %8ld", pm[i]->counts[o]);
        std::printf("\n");
    }
    std::printf("(x25519_keygen = ephemeral keygen; verify includes certificate-chain checks; '+cache': both\n"
                " sides met the peer's certificate before, so only the transcript signatures are verified)\n");
    return 0;
}
