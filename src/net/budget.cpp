// SPDX-License-Identifier: Apache-2.0
// lockstep server — admission budgets (see budget.hpp).
// spec: PROTOCOL.md §11.13
#include "net/budget.hpp"

#include <netinet/in.h>

#include <cstring>

namespace lockstep::net::detail {

namespace {

void mask(std::uint8_t* bytes, std::size_t len, int bits) noexcept {
    for (std::size_t i = 0; i < len; ++i) {
        const int keep = std::clamp(bits - static_cast<int>(i) * 8, 0, 8);
        bytes[i] &= static_cast<std::uint8_t>(0xff00u >> keep);
    }
}

}  // namespace

PrefixKey prefix_of(const Address& a, int v4_bits, int v6_bits) noexcept {
    PrefixKey k{};
    k[0] = static_cast<std::uint8_t>(a.ss.ss_family);
    if (a.ss.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&a.ss);
        std::memcpy(&k[1], &in->sin_addr, 4);
        mask(&k[1], 4, v4_bits);
    } else if (a.ss.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.ss);
        std::memcpy(&k[1], &in6->sin6_addr, 16);
        mask(&k[1], 16, v6_bits);
    }
    return k;
}

std::optional<std::uint64_t> HalfOpenBudget::victim(Transport t, const PrefixKey& p, bool transport_full) const {
    if (auto it = by_prefix_.find(p); it != by_prefix_.end() && it->second.size() >= per_prefix_)
        return *it->second.begin();
    const auto& ids = by_transport_[index(t)];
    if (transport_full && !ids.empty()) return *ids.begin();
    return std::nullopt;
}

void HalfOpenBudget::add(std::uint64_t id, Transport t, const PrefixKey& p) {
    entries_.emplace(id, Entry{t, p});
    by_transport_[index(t)].insert(id);
    by_prefix_[p].insert(id);
}

void HalfOpenBudget::remove(std::uint64_t id) noexcept {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    by_transport_[index(it->second.t)].erase(id);
    if (auto p = by_prefix_.find(it->second.p); p != by_prefix_.end()) {
        p->second.erase(id);
        if (p->second.empty()) by_prefix_.erase(p);
    }
    entries_.erase(it);
}

std::optional<std::string> RateLimitedLog::note(const std::string& what, Instant now) {
    if (last_ && now < *last_ + every_) {
        ++held_;
        return std::nullopt;
    }
    std::string line = what;
    if (held_ > 0) line += " (" + std::to_string(held_) + " more since the last report)";
    last_ = now;
    held_ = 0;
    return line;
}

}  // namespace lockstep::net::detail
