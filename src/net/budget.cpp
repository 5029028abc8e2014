// SPDX-License-Identifier: Apache-2.0
// lockstep server — admission budgets (see budget.hpp).
// spec: PROTOCOL.md §11.13
#include "net/budget.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <iterator>

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
        return it->second.begin()->second;
    const auto& ids = by_transport_[index(t)];
    if (transport_full && !ids.empty()) return ids.begin()->second;
    return std::nullopt;
}

void HalfOpenBudget::add(std::uint64_t id, Transport t, const PrefixKey& p, Rank r) {
    entries_.emplace(id, Entry{t, p, r});
    by_transport_[index(t)].emplace(r, id);
    by_prefix_[p].emplace(r, id);
}

void HalfOpenBudget::rank(std::uint64_t id, Rank r) {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.r == r) return;
    const Entry e = it->second;
    remove(id);
    add(id, e.t, e.p, r);
}

void HalfOpenBudget::remove(std::uint64_t id) noexcept {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    const Key k{it->second.r, id};
    by_transport_[index(it->second.t)].erase(k);
    if (auto p = by_prefix_.find(it->second.p); p != by_prefix_.end()) {
        p->second.erase(k);
        if (p->second.empty()) by_prefix_.erase(p);
    }
    entries_.erase(it);
}

std::size_t HalfOpenBudget::size(const PrefixKey& p) const noexcept {
    auto it = by_prefix_.find(p);
    return it == by_prefix_.end() ? 0 : it->second.size();
}

double PrefixBuckets::refill(Bucket& b, Instant now) const noexcept {
    const auto ms = static_cast<double>((now.since_origin - b.at.since_origin).count());
    if (ms > 0) {
        b.tokens = std::min(burst_, b.tokens + ms * rate_);
        b.at = now;
    }
    return b.tokens;
}

void PrefixBuckets::refund(const PrefixKey& p, double cost, Instant now) {
    auto it = index_.find(p);
    if (it == index_.end()) return;  // gone: a new bucket starts full anyway
    Bucket& b = it->second->second;
    b.tokens = std::min(burst_, refill(b, now) + cost);
}

bool PrefixBuckets::take(const PrefixKey& p, double cost, Instant now) {
    Bucket* b = nullptr;
    if (auto it = index_.find(p); it != index_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);  // most recently used
        b = &it->second->second;
    } else if (lru_.size() < max_) {
        lru_.emplace_front(p, Bucket{burst_, now});
        index_.emplace(p, lru_.begin());
        b = &lru_.front().second;
    } else if (refill(lru_.back().second, now) >= burst_) {  // full again: it knows nothing
        index_.erase(lru_.back().first);
        lru_.back() = {p, Bucket{burst_, now}};
        lru_.splice(lru_.begin(), lru_, std::prev(lru_.end()));
        index_.emplace(p, lru_.begin());
        b = &lru_.front().second;
    } else {
        b = &overflow_;
    }
    if (refill(*b, now) < cost) return false;
    b->tokens -= cost;
    return true;
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
