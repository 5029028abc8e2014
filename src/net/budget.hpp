// SPDX-License-Identifier: Apache-2.0
// lockstep server — admission budgets (spec: PROTOCOL.md §11.13). Pure
// bookkeeping, no sockets: the server loop asks before it creates a
// connection and tells when one leaves the half-open phase or goes.
//
// How this works: every half-open connection (no HELLO yet, or HELLO ACK sent
// and no ACK opened) is an entry keyed by its connection id, with a rank: 0 a
// TCP connection whose first frame has not arrived, 1 a UDP handshake from an
// address not proved, 2 one whose address is proved (a TCP connection that
// sent its HELLO, a UDP HELLO behind a valid cookie). Ids only grow, so the
// smallest id is the oldest entry. A new half-open connection never finds the
// door shut: when its transport's budget or its source prefix's limit is full,
// the oldest entry of the lowest rank of that transport (or that prefix) is
// named as the victim to evict first. Idle sockets and spoofed HELLOs thus go
// before handshakes that have shown an address; one attacker only ever
// displaces its own entries or old ones, and a legitimate handshake, which
// takes one round trip, completes unless the flood replaces every entry of its
// rank and below within that round trip.
//
// PrefixBuckets: the work a loop does for strangers over UDP (a COOKIE, a new
// connection) is paid from a token bucket per source prefix, so a flood from
// one prefix empties only its own bucket and the others are served as before.
// A handshake that completes (the peer authenticated) is refunded: what a
// prefix pays for is work that led to no one, so legitimate clients behind
// one address (a NAT, a load test) are not held to the strangers' rate.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "net/io.hpp"

namespace lockstep::net::detail {

// A source address cut to its prefix: IPv4 /v4_bits, IPv6 /v6_bits (family byte first).
using PrefixKey = std::array<std::uint8_t, 17>;
PrefixKey prefix_of(const Address& a, int v4_bits, int v6_bits) noexcept;

class HalfOpenBudget {
public:
    enum Rank : std::uint8_t { no_first_frame = 0, unproved = 1, proved = 2 };
    explicit HalfOpenBudget(std::size_t per_prefix) : per_prefix_(per_prefix) {}
    // The connection to evict before admitting one more from prefix `p` on
    // transport `t`: that prefix's oldest of its lowest rank if the prefix is
    // at its limit, else the transport's if `transport_full`, else none.
    std::optional<std::uint64_t> victim(Transport t, const PrefixKey& p, bool transport_full) const;
    void add(std::uint64_t id, Transport t, const PrefixKey& p, Rank r);
    void rank(std::uint64_t id, Rank r);      // a held entry moves to rank r (keeps its age)
    void remove(std::uint64_t id) noexcept;  // no-op for an id not held
    bool holds(std::uint64_t id) const noexcept { return entries_.count(id) != 0; }
    std::size_t size(Transport t) const noexcept { return by_transport_[index(t)].size(); }
    std::size_t size(const PrefixKey& p) const noexcept;  // entries of that prefix, both transports
    std::size_t size() const noexcept { return entries_.size(); }

private:
    static std::size_t index(Transport t) noexcept { return t == Transport::tcp ? 0 : 1; }
    using Key = std::pair<Rank, std::uint64_t>;  // lowest rank first, then oldest
    struct Entry {
        Transport t;
        PrefixKey p;
        Rank r;
    };
    std::size_t per_prefix_;
    std::map<std::uint64_t, Entry> entries_;
    std::set<Key> by_transport_[2];
    std::map<PrefixKey, std::set<Key>> by_prefix_;
};

// Token buckets per source prefix (see above). A bucket holds up to `burst`
// tokens and gains `per_second`; a prefix not seen yet starts full. At most
// `max_prefixes` buckets are kept: a new prefix takes the least recently used
// bucket if that one is full again (it remembers nothing), else it shares one
// overflow bucket with every other prefix that found no room.
class PrefixBuckets {
public:
    PrefixBuckets(double burst, double per_second, std::size_t max_prefixes)
        : burst_(burst), rate_(per_second / 1000.0), max_(max_prefixes), overflow_{burst, {}} {}
    // Takes `cost` tokens from p's bucket; false (nothing taken) if it holds fewer.
    bool take(const PrefixKey& p, double cost, Instant now);
    // Gives `cost` tokens back to p's bucket (up to the burst), if it still has one.
    void refund(const PrefixKey& p, double cost, Instant now);
    std::size_t size() const noexcept { return lru_.size(); }

private:
    struct Bucket {
        double tokens;
        Instant at;
    };
    double refill(Bucket& b, Instant now) const noexcept;  // tokens now
    double burst_, rate_;  // rate_: tokens per millisecond
    std::size_t max_;
    std::list<std::pair<PrefixKey, Bucket>> lru_;  // most recently used first
    std::map<PrefixKey, std::list<std::pair<PrefixKey, Bucket>>::iterator> index_;
    Bucket overflow_;
};

// At most one line per `every` for one kind of event; counts what it held back.
class RateLimitedLog {
public:
    explicit RateLimitedLog(std::chrono::milliseconds every) : every_(every) {}
    // The line to print now (with the number held back since the last one), or nothing.
    std::optional<std::string> note(const std::string& what, Instant now);

private:
    std::chrono::milliseconds every_;
    std::optional<Instant> last_;
    std::uint64_t held_ = 0;
};

}  // namespace lockstep::net::detail
