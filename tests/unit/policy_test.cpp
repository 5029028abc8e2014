// SPDX-License-Identifier: Apache-2.0
// The policy table (src/session/policy.hpp) against PROTOCOL.md §8.5: every
// error the spec's rows name must do there what the row says.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "session/policy.hpp"

namespace lockstep::session {
namespace {

std::string section_8_5() {
    std::ifstream f(std::string(LOCKSTEP_SOURCE_DIR) + "/docs/PROTOCOL.md");
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string doc = ss.str();
    const auto a = doc.find("### 8.5 Policies");
    const auto b = doc.find("### 8.6", a);
    if (a == std::string::npos || b == std::string::npos) return {};
    return doc.substr(a, b - a);
}

// The table row of §8.5 whose first cell starts with `head`.
std::string row(const std::string& sec, const std::string& head) {
    const auto a = sec.find("\n| " + head);
    if (a == std::string::npos) return {};
    return sec.substr(a + 1, sec.find('\n', a + 1) - a - 1);
}

// The errors a row names in backticks (names that are not an Err, like `finished_s`, are skipped).
std::vector<Err> errors_named(const std::string& text) {
    std::vector<Err> out;
    const std::regex tick("`([a-z_]+)`");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), tick); it != std::sregex_iterator(); ++it) {
        std::string name = (*it)[1];
        if (name == "internal_error") name = "internal";  // the reason's name for Err::internal
        for (int i = 0; i < kErrCount; ++i)
            if (name == err_name(static_cast<Err>(i))) out.push_back(static_cast<Err>(i));
    }
    return out;
}

std::vector<Err> decode_errors() {
    std::vector<Err> out;
    for (int i = 1; i < kErrCount; ++i)
        if (err_category(static_cast<Err>(i)) == Category::decode) out.push_back(static_cast<Err>(i));
    return out;
}

class Policy85 : public ::testing::Test {
protected:
    void SetUp() override { sec_ = section_8_5(); ASSERT_FALSE(sec_.empty()) << "PROTOCOL.md has no §8.5"; }
    std::string cell(const std::string& head) {
        std::string r = row(sec_, head);
        EXPECT_FALSE(r.empty()) << "§8.5 has no row starting with '" << head << "'";
        return r;
    }
    std::string sec_;
};

TEST_F(Policy85, StrictClosesOnEveryFault) {
    for (int i = 1; i < kErrCount; ++i)
        for (Stage s : {Stage::unauthenticated, Stage::hello_frame, Stage::record})
            EXPECT_EQ(outcome(Policy::strict, s, static_cast<Err>(i)), Outcome::fatal) << err_name(static_cast<Err>(i));
}

TEST_F(Policy85, UnauthenticatedIsDroppedUnderTolerant) {
    const std::string r = cell("a message that does not authenticate");
    EXPECT_NE(r.find("dropped silently"), std::string::npos);
    for (int i = 1; i < kErrCount; ++i)
        EXPECT_EQ(outcome(Policy::tolerant, Stage::unauthenticated, static_cast<Err>(i)), Outcome::drop);
}

TEST_F(Policy85, DuplicateRecordIsDropped) {
    const auto errs = errors_named(cell("duplicate record"));
    ASSERT_EQ(errs.size(), 1u);
    EXPECT_EQ(errs[0], Err::replay);
    EXPECT_EQ(outcome(Policy::tolerant, Stage::record, Err::replay), Outcome::drop);
}

TEST_F(Policy85, RecordChecksAnswerWithResendLast) {
    const std::string r = cell("after the record opened");
    EXPECT_NE(r.find("RESEND LAST"), std::string::npos);
    auto errs = errors_named(r.substr(0, r.find(" | ")));
    ASSERT_GE(errs.size(), 3u);  // bad_sequence, expired, unexpected_message
    if (r.find("decode errors") != std::string::npos)
        for (Err e : decode_errors()) errs.push_back(e);
    for (Err e : errs)
        EXPECT_EQ(outcome(Policy::tolerant, Stage::record, e), Outcome::resend_last) << err_name(e);
    // and nothing else answers with RESEND LAST
    for (int i = 1; i < kErrCount; ++i) {
        const Err e = static_cast<Err>(i);
        if (std::find(errs.begin(), errs.end(), e) == errs.end()) {
            EXPECT_NE(outcome(Policy::tolerant, Stage::record, e), Outcome::resend_last) << err_name(e);
        }
    }
}

TEST_F(Policy85, HelloFramesThatFailTheirOwnChecksAreDropped) {
    const std::string r = cell("HELLO frame");
    auto errs = errors_named(r.substr(0, r.find("HELLO ACK frame")));
    ASSERT_GE(errs.size(), 3u);  // expired, bad_mac, unknown_psk
    if (r.find("decode error") != std::string::npos)
        for (Err e : decode_errors()) errs.push_back(e);
    for (Err e : errs) EXPECT_EQ(outcome(Policy::tolerant, Stage::hello_frame, e), Outcome::drop) << err_name(e);
    // A HELLO ACK failing any check before finished_s: every other error of the peer's is dropped for an unproved client.
    for (int i = 1; i < kErrCount; ++i) {
        const Err e = static_cast<Err>(i);
        const Outcome o = outcome(Policy::tolerant, Stage::hello_frame, e);
        if (err_category(e) == Category::peer || e == Err::bad_mac || e == Err::bad_signature) {
            EXPECT_NE(o, Outcome::fatal) << err_name(e) << ": a forged HELLO ACK would end the handshake";
        }
    }
}

TEST_F(Policy85, TheRestIsFatal) {
    const std::string r = cell("any other error");
    const auto errs = errors_named(r);
    ASSERT_GE(errs.size(), 5u);
    for (Err e : errs) {
        if (e == Err::unknown_psk) continue;  // "only under strict" for HELLO frames; fatal in records
        // A decode error (`too_long`) named there is one of a handler's body: handler faults are
        // fatal without the table; the engine's own decode of a record's plaintext is the row above.
        if (err_category(e) == Category::decode) continue;
        EXPECT_EQ(outcome(Policy::tolerant, Stage::record, e), Outcome::fatal) << err_name(e);
    }
    // Said by the authenticated peer (after finished_s): never dropped outright.
    for (Err e : {Err::downgrade, Err::no_common_parameters})
        EXPECT_NE(outcome(Policy::tolerant, Stage::hello_frame, e), Outcome::drop) << err_name(e);
    // Failures of our own side are fatal everywhere but before authentication.
    for (Err e : {Err::crypto_failure, Err::rng_failure, Err::invalid_argument, Err::buffer_too_small, Err::internal})
        for (Stage s : {Stage::hello_frame, Stage::record})
            EXPECT_EQ(outcome(Policy::tolerant, s, e), Outcome::fatal) << err_name(e);
}

}  // namespace
}  // namespace lockstep::session
