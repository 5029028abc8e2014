// SPDX-License-Identifier: Apache-2.0
// bench_record — record protection throughput per suite and payload size:
// record::seal_record + wire::decode_record + record::open_record (lockstep) vs
// the raw provider calls on the same buffers (aead_seal + aead_open, plus two
// HMAC-SHA-512 for the encrypt-then-MAC suite). MB/s of payload, one core.
// A message carries at most 16 KiB, so "1 MiB" is 64 records of 16 KiB.
#include "common.hpp"
#include "record/record.hpp"

using namespace bench;

int main(int argc, char** argv) {
    Args a = parse_args(argc, argv);
    const double secs = a.quick ? 0.1 : 0.4;
    crypto::openssl::OpenSslProvider p;
    const Suite suites[] = {Suite::aes256gcm, Suite::chacha20poly1305, Suite::aes256gcm_hmac_sha512};
    struct Size {
        const char* name;
        std::size_t len, records;
    };
    const Size sizes[] = {{"64 B", 64, 1}, {"1 KiB", 1024, 1}, {"16 KiB", 16384, 1}, {"1 MiB", 16384, 64}};

    std::printf("\nbench_record: record protection, seal+open round trip, MB/s of payload (1 MB = 1e6 B), one core\n");
    note_noise(a);
    std::printf("%-24s %-7s %10s %19s %10s %8s\n", "suite", "size", "lockstep", "[min..max]", "raw", "ratio");
    rule(84);
    for (Suite su : suites) {
        Buf secret(32);
        for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(i * 7 + 1);
        record::DirectionKeys tx, rx;
        if (!record::derive(p, su, 1, secret, tx) || !record::derive(p, su, 1, secret, rx)) die("derive");
        const crypto::Aead aead = record::suite_aead(su);
        const bool etm = record::suite_etm(su);
        for (const Size& sz : sizes) {
            Buf pt(sz.len, 0x42), out(sz.len + 256), back(sz.len + 256), ct(sz.len + 128);
            std::uint8_t nonce[12] = {}, aad[6] = {0x17, 1, 0, 0, 0, 0}, mac[64];
            auto lockstep_once = [&] {
                for (std::size_t r = 0; r < sz.records; ++r) {
                    auto n = record::seal_record(p, tx, pt, out);
                    if (!n) die("seal_record");
                    auto v = wire::decode_record({out.data(), *n}, 0);
                    if (!v) die("decode_record");
                    auto o = record::open_record(p, rx, *v, back);
                    if (!o || o->size() != sz.len) die("open_record");
                }
            };
            auto raw_once = [&] {
                for (std::size_t r = 0; r < sz.records; ++r) {
                    nonce[11] = static_cast<std::uint8_t>(nonce[11] + 1);
                    crypto::Bytes c{ct.data(), sz.len + crypto::kAeadTagLen};
                    if (!p.aead_seal(aead, tx.key.span(), nonce, aad, pt, c)) die("aead_seal");
                    if (etm && !p.hmac(crypto::Hash::sha512, tx.etm.span(), aad, c, mac)) die("hmac");
                    if (etm && !p.hmac(crypto::Hash::sha512, tx.etm.span(), aad, c, mac)) die("hmac");
                    if (!p.aead_open(aead, tx.key.span(), nonce, aad, c, {back.data(), sz.len})) die("aead_open");
                }
            };
            auto mbps = [&](auto&& fn) {
                long n = 0;
                auto t0 = Clock::now();
                double el = 0;
                do {
                    for (int i = 0; i < 4; ++i) fn();
                    n += 4;
                    el = seconds_since(t0);
                } while (el < secs);
                return static_cast<double>(n) * static_cast<double>(sz.len * sz.records) / el / 1e6;
            };
            std::vector<double> ls, raw;
            for (int r = 0; r < a.runs; ++r) {
                // fresh keys per run keep record numbers far from the limits
                (void)record::derive(p, su, 1, secret, tx);
                (void)record::derive(p, su, 1, secret, rx);
                ls.push_back(mbps(lockstep_once));
                raw.push_back(mbps(raw_once));
            }
            Stat l = stat_of(ls), w = stat_of(raw);
            double ratio = l.median / w.median;
            std::printf("%-24s %-7s %10.1f  [%7.1f..%7.1f] %10.1f %7.0f%%\n", suite_name(su), sz.name, l.median, l.min,
                        l.max, w.median, 100 * ratio);
            std::string sn = sz.name;
            sn.erase(std::remove(sn.begin(), sn.end(), ' '), sn.end());
            json_metric(a, std::string("record/") + suite_name(su) + "/" + sn, l.median, w.median,
                        "raw-provider-aead(+hmac)", ratio, "MB/s", l);
        }
    }
    std::printf("\nratio = lockstep / raw provider calls (100%% = no overhead beyond the primitives).\n");
    return 0;
}
