// SPDX-License-Identifier: Apache-2.0
// lockstep server — connection ids of UDP connections (spec: PROTOCOL.md §6.9).
// Pure bookkeeping, no sockets: which connection a record behind an id
// (frame 0x19) belongs to, whatever address it came from.
//
// How this works: after every call into a UDP connection's engine the loop
// hands the ids the engine holds (Engine::connection_ids: the current receive
// epoch's, and the next or previous one's around a re-key) to update(). Each
// connection remembers its last kRemembered distinct ids, so the previous
// epoch's id still finds it after the engine dropped that epoch's keys (the
// engine then drops the record itself, as it would from the old address).
// An older id is forgotten when a newer one arrives; all of a connection's
// ids go with it. Ids are derived from secrets (uniformly random to anyone
// without the keys), so a collision between two connections is a 2^-64
// chance, and then only misroutes records that fail to open.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

#include "lockstep/types.hpp"

namespace lockstep::net::detail {

class CidTable {
public:
    static constexpr std::size_t kRemembered = 3;  // epochs n-1, n, n+1
    // A connection's remembered ids (kept by the connection, owned by no table).
    struct Ids {
        std::array<std::uint64_t, kRemembered> id{};
        std::uint8_t n = 0, next = 0;  // how many; where the next one goes (oldest first out)
    };

    std::optional<std::uint64_t> find(const ConnectionId& cid) const noexcept;
    // The ids `conn` holds now; remembers the new ones, forgetting the oldest.
    void update(std::uint64_t conn, Ids& mine, std::span<const ConnectionId> now);
    // The connection is gone: its ids find nothing.
    void forget(std::uint64_t conn, Ids& mine) noexcept;
    std::size_t size() const noexcept { return map_.size(); }
    void shrink() { map_.rehash(0); }

private:
    std::unordered_map<std::uint64_t, std::uint64_t> map_;  // id (8 bytes, big endian) -> connection
};

}  // namespace lockstep::net::detail
