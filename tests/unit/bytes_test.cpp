// SPDX-License-Identifier: Apache-2.0
// Unit tests for common/bytes: Reader, Writer, big-endian helpers, ct_equal, Secret.
#include "common/bytes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace lockstep {
namespace {

using u8v = std::vector<std::uint8_t>;

bool all_zero(const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (p[i] != 0) return false;
    return true;
}

// ---- secure_wipe: every byte of the range, nothing outside it
TEST(SecureWipe, ZeroesExactlyTheRange) {
    for (std::size_t off : {0u, 1u, 3u})
        for (std::size_t n : {0u, 1u, 7u, 64u, 1000u, 100'000u}) {
            u8v v(n + 8, 0xa5);
            secure_wipe(v.data() + off, n);
            EXPECT_TRUE(all_zero(v.data() + off, n)) << off << " " << n;
            for (std::size_t i = 0; i < off; ++i) EXPECT_EQ(v[i], 0xa5);
            for (std::size_t i = off + n; i < v.size(); ++i) EXPECT_EQ(v[i], 0xa5);
        }
}

// ---- Reader: reads in range

TEST(Reader, ReadsBigEndianIntegersInOrder) {
    const u8v in = {0xab, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x11, 0x12, 0x13, 0x14,
                    0x15, 0x16, 0x17, 0x18, 0xfe};
    Reader r(in);
    EXPECT_EQ(r.u8(), 0xab);
    EXPECT_EQ(r.u16(), 0x0102);
    EXPECT_EQ(r.u32(), 0x03040506u);
    EXPECT_EQ(r.u64(), 0x1112131415161718ull);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.position(), 15u);
    EXPECT_EQ(r.remaining(), 1u);
    EXPECT_EQ(r.u8(), 0xfe);
    EXPECT_TRUE(r.empty());
    EXPECT_TRUE(r.finish());
    EXPECT_EQ(r.consumed().size(), in.size());
    EXPECT_TRUE(r.rest().empty());
}

TEST(Reader, FinishWithBytesLeftIsTrailingBytes) {
    const u8v in = {1, 2};
    Reader r(in);
    EXPECT_EQ(r.u8(), 1);
    auto st = r.finish();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error(), Err::trailing_bytes);
    EXPECT_EQ(r.error(), Err::trailing_bytes);  // recorded like any failure
}

TEST(Reader, TakeAndVecReturnViewsIntoInput) {
    const u8v in = {0x02, 0xaa, 0xbb, 0x00, 0x03, 0x01, 0x02, 0x03, 0x77};
    Reader r(in);
    auto v8 = r.vec8(2);
    ASSERT_EQ(v8.size(), 2u);
    EXPECT_EQ(v8.data(), in.data() + 1);  // a view, not a copy
    auto v16 = r.vec16(3);
    ASSERT_EQ(v16.size(), 3u);
    EXPECT_EQ(v16.data(), in.data() + 5);
    EXPECT_EQ(v16[2], 0x03);
    auto t = r.take(1);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t.data(), in.data() + 8);
    EXPECT_TRUE(r.finish());
}

TEST(Reader, TakeZeroOnEmptyInputSucceeds) {
    Reader r(ConstBytes{});
    EXPECT_TRUE(r.take(0).empty());
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.finish());
}

// ---- Reader: the sticky error

TEST(ReaderSticky, FirstFailureIsKeptAndLaterReadsYieldNothing) {
    const u8v in = {1, 2, 3, 4, 5, 6};
    Reader r(in);
    EXPECT_EQ(r.u8(), 1);
    r.check(false, Err::bad_value);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Err::bad_value);
    // Nothing advances after the failure, though bytes remain.
    EXPECT_EQ(r.u16(), 0);
    EXPECT_TRUE(r.take(2).empty());
    EXPECT_EQ(r.position(), 1u);
    // A later failure does not replace the first.
    r.fail(Err::too_long);
    r.check(false, Err::truncated);
    EXPECT_EQ(r.error(), Err::bad_value);
    EXPECT_EQ(r.finish().error(), Err::bad_value);
}

TEST(ReaderSticky, CheckThatHoldsRecordsNothing) {
    Reader r(ConstBytes{});
    r.check(true, Err::bad_value);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.error(), Err::ok);
}

// ---- Reader: bounds on short input

TEST(ReaderBounds, U8OnEmptyIsTruncatedAndDoesNotAdvance) {
    Reader r(ConstBytes{});
    EXPECT_EQ(r.u8(), 0);
    EXPECT_EQ(r.error(), Err::truncated);
    EXPECT_EQ(r.position(), 0u);
}

TEST(ReaderBounds, U16OnShortInputIsTruncatedAndDoesNotAdvance) {
    const u8v in = {0x01};
    Reader r(in);
    EXPECT_EQ(r.u16(), 0);
    EXPECT_EQ(r.error(), Err::truncated);
    EXPECT_EQ(r.position(), 0u);
    EXPECT_EQ(r.remaining(), 1u);
}

TEST(ReaderBounds, U32OnEveryShortInputIsTruncatedAndDoesNotAdvance) {
    const u8v buf = {1, 2, 3};
    for (std::size_t n = 0; n <= buf.size(); ++n) {
        Reader r(ConstBytes(buf).first(n));
        EXPECT_EQ(r.u32(), 0u) << n;
        EXPECT_EQ(r.error(), Err::truncated);
        EXPECT_EQ(r.position(), 0u);
    }
}

TEST(ReaderBounds, U64OnEveryShortInputIsTruncatedAndDoesNotAdvance) {
    const u8v buf = {1, 2, 3, 4, 5, 6, 7};
    for (std::size_t n = 0; n <= buf.size(); ++n) {
        Reader r(ConstBytes(buf).first(n));
        EXPECT_EQ(r.u64(), 0u) << n;
        EXPECT_EQ(r.error(), Err::truncated);
        EXPECT_EQ(r.position(), 0u);
    }
}

TEST(ReaderBounds, ShortReadAfterPartialConsumptionDoesNotAdvance) {
    const u8v buf = {1, 2, 3, 4, 5};
    Reader r(buf);
    EXPECT_EQ(r.u16(), 0x0102);
    EXPECT_EQ(r.u32(), 0u);
    EXPECT_EQ(r.error(), Err::truncated);
    EXPECT_EQ(r.position(), 2u);
    EXPECT_TRUE(r.take(4).empty());
    EXPECT_EQ(r.position(), 2u);
    EXPECT_EQ(r.rest().size(), 3u);  // what is there stays in view, unread
}

TEST(ReaderBounds, TakeBeyondEndIsTruncatedAndDoesNotAdvance) {
    const u8v buf = {1, 2, 3};
    Reader r(buf);
    EXPECT_TRUE(r.take(4).empty());
    EXPECT_EQ(r.error(), Err::truncated);
    EXPECT_EQ(r.position(), 0u);
    Reader r2(buf);
    EXPECT_TRUE(r2.take(static_cast<std::size_t>(-1)).empty());
    EXPECT_EQ(r2.error(), Err::truncated);
    EXPECT_EQ(r2.position(), 0u);
}

TEST(ReaderBounds, Vec8WithoutLengthByteIsTruncated) {
    Reader r(ConstBytes{});
    EXPECT_TRUE(r.vec8(255).empty());
    EXPECT_EQ(r.error(), Err::truncated);
    EXPECT_EQ(r.position(), 0u);
}

TEST(ReaderBounds, Vec8WithShortBodyIsTruncatedAndStaysInBounds) {
    const u8v buf = {0x04, 0xaa, 0xbb, 0xcc};
    Reader r(buf);
    EXPECT_TRUE(r.vec8(255).empty());
    EXPECT_EQ(r.error(), Err::truncated);
    EXPECT_LE(r.position(), 1u);  // at most the length byte was consumed
}

TEST(ReaderBounds, Vec16WithPartialLengthIsTruncatedAndDoesNotAdvance) {
    const u8v buf = {0x00};
    Reader r(buf);
    EXPECT_TRUE(r.vec16(100).empty());
    EXPECT_EQ(r.error(), Err::truncated);
    EXPECT_EQ(r.position(), 0u);
}

TEST(ReaderBounds, Vec16WithShortBodyIsTruncatedAndStaysInBounds) {
    const u8v buf = {0x00, 0x05, 1, 2, 3, 4};
    Reader r(buf);
    EXPECT_TRUE(r.vec16(100).empty());
    EXPECT_EQ(r.error(), Err::truncated);
    EXPECT_LE(r.position(), 2u);
}

TEST(ReaderBounds, Vec8LengthAboveMaxIsTooLongBeforeTake) {
    const u8v buf = {0x05};  // claims 5, max 4, no body at all
    Reader r(buf);
    EXPECT_TRUE(r.vec8(4).empty());
    EXPECT_EQ(r.error(), Err::too_long);
    // At exactly the maximum the length is accepted and the short body is reported.
    const u8v buf2 = {0x04};
    Reader r2(buf2);
    EXPECT_TRUE(r2.vec8(4).empty());
    EXPECT_EQ(r2.error(), Err::truncated);
}

TEST(ReaderBounds, Vec16LengthAboveMaxIsTooLongBeforeTake) {
    const u8v buf = {0x01, 0x01};  // claims 257, max 256
    Reader r(buf);
    EXPECT_TRUE(r.vec16(256).empty());
    EXPECT_EQ(r.error(), Err::too_long);
    const u8v buf2 = {0x01, 0x00};  // claims 256 == max
    Reader r2(buf2);
    EXPECT_TRUE(r2.vec16(256).empty());
    EXPECT_EQ(r2.error(), Err::truncated);
}

// ---- Writer

TEST(Writer, WritesBigEndianFieldsInOrder) {
    std::array<std::uint8_t, 32> buf{};
    Writer w(buf);
    w.u8(0x01);
    w.u16(0x0203);
    w.u32(0x04050607);
    w.u64(0x08090a0b0c0d0e0full);
    const u8v payload = {0xaa, 0xbb};
    w.vec8(payload);
    w.vec16(payload);
    w.zeros(2);
    ASSERT_TRUE(w.ok());
    EXPECT_TRUE(w.status());
    const u8v expect = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
                        0x0d, 0x0e, 0x0f, 0x02, 0xaa, 0xbb, 0x00, 0x02, 0xaa, 0xbb, 0x00, 0x00};
    EXPECT_EQ(u8v(w.written().begin(), w.written().end()), expect);
    EXPECT_EQ(w.size(), expect.size());
    EXPECT_EQ(w.unused().size(), buf.size() - expect.size());
}

TEST(Writer, ExactFitSucceeds) {
    std::array<std::uint8_t, 4> buf{};
    Writer w(buf);
    w.u32(0xdeadbeef);
    EXPECT_TRUE(w.ok());
    EXPECT_EQ(w.size(), 4u);
    EXPECT_TRUE(w.unused().empty());
    w.bytes(ConstBytes{});  // zero bytes always fit
    EXPECT_TRUE(w.ok());
}

TEST(WriterOverflow, OverflowMarksFailedAndLaterWritesAreNoOps) {
    std::array<std::uint8_t, 6> buf;
    buf.fill(0xcc);
    Writer w(buf);
    w.u16(0x1122);
    ASSERT_TRUE(w.ok());
    w.u64(1);  // does not fit in the 4 remaining bytes
    EXPECT_FALSE(w.ok());
    EXPECT_EQ(w.status().error(), Err::buffer_too_small);
    EXPECT_EQ(w.size(), 2u);
    // Later writes that would fit are no-ops.
    w.u8(0x33);
    w.u16(0x4455);
    w.bytes(u8v{1});
    w.zeros(1);
    w.vec8(u8v{});
    w.advance(1);
    EXPECT_TRUE(w.reserve(1).empty());
    EXPECT_FALSE(w.ok());
    EXPECT_EQ(w.size(), 2u);
    EXPECT_TRUE(w.unused().empty());
    const std::array<std::uint8_t, 6> expect = {0x11, 0x22, 0xcc, 0xcc, 0xcc, 0xcc};
    EXPECT_EQ(buf, expect);
}

TEST(WriterOverflow, EachWriteKindFailsOnShortBuffer) {
    std::array<std::uint8_t, 1> one{};
    {
        Writer w(Bytes(one).first(0));
        w.u8(1);
        EXPECT_FALSE(w.ok());
    }
    {
        Writer w(one);
        w.u16(1);
        EXPECT_FALSE(w.ok());
        EXPECT_EQ(w.size(), 0u);
    }
    {
        Writer w(one);
        w.u32(1);
        EXPECT_FALSE(w.ok());
    }
    {
        Writer w(one);
        w.u64(1);
        EXPECT_FALSE(w.ok());
    }
    {
        Writer w(one);
        w.bytes(u8v{1, 2});
        EXPECT_FALSE(w.ok());
    }
    {
        Writer w(one);
        w.zeros(2);
        EXPECT_FALSE(w.ok());
    }
    {
        Writer w(one);
        w.vec8(u8v{1});  // 2 bytes
        EXPECT_FALSE(w.ok());
    }
    {
        Writer w(one);
        w.vec16(u8v{});  // 2 bytes
        EXPECT_FALSE(w.ok());
    }
    {
        Writer w(one);
        EXPECT_TRUE(w.reserve(2).empty());
        EXPECT_FALSE(w.ok());
    }
    {
        Writer w(one);
        w.advance(2);
        EXPECT_FALSE(w.ok());
        EXPECT_EQ(w.size(), 0u);
    }
}

TEST(WriterOverflow, VecLengthAboveFieldWidthFails) {
    std::vector<std::uint8_t> big(256, 1);
    std::vector<std::uint8_t> buf(1024);
    Writer w(buf);
    w.vec8(big);
    EXPECT_FALSE(w.ok());
    EXPECT_EQ(w.size(), 0u);

    std::vector<std::uint8_t> huge(0x10000, 1);
    std::vector<std::uint8_t> buf2(0x20000);
    Writer w2(buf2);
    w2.vec16(huge);
    EXPECT_FALSE(w2.ok());
    EXPECT_EQ(w2.size(), 0u);
}

TEST(Writer, ReserveAndAdvance) {
    std::array<std::uint8_t, 8> buf{};
    Writer w(buf);
    auto len = w.reserve(2);
    ASSERT_EQ(len.size(), 2u);
    auto un = w.unused();
    ASSERT_EQ(un.size(), 6u);
    un[0] = 0x42;
    w.advance(1);
    store_be16(len.data(), 1);
    ASSERT_TRUE(w.ok());
    const u8v expect = {0x00, 0x01, 0x42};
    EXPECT_EQ(u8v(w.written().begin(), w.written().end()), expect);
}

// ---- big-endian helpers

TEST(BigEndian, StoreWritesMostSignificantByteFirst) {
    std::array<std::uint8_t, 8> b{};
    store_be16(b.data(), 0x1234);
    EXPECT_EQ(b[0], 0x12);
    EXPECT_EQ(b[1], 0x34);
    store_be32(b.data(), 0x89abcdefu);
    const std::array<std::uint8_t, 4> e32 = {0x89, 0xab, 0xcd, 0xef};
    EXPECT_TRUE(std::equal(e32.begin(), e32.end(), b.begin()));
    store_be64(b.data(), 0x0102030405060708ull);
    const std::array<std::uint8_t, 8> e64 = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_EQ(b, e64);
}

TEST(BigEndian, LoadReadsMostSignificantByteFirst) {
    const std::array<std::uint8_t, 8> b = {0xf1, 0xe2, 0xd3, 0xc4, 0xb5, 0xa6, 0x97, 0x88};
    EXPECT_EQ(load_be16(b.data()), 0xf1e2);
    EXPECT_EQ(load_be32(b.data()), 0xf1e2d3c4u);
    EXPECT_EQ(load_be64(b.data()), 0xf1e2d3c4b5a69788ull);
}

TEST(BigEndian, StoreLoadRoundTripsExtremes) {
    std::array<std::uint8_t, 8> b{};
    for (std::uint64_t v : {0ull, 1ull, 0x80ull, 0xffull, 0x8000000000000000ull, ~0ull,
                            0x00ff00ff00ff00ffull}) {
        store_be64(b.data(), v);
        EXPECT_EQ(load_be64(b.data()), v);
        const auto v32 = static_cast<std::uint32_t>(v);
        store_be32(b.data(), v32);
        EXPECT_EQ(load_be32(b.data()), v32);
        const auto v16 = static_cast<std::uint16_t>(v);
        store_be16(b.data(), v16);
        EXPECT_EQ(load_be16(b.data()), v16);
    }
}

// ---- ct_equal

TEST(CtEqual, EqualContents) {
    const u8v a = {1, 2, 3, 4, 5};
    const u8v b = {1, 2, 3, 4, 5};
    EXPECT_TRUE(ct_equal(a, b));
    EXPECT_TRUE(ct_equal(ConstBytes{}, ConstBytes{}));
}

TEST(CtEqual, DifferInFirstByte) {
    const u8v a = {1, 2, 3, 4, 5};
    const u8v b = {0x81, 2, 3, 4, 5};
    EXPECT_FALSE(ct_equal(a, b));
}

TEST(CtEqual, DifferInLastByte) {
    const u8v a = {1, 2, 3, 4, 5};
    const u8v b = {1, 2, 3, 4, 4};
    EXPECT_FALSE(ct_equal(a, b));
}

TEST(CtEqual, DifferInEveryBitPosition) {
    const u8v a(16, 0x5a);
    for (std::size_t i = 0; i < a.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            u8v b = a;
            b[i] = static_cast<std::uint8_t>(b[i] ^ (1u << bit));
            EXPECT_FALSE(ct_equal(a, b)) << i << ":" << bit;
        }
    }
}

TEST(CtEqual, DifferentLengths) {
    const u8v a = {1, 2, 3, 4, 5};
    const u8v prefix = {1, 2, 3, 4};
    EXPECT_FALSE(ct_equal(a, prefix));
    EXPECT_FALSE(ct_equal(prefix, a));
    EXPECT_FALSE(ct_equal(a, ConstBytes{}));
}

// ---- Secret

TEST(Secret, ConstructFromBytesCopiesAndZeroFills) {
    const u8v src = {1, 2, 3};
    Secret<8> s(src);
    EXPECT_EQ(s.size(), 8u);
    EXPECT_EQ(s.data()[0], 1);
    EXPECT_EQ(s.data()[2], 3);
    EXPECT_TRUE(all_zero(s.data() + 3, 5));
    const u8v longer = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
    Secret<4> t(longer);  // truncated to N
    EXPECT_EQ(t.span().size(), 4u);
    EXPECT_EQ(t.data()[3], 9);
}

TEST(Secret, WipeZeroesContents) {
    u8v src(32);
    for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::uint8_t>(i + 1);
    Secret<32> s(src);
    ASSERT_FALSE(all_zero(s.data(), 32));
    s.wipe();
    EXPECT_TRUE(all_zero(s.data(), 32));
}

TEST(Secret, MoveConstructWipesSource) {
    const u8v src(32, 0xa5);
    Secret<32> a(src);
    Secret<32> b(std::move(a));
    EXPECT_TRUE(all_zero(a.data(), 32));  // NOLINT(bugprone-use-after-move): checked on purpose
    EXPECT_TRUE(std::equal(src.begin(), src.end(), b.data()));
}

TEST(Secret, MoveAssignWipesSource) {
    const u8v src(16, 0x3c);
    const u8v other(16, 0x77);
    Secret<16> a(src);
    Secret<16> b(other);
    b = std::move(a);
    EXPECT_TRUE(all_zero(a.data(), 16));  // NOLINT(bugprone-use-after-move): checked on purpose
    EXPECT_TRUE(std::equal(src.begin(), src.end(), b.data()));
}

TEST(Secret, SelfMoveAssignKeepsContents) {
    const u8v src(16, 0x3c);
    Secret<16> a(src);
    Secret<16>& alias = a;
    a = std::move(alias);
    EXPECT_TRUE(std::equal(src.begin(), src.end(), a.data()));
}

TEST(Secret, DefaultIsZero) {
    Secret<24> s;
    EXPECT_TRUE(all_zero(s.data(), 24));
}

}  // namespace
}  // namespace lockstep
