// SPDX-License-Identifier: Apache-2.0
// lockstep server — admission budgets (spec: PROTOCOL.md §11.13). Pure
// bookkeeping, no sockets: the server loop asks before it creates a
// connection and tells when one leaves the half-open phase or goes.
//
// How this works: every half-open connection (no HELLO yet, or HELLO ACK sent
// and no ACK opened) is an entry keyed by its connection id. Ids only grow, so
// the smallest id is the oldest entry. A new half-open connection never finds
// the door shut: when its transport's budget or its source prefix's limit is
// full, the oldest entry of that transport (or that prefix) is named as the
// victim to evict first. One attacker therefore only ever displaces its own
// entries or old ones, and a legitimate handshake, which takes one round trip,
// completes unless the flood replaces the whole budget within that round trip.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
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
    explicit HalfOpenBudget(std::size_t per_prefix) : per_prefix_(per_prefix) {}
    // The connection to evict before admitting one more from prefix `p` on
    // transport `t`: that prefix's oldest if the prefix is at its limit, else
    // the transport's oldest if `transport_full`, else none.
    std::optional<std::uint64_t> victim(Transport t, const PrefixKey& p, bool transport_full) const;
    void add(std::uint64_t id, Transport t, const PrefixKey& p);
    void remove(std::uint64_t id) noexcept;  // no-op for an id not held
    bool holds(std::uint64_t id) const noexcept { return entries_.count(id) != 0; }
    std::size_t size(Transport t) const noexcept { return by_transport_[index(t)].size(); }
    std::size_t size() const noexcept { return entries_.size(); }

private:
    static std::size_t index(Transport t) noexcept { return t == Transport::tcp ? 0 : 1; }
    struct Entry {
        Transport t;
        PrefixKey p;
    };
    std::size_t per_prefix_;
    std::map<std::uint64_t, Entry> entries_;
    std::set<std::uint64_t> by_transport_[2];
    std::map<PrefixKey, std::set<std::uint64_t>> by_prefix_;
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
