// SPDX-License-Identifier: Apache-2.0
// bench_registry — the device registry at fleet size: psk handshakes/s with the
// server's PSK store a registry cache over N devices (SQLite) against the one-file
// store (the anchor, same run), registry lookups p50/p99 (cache miss = one query,
// cache hit), and the process's resident memory before and after the cache holds N.
// Default N = 100,000 (--quick: 20,000; --n N).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common.hpp"
#include "registry/cache.hpp"

using namespace bench;

namespace {

long rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string k;
    long v = 0;
    while (f >> k) {
        if (k == "VmRSS:") {
            f >> v;
            return v;
        }
        f.ignore(1 << 10, '\n');
    }
    return 0;
}

std::string dev(long i) { return "dev-" + std::to_string(i); }

double handshakes_per_s(const PskStore& store, int n, const Buf& id) {
    crypto::openssl::OpenSslProvider pc, ps;
    OnePsk one;  // the client's key (the registry holds the same bytes for `id`)
    const ModeCase m{"psk", Mode::psk, crypto::SigAlg::ed25519};
    auto cfg = pair_config(m, pc, ps, nullptr, nullptr, one);
    cfg.c.psk_id = id;
    cfg.s.psk_store = &store;
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        Pair p;
        p.make(cfg.c, cfg.s);
        if (!p.handshake()) die("handshake failed");
    }
    return n / seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = parse_args(argc, argv, "", 3);
    const long n = a.n > 0 ? a.n : (a.quick ? 20'000 : 100'000);
    const int hs = a.quick ? 300 : 2000;
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("lockstep-bench-registry-" + std::to_string(::getpid()) + ".db")).string();
    const long rss0 = rss_kib();
    {
        auto reg = registry::Registry::open("sqlite:" + path);
        reg->begin();
        for (long i = 0; i < n; ++i) {
            registry::Device d;
            d.id = dev(i);
            d.psk_format = registry::PskFormat::raw;
            d.psk.assign(32, 0x5a);
            reg->add(d);
        }
        reg->commit();
    }
    registry::RegistryCache cache(registry::Registry::open("sqlite:" + path), {}, registry::CacheOptions{});
    cache.start();  // the poller, as serve runs it (without it answers go stale after 5 s and every lookup is a query)
    std::vector<double> miss, hit;
    for (long i = 0; i < n; ++i) {
        const std::string id = dev(i);
        const auto t0 = Clock::now();
        if (cache.find({reinterpret_cast<const std::uint8_t*>(id.data()), id.size()}).empty()) die("lookup failed");
        miss.push_back(seconds_since(t0) * 1e6);
    }
    const long rss_full = rss_kib();
    for (long i = 0; i < n; ++i) {
        const std::string id = dev((i * 7919) % n);
        const auto t0 = Clock::now();
        if (cache.find({reinterpret_cast<const std::uint8_t*>(id.data()), id.size()}).empty()) die("lookup failed");
        hit.push_back(seconds_since(t0) * 1e6);
    }
    const std::string last = dev(n - 1);
    const Buf id(last.begin(), last.end());
    std::vector<double> one_rate, reg_rate;
    OnePsk one;
    for (int r = 0; r < a.runs; ++r) {
        one_rate.push_back(handshakes_per_s(one, hs, id));
        reg_rate.push_back(handshakes_per_s(cache, hs, id));
    }
    const Stat so = stat_of(one_rate), sr = stat_of(reg_rate);
    const double ratio = sr.median / so.median;
    std::printf("bench_registry: %ld devices (SQLite), %d psk handshakes x %d runs\n", n, hs, a.runs);
    rule(72);
    std::printf("%-40s %12.0f /s\n", "handshakes, one-file PSK store (anchor)", so.median);
    std::printf("%-40s %12.0f /s  ratio %.3f (%s: within 10 %%)\n", "handshakes, registry cache", sr.median, ratio,
                ratio >= 0.9 ? "MET" : "MISSED");
    std::printf("%-40s p50 %8.2f us  p99 %8.2f us\n", "lookup, cache miss (one query)", percentile(miss, 50),
                percentile(miss, 99));
    std::printf("%-40s p50 %8.2f us  p99 %8.2f us\n", "lookup, cache hit", percentile(hit, 50), percentile(hit, 99));
    std::printf("%-40s %12ld KiB (before the registry: %ld KiB)\n", "resident memory, cache full", rss_full, rss0);
    rule(72);
    note_noise(a);
    json_metric(a, "registry/handshakes_per_s", sr.median, so.median, "one-file PSK store", ratio, "1/s", sr);
    json_metric(a, "registry/lookup_miss_p99_us", percentile(miss, 99), kNaN, "", kNaN, "us", stat_of(miss));
    json_metric(a, "registry/lookup_hit_p99_us", percentile(hit, 99), kNaN, "", kNaN, "us", stat_of(hit));
    json_metric(a, "registry/rss_kib", static_cast<double>(rss_full), static_cast<double>(rss0), "before", kNaN,
                "KiB", Stat{});
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
    return 0;
}
