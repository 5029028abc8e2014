// SPDX-License-Identifier: Apache-2.0
// Replays every committed seed corpus (tests/fuzz/corpus/<target>/) through its
// fuzz target's entry point, with any compiler: `make test` and the sanitizer
// build run them even where libFuzzer (clang) is not used. A violated
// invariant aborts the test binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <vector>

#include "fuzz_targets.hpp"

namespace {

struct Target {
    const char* name;
    int (*run)(const std::uint8_t*, std::size_t);
};
#define LOCKSTEP_FUZZ_ROW(name) Target{#name, &lockstep_fuzz_##name},
const Target kTargets[] = {LOCKSTEP_FUZZ_TARGETS(LOCKSTEP_FUZZ_ROW)};
#undef LOCKSTEP_FUZZ_ROW

void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

class Corpus : public ::testing::TestWithParam<Target> {};

TEST_P(Corpus, EverySeedRunsCleanly) {
    const std::filesystem::path dir = std::filesystem::path(LOCKSTEP_SOURCE_DIR) / "tests/fuzz/corpus" / GetParam().name;
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
    int n = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(f.path(), std::ios::binary);
        const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        SCOPED_TRACE(f.path().string());
        EXPECT_EQ(GetParam().run(bytes.data(), bytes.size()), 0);
        ++n;
    }
    EXPECT_GT(n, 0) << "empty corpus " << dir;
    // Truncated and empty inputs too.
    EXPECT_EQ(GetParam().run(nullptr, 0), 0);
}

INSTANTIATE_TEST_SUITE_P(Fuzz, Corpus, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& p) { return std::string(p.param.name); });

}  // namespace
