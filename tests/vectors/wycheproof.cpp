// SPDX-License-Identifier: Apache-2.0
#include "wycheproof.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace lockstep::test::wycheproof {

namespace {
int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

void PrintTo(Outcome o, std::ostream* os) {
    *os << (o == Outcome::accepted ? "accepted" : o == Outcome::rejected ? "rejected" : "unsupported");
}

ByteVec hex(std::string_view s) {
    if (s.size() % 2 != 0) {
        ADD_FAILURE() << "odd-length hex string (" << s.size() << " chars)";
        return {};
    }
    ByteVec out(s.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = nibble(s[2 * i]);
        const int lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            ADD_FAILURE() << "bad hex digit at offset " << 2 * i;
            return {};
        }
        out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
    }
    return out;
}

ByteVec hex_field(const Json& obj, const char* key) { return hex(obj.at(key).get<std::string>()); }

::testing::AssertionResult load(const std::string& file, Json& out) {
    const std::string path = std::string(LOCKSTEP_WYCHEPROOF_DIR) + "/" + file;
    std::ifstream in(path, std::ios::binary);
    if (!in) return ::testing::AssertionFailure() << "cannot open Wycheproof file " << path;
    std::stringstream buf;
    buf << in.rdbuf();
    if (in.bad()) return ::testing::AssertionFailure() << "cannot read Wycheproof file " << path;
    out = Json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
    if (out.is_discarded()) return ::testing::AssertionFailure() << "malformed JSON in " << path;
    if (!out.is_object() || !out.contains("testGroups") || !out["testGroups"].is_array() ||
        !out.contains("numberOfTests")) {
        return ::testing::AssertionFailure() << "not a Wycheproof vector file: " << path;
    }
    return ::testing::AssertionSuccess();
}

Counts run(const std::string& file, const Json& doc, const CaseFn& fn) {
    Counts c;
    std::set<long long> ids;
    for (const Json& group : doc.at("testGroups")) {
        for (const Json& test : group.at("tests")) {
            const long long id = test.at("tcId").get<long long>();
            SCOPED_TRACE(file + " tcId " + std::to_string(id) + " (" + test.value("comment", "") + ")");
            EXPECT_TRUE(ids.insert(id).second) << "duplicate tcId";
            const std::string result = test.at("result").get<std::string>();
            Expect expect;
            if (result == "valid") {
                expect = Expect::valid;
                ++c.valid;
            } else if (result == "invalid") {
                expect = Expect::invalid;
                ++c.invalid;
            } else if (result == "acceptable") {
                expect = Expect::acceptable;
                ++c.acceptable;
            } else {
                ADD_FAILURE() << "unknown result \"" << result << "\"";
                continue;
            }
            const Outcome got = fn(group, test, expect);
            if (got == Outcome::unsupported) {
                ++c.unsupported;
                continue;
            }
            switch (expect) {
                case Expect::valid: EXPECT_EQ(got, Outcome::accepted) << "valid case rejected"; break;
                case Expect::invalid: EXPECT_EQ(got, Outcome::rejected) << "invalid case accepted"; break;
                case Expect::acceptable:
                    ++(got == Outcome::accepted ? c.acceptable_accepted : c.acceptable_rejected);
                    break;
            }
        }
    }
    return c;
}

void check_and_report(const std::string& file, const Json& doc, const Counts& c, std::size_t expected_total,
                      const std::string& extra) {
    EXPECT_EQ(c.total(), doc.at("numberOfTests").get<std::size_t>()) << file << ": cases run != numberOfTests";
    EXPECT_EQ(c.total(), expected_total) << file << ": cases run != the README's count";
    std::printf("[wycheproof] %s: %zu cases: valid %zu, invalid %zu, acceptable %zu (accepted %zu, rejected %zu)",
                file.c_str(), c.total(), c.valid, c.invalid, c.acceptable, c.acceptable_accepted,
                c.acceptable_rejected);
    if (c.unsupported != 0) std::printf(", unsupported %zu", c.unsupported);
    if (!extra.empty()) std::printf("; %s", extra.c_str());
    std::printf("\n");
    std::fflush(stdout);
}

ByteVec strip_leading_zeros(const ByteVec& v) {
    std::size_t i = 0;
    while (i < v.size() && v[i] == 0) ++i;
    return ByteVec(v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
}

std::optional<RsaPublic> rsa_public_from_der(const ByteVec& der) {
    const unsigned char* p = der.data();
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())), &EVP_PKEY_free);
    if (!key || (EVP_PKEY_is_a(key.get(), "RSA") != 1 && EVP_PKEY_is_a(key.get(), "RSA-PSS") != 1)) {
        return std::nullopt;
    }
    BIGNUM* raw_n = nullptr;
    BIGNUM* raw_e = nullptr;
    const bool ok = EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &raw_n) == 1 &&
                    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &raw_e) == 1;
    std::unique_ptr<BIGNUM, decltype(&BN_free)> n(raw_n, &BN_free);
    std::unique_ptr<BIGNUM, decltype(&BN_free)> e(raw_e, &BN_free);
    if (!ok) return std::nullopt;
    RsaPublic out;
    out.n.resize(static_cast<std::size_t>(BN_num_bytes(n.get())));
    out.e.resize(static_cast<std::size_t>(BN_num_bytes(e.get())));
    BN_bn2bin(n.get(), out.n.data());
    BN_bn2bin(e.get(), out.e.data());
    return out;
}

}  // namespace lockstep::test::wycheproof
