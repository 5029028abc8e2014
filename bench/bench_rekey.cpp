// SPDX-License-Identifier: Apache-2.0
// bench_rekey — the cost of one re-key handshake (µs) per mode vs its crypto floor.
//
// Method: two engine pairs per mode, identical except RekeyPolicy::after_responses
// (1: the server re-keys after every acknowledged DATA RESPONSE; 0: never).
// One re-key = time(request/response + re-key) - time(request/response). The
// floor is measured the same way: the primitive calls of one exchange with and
// without re-key are recorded and replayed directly on the OpenSSL provider.
#include "common.hpp"

using namespace bench;

namespace {
struct Side {
    RecordingProvider pc, ps;
    std::unique_ptr<RecordingSigner> csig, ssig;
    PairConfig cfg;
    Pair pair;
    std::vector<Call> calls;
    long counts[kOps] = {};
    explicit Side(Recorder& r) : pc(r), ps(r) {}
};

// µs per call of fn, running for at least secs.
template <class F>
double us_per(double secs, F&& fn) {
    long n = 0;
    auto t0 = Clock::now();
    double el = 0;
    do {
        for (int i = 0; i < 8; ++i) fn();
        n += 8;
        el = seconds_since(t0);
    } while (el < secs);
    return el * 1e6 / static_cast<double>(n);
}
}  // namespace

int main(int argc, char** argv) {
    Args a = parse_args(argc, argv);
    const double secs = a.quick ? 0.15 : 0.5;
    Recorder rec;
    OnePsk store;
    const auto& cases = mode_cases();

    struct PerMode {
        std::unique_ptr<Side> rk, plain;  // after_responses = 1 / 0
        std::vector<double> cost, floor;
    };
    std::vector<PerMode> pm;
    for (const ModeCase& m : cases) {
        PerMode p;
        for (int which = 0; which < 2; ++which) {
            auto s = std::make_unique<Side>(rec);
            crypto::Signer *cs = nullptr, *ss = nullptr;
            if (mode_uses_cert(m.mode)) {
                const Creds& cr = creds(m.alg);
                s->csig = std::make_unique<RecordingSigner>(rec, *cr.client_key);
                s->ssig = std::make_unique<RecordingSigner>(rec, *cr.server_key);
                cs = s->csig.get();
                ss = s->ssig.get();
            }
            s->cfg = pair_config(m, s->pc, s->ps, cs, ss, store);
            s->cfg.c.rekey.after_responses = s->cfg.s.rekey.after_responses = which == 0 ? 1 : 0;
            s->pair.make(s->cfg.c, s->cfg.s);
            if (!s->pair.handshake()) die("handshake failed");
            if (!s->pair.exchange()) die("warm-up exchange failed");
            int rk_before = s->pair.rekeys_c;
            rec.reset();
            rec.recording = true;
            if (!s->pair.exchange()) die("exchange failed");
            rec.recording = false;
            if (which == 0 && s->pair.rekeys_c != rk_before + 1) die("expected one re-key per exchange");
            if (which == 1 && s->pair.rekeys_c != rk_before) die("unexpected re-key");
            s->calls = rec.calls;
            std::copy(std::begin(rec.counts), std::end(rec.counts), std::begin(s->counts));
            (which == 0 ? p.rk : p.plain) = std::move(s);
        }
        pm.push_back(std::move(p));
    }

    crypto::openssl::OpenSslProvider fp;
    Buf scratch;
    for (int r = 0; r < a.runs; ++r) {
        for (auto& p : pm) {
            // Epochs are bounded (u8 on the wire, plus record-number limits): rebuild
            // the pair every 200 re-keys, outside the timed region.
            auto timed = [&](Side& s) {
                s.pair.make(s.cfg.c, s.cfg.s);
                if (!s.pair.handshake()) die("handshake failed");
                long n = 0;
                double total = 0;
                auto t_end = Clock::now() + std::chrono::duration<double>(secs);
                while (Clock::now() < t_end) {
                    if (s.pair.c->epoch() > 200) {
                        s.pair.make(s.cfg.c, s.cfg.s);
                        if (!s.pair.handshake()) die("handshake failed");
                    }
                    auto t0 = Clock::now();
                    for (int i = 0; i < 8; ++i)
                        if (!s.pair.exchange()) die("exchange failed");
                    total += seconds_since(t0);
                    n += 8;
                }
                return total * 1e6 / static_cast<double>(n);
            };
            double with = timed(*p.rk), without = timed(*p.plain);
            p.cost.push_back(with - without);
            double fw = us_per(secs, [&] { (void)replay(fp, p.rk->calls, scratch); });
            double fo = us_per(secs, [&] { (void)replay(fp, p.plain->calls, scratch); });
            p.floor.push_back(fw - fo);
        }
    }

    std::printf("\nbench_rekey: cost of one re-key handshake (µs, lower is better), one core, over memory\n");
    note_noise(a);
    std::printf("%-18s %10s %19s %11s %9s\n", "mode", "rekey µs", "[min..max]", "floor µs", "x floor");
    rule(72);
    for (std::size_t i = 0; i < pm.size(); ++i) {
        Stat c = stat_of(pm[i].cost), f = stat_of(pm[i].floor);
        double ratio = c.median / f.median;
        std::printf("%-18s %10.1f  [%7.1f..%7.1f] %11.1f %8.2fx\n", cases[i].name, c.median, c.min, c.max, f.median,
                    ratio);
        json_metric(a, std::string("rekey/") + cases[i].name + "/vs_floor", c.median, f.median, "crypto-floor-replay",
                    ratio, "us", c);
    }
    std::printf("\nprimitive calls in one re-key (exchange with re-key minus exchange without):\n%-18s", "mode");
    for (int o = 0; o < kOps; ++o) std::printf(" %8.8s", op_name(static_cast<Op>(o)));
    std::printf("\n");
    rule(18 + 9 * kOps);
    for (std::size_t i = 0; i < pm.size(); ++i) {
        std::printf("%-18s", cases[i].name);
        for (int o = 0; o < kOps; ++o) std::printf(" %8ld", pm[i].rk->counts[o] - pm[i].plain->counts[o]);
        std::printf("\n");
    }
    std::printf("(a re-key is cost = t(exchange+re-key) - t(exchange); medians of noisy differences can be off by a few µs)\n");
    return 0;
}
