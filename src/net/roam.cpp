// SPDX-License-Identifier: Apache-2.0
#include "net/roam.hpp"

#include "common/bytes.hpp"

namespace lockstep::net::detail {
namespace {
std::uint64_t key(const ConnectionId& c) noexcept {
    std::uint64_t k = 0;
    for (std::uint8_t b : c) k = k << 8 | b;
    return k;
}
}  // namespace

std::optional<std::uint64_t> CidTable::find(const ConnectionId& cid) const noexcept {
    auto it = map_.find(key(cid));
    if (it == map_.end()) return std::nullopt;
    return it->second;
}

void CidTable::update(std::uint64_t conn, Ids& mine, std::span<const ConnectionId> now) {
    for (const ConnectionId& c : now) {
        const std::uint64_t k = key(c);
        bool known = false;
        for (std::uint8_t i = 0; i < mine.n; ++i) known = known || mine.id[i] == k;
        if (known) continue;
        if (mine.n == kRemembered) {  // the oldest goes (if it still names us)
            auto it = map_.find(mine.id[mine.next]);
            if (it != map_.end() && it->second == conn) map_.erase(it);
        } else {
            ++mine.n;
        }
        mine.id[mine.next] = k;
        mine.next = static_cast<std::uint8_t>((mine.next + 1) % kRemembered);
        map_[k] = conn;
    }
}

void CidTable::forget(std::uint64_t conn, Ids& mine) noexcept {
    for (std::uint8_t i = 0; i < mine.n; ++i) {
        auto it = map_.find(mine.id[i]);
        if (it != map_.end() && it->second == conn) map_.erase(it);
    }
    mine = Ids{};
}

}  // namespace lockstep::net::detail
