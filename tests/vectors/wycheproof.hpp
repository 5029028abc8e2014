// SPDX-License-Identifier: Apache-2.0
// lockstep tests — the one loader for Project Wycheproof JSON vector files.
//
// Files are read from LOCKSTEP_WYCHEPROOF_DIR, tests/vectors/wycheproof (upstream,
// commit and license: the README.md there). A missing, unreadable or malformed
// file fails the test; nothing is ever skipped.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace lockstep::test::wycheproof {

using Json = nlohmann::json;
using ByteVec = std::vector<std::uint8_t>;

// Lowercase or uppercase hex to bytes; "" is empty. Malformed input records a
// test failure and returns an empty vector.
ByteVec hex(std::string_view s);
// The hex string stored under `key` in a test or group object.
ByteVec hex_field(const Json& obj, const char* key);

// Reads and parses LOCKSTEP_WYCHEPROOF_DIR/<file>. Use as ASSERT_TRUE(load(...)).
::testing::AssertionResult load(const std::string& file, Json& out);

enum class Expect { valid, invalid, acceptable };

// What the implementation did with one case.
//  accepted     it took the input (for a valid case: and produced the expected output)
//  rejected     it refused the input
//  unsupported  it refused a parameter it documents as unsupported (counted apart;
//               each test states exactly how many it expects)
enum class Outcome { accepted, rejected, unsupported };
// So that gtest failure messages name the outcome.
void PrintTo(Outcome o, std::ostream* os);

struct Counts {
    std::size_t valid = 0;
    std::size_t invalid = 0;
    std::size_t acceptable = 0;
    std::size_t acceptable_accepted = 0;
    std::size_t acceptable_rejected = 0;
    std::size_t unsupported = 0;
    std::size_t total() const { return valid + invalid + acceptable; }
};

using CaseFn = std::function<Outcome(const Json& group, const Json& test, Expect expect)>;

// Runs `fn` on every test of every group. Enforces: a valid case must be
// accepted, an invalid one rejected; acceptable ones are counted either way.
// tcIds must be unique and every `result` known. Each case runs under a
// SCOPED_TRACE naming the file and tcId.
Counts run(const std::string& file, const Json& doc, const CaseFn& fn);

// Asserts the case count equals both the file's numberOfTests and `expected_total`
// (the README's figure, so a truncated file that rewrote its header still fails),
// then prints one summary line.
void check_and_report(const std::string& file, const Json& doc, const Counts& c, std::size_t expected_total,
                      const std::string& extra = {});

// An RSA public key as big-endian n and e (no leading zero bytes).
struct RsaPublic {
    ByteVec n;
    ByteVec e;
};
// From a DER SubjectPublicKeyInfo (plain RSA or RSASSA-PSS with parameters),
// decoded with OpenSSL d2i_PUBKEY. nullopt if it is not an RSA key.
std::optional<RsaPublic> rsa_public_from_der(const ByteVec& der);

ByteVec strip_leading_zeros(const ByteVec& v);

}  // namespace lockstep::test::wycheproof
