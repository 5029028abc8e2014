// SPDX-License-Identifier: Apache-2.0
// The server's admission bookkeeping (src/net/budget.hpp, spec: PROTOCOL.md
// §11.13): which half-open connection is evicted first, and the per-prefix
// token buckets that pay for work done for UDP strangers.
#include "net/budget.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <arpa/inet.h>

namespace lockstep::net::detail {
namespace {

using namespace std::chrono_literals;
using Rank = HalfOpenBudget::Rank;

PrefixKey v4(const char* ip) {
    Address a;
    auto* in = reinterpret_cast<sockaddr_in*>(&a.ss);
    in->sin_family = AF_INET;
    ::inet_pton(AF_INET, ip, &in->sin_addr);
    a.len = sizeof(sockaddr_in);
    return prefix_of(a, 24, 56);
}

Instant at(std::int64_t ms) { return Instant{std::chrono::milliseconds(ms)}; }

// Idle sockets (no first frame) go before unproved handshakes, and those
// before proved ones, whatever their age; within a rank the oldest goes.
TEST(HalfOpenBudget, EvictsTheLowestRankFirstThenTheOldest) {
    HalfOpenBudget b(100);
    const PrefixKey legit = v4("10.0.0.1"), idle = v4("10.0.1.1");
    b.add(1, Transport::tcp, legit, Rank::no_first_frame);
    b.rank(1, Rank::proved);  // its HELLO arrived: keeps its age, leaves the lowest rank
    b.add(2, Transport::tcp, idle, Rank::no_first_frame);
    b.add(3, Transport::tcp, idle, Rank::no_first_frame);
    EXPECT_FALSE(b.victim(Transport::tcp, legit, false));
    EXPECT_EQ(b.victim(Transport::tcp, legit, true), 2u);
    b.remove(2);
    EXPECT_EQ(b.victim(Transport::tcp, legit, true), 3u);
    b.remove(3);
    EXPECT_EQ(b.victim(Transport::tcp, legit, true), 1u);  // nothing lower left: the oldest
    b.add(4, Transport::udp, idle, Rank::proved);
    b.add(5, Transport::udp, idle, Rank::unproved);
    EXPECT_EQ(b.victim(Transport::udp, legit, true), 5u);
    EXPECT_EQ(b.size(Transport::udp), 2u);
    EXPECT_EQ(b.size(idle), 2u);
    EXPECT_EQ(b.size(legit), 1u);
}

// A prefix at its limit evicts its own entries, never another prefix's.
TEST(HalfOpenBudget, PrefixAtItsLimitEvictsOnlyItsOwn) {
    HalfOpenBudget b(2);
    const PrefixKey legit = v4("10.0.0.1"), flood = v4("10.0.2.7");
    b.add(1, Transport::udp, legit, Rank::unproved);
    b.add(2, Transport::udp, flood, Rank::proved);
    b.add(3, Transport::udp, flood, Rank::unproved);
    EXPECT_EQ(b.victim(Transport::udp, v4("10.0.2.99"), false), 3u);
    EXPECT_EQ(b.victim(Transport::udp, v4("10.0.2.99"), true), 3u);
    EXPECT_FALSE(b.victim(Transport::udp, legit, false));
}

// Each prefix has its own bucket: one that spent its tokens is refused while
// another is served; tokens come back with time, up to the burst.
TEST(PrefixBuckets, AFloodFromOnePrefixEmptiesOnlyItsOwnBucket) {
    PrefixBuckets b(10, 1000, 16);  // 10 tokens, 1 per ms
    const PrefixKey flood = v4("10.0.2.1"), legit = v4("10.0.0.1");
    int granted = 0;
    for (int i = 0; i < 100; ++i) granted += b.take(flood, 1, at(0));
    EXPECT_EQ(granted, 10);
    EXPECT_TRUE(b.take(legit, 8, at(0)));
    EXPECT_FALSE(b.take(legit, 8, at(0)));
    EXPECT_FALSE(b.take(flood, 1, at(0)));
    EXPECT_TRUE(b.take(flood, 1, at(1)));
    EXPECT_TRUE(b.take(legit, 8, at(100)));  // refilled, but to the burst only
    EXPECT_TRUE(b.take(legit, 2, at(100)));
    EXPECT_FALSE(b.take(legit, 1, at(100)));
}

// A completed handshake gives its tokens back: a prefix pays only for work
// that led to no authenticated peer, up to the burst.
TEST(PrefixBuckets, RefundsCompletedHandshakes) {
    PrefixBuckets b(16, 1, 16);  // 16 tokens, hardly any refill
    const PrefixKey legit = v4("10.0.0.1");
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(b.take(legit, 8, at(0)));
        b.refund(legit, 8, at(0));
    }
    EXPECT_TRUE(b.take(legit, 8, at(0)));
    EXPECT_TRUE(b.take(legit, 8, at(0)));
    EXPECT_FALSE(b.take(legit, 8, at(0)));
    b.refund(legit, 8, at(0));
    b.refund(legit, 8, at(0));
    b.refund(legit, 8, at(0));  // not beyond the burst
    EXPECT_TRUE(b.take(legit, 16, at(0)));
    EXPECT_FALSE(b.take(legit, 1, at(0)));
    b.refund(v4("10.9.9.9"), 8, at(0));  // no bucket: nothing happens
    EXPECT_EQ(b.size(), 1u);
}

// The table of buckets is bounded: a new prefix takes the least recently used
// bucket once that one is full again; while every bucket is in use it shares
// the overflow bucket, so prefixes spread over the table cannot grow memory.
TEST(PrefixBuckets, BoundedTableReusesRefilledBucketsOrSharesTheOverflow) {
    PrefixBuckets b(4, 1000, 2);
    const PrefixKey p1 = v4("10.0.1.1"), p2 = v4("10.0.2.1"), p3 = v4("10.0.3.1"), p4 = v4("10.0.4.1");
    EXPECT_TRUE(b.take(p1, 4, at(0)));
    EXPECT_TRUE(b.take(p2, 4, at(0)));
    EXPECT_EQ(b.size(), 2u);
    EXPECT_TRUE(b.take(p3, 4, at(0)));   // no room, p1 not refilled: the overflow bucket
    EXPECT_FALSE(b.take(p4, 1, at(0)));  // which p3 emptied
    EXPECT_EQ(b.size(), 2u);
    EXPECT_TRUE(b.take(p4, 4, at(10)));  // p1's bucket is full again: p4 takes it
    EXPECT_EQ(b.size(), 2u);
    EXPECT_FALSE(b.take(p4, 1, at(10)));
}

}  // namespace
}  // namespace lockstep::net::detail
