// SPDX-License-Identifier: Apache-2.0
// Time types (include/lockstep/types.hpp): whole_seconds must agree with
// std::chrono::duration_cast everywhere, including negative and extreme values.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "lockstep/types.hpp"

namespace lockstep {
namespace {

using std::chrono::milliseconds;

std::int64_t reference(std::int64_t ms) {
    return std::chrono::duration_cast<std::chrono::seconds>(milliseconds(ms)).count();
}

static_assert(whole_seconds(milliseconds(1999)) == 1);
static_assert(whole_seconds(milliseconds(-1999)) == -1);
static_assert(UnixTime{milliseconds(1'800'000'000'123)}.seconds() == 1'800'000'000);

TEST(Types, WholeSecondsTruncatesLikeDurationCast) {
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    const std::int64_t edges[] = {0, 1, 999, 1000, 1001, 65'535'999, 65'536'000, 4'294'967'295, 4'294'967'296'000,
                                  1'800'000'000'000, kMax, kMax - 999, kMin, kMin + 1, kMin + 1000};
    for (std::int64_t v : edges) {
        EXPECT_EQ(whole_seconds(milliseconds(v)), reference(v)) << v;
        if (v != kMin) {
            EXPECT_EQ(whole_seconds(milliseconds(-v)), reference(-v)) << -v;
        }
    }
    // Every 16-bit digit boundary and a pseudo-random sweep of the whole range.
    for (int shift = 0; shift < 63; ++shift)
        for (std::int64_t d : {-1, 0, 1}) {
            const std::int64_t v = (std::int64_t{1} << shift) + d;
            EXPECT_EQ(whole_seconds(milliseconds(v)), reference(v)) << v;
            EXPECT_EQ(whole_seconds(milliseconds(-v)), reference(-v)) << -v;
        }
    std::uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 100'000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const auto v = static_cast<std::int64_t>(x);
        ASSERT_EQ(whole_seconds(milliseconds(v)), reference(v)) << v;
    }
}

// A deadline of now + milliseconds::max() saturates instead of wrapping (spec §8.3).
TEST(Types, InstantPlusSaturates) {
    using std::chrono::milliseconds;
    const Instant t{milliseconds(5'000)};
    EXPECT_EQ(t + milliseconds(7), Instant{milliseconds(5'007)});
    EXPECT_EQ(t + milliseconds::max(), Instant{milliseconds::max()});
    EXPECT_GT(t + milliseconds::max(), t);
    EXPECT_EQ(Instant{milliseconds(-5)} + milliseconds::min(), Instant{milliseconds::min()});
}

}  // namespace
}  // namespace lockstep
