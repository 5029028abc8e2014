// SPDX-License-Identifier: Apache-2.0
// lockstep — a server's view of the device registry: the PSK store and the
// certificate policy the engines ask during handshakes, answered from a
// bounded cache in front of the database.
//
// How this works:
// - find(id) (a PSK identity in a HELLO): a cache hit costs a hash-map lookup
//   under a mutex; a miss runs one query by primary key (SQLite: a local file
//   read; PostgreSQL: one round trip to the database) on the
//   calling event loop, which waits for it. Unknown identities are cached too
//   (negatively), so a repeated unknown id costs no query. Least recently used
//   entries are dropped beyond `capacity`.
// - revoked(serial, key id, subject) (a verified peer certificate): the denied
//   serials and key ids are all held in memory; a subject that names a device is
//   refused when that device is revoked.
// - A poller thread reads the change log (registry.hpp) every staleness / 2 and
//   drops the entries that changed, so an answer is never older than the
//   staleness bound while the database is reachable. If no poll has succeeded
//   for a whole staleness bound, the cache stops answering from memory: every
//   lookup goes to the database, and refuses when it cannot reach it (new
//   handshakes fail closed). still_allowed() (for live connections) keeps a
//   connection when the database cannot be asked: an outage does not close the
//   fleet.
// Threading: every method is thread-safe (one mutex; the Registry is used under it).
// spec: PROTOCOL.md §7.4 (revocation); docs/DEPLOYMENT.md
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto/providers/openssl/openssl_provider.hpp"
#include "lockstep/config.hpp"
#include "registry/registry.hpp"

namespace lockstep::registry {

struct CacheOptions {
    std::size_t capacity = 200'000;              // devices kept (known or unknown)
    std::chrono::milliseconds staleness{5'000};  // the operator's bound on a stale answer
};

class RegistryCache final : public PskStore, public CertPolicy {
public:
    // wrap_key: needed when the registry holds wrapped PSKs (empty: none).
    RegistryCache(std::unique_ptr<Registry> reg, std::vector<std::uint8_t> wrap_key, CacheOptions o);
    ~RegistryCache() override;
    RegistryCache(const RegistryCache&) = delete;
    RegistryCache& operator=(const RegistryCache&) = delete;

    // PskStore: the PSK of an active device, or empty (unknown, revoked, no PSK,
    // a PSK that does not unwrap, the database unreachable while stale). The
    // span stays valid until the next find() on the same thread.
    std::span<const std::uint8_t> find(std::span<const std::uint8_t> identity) const noexcept override;
    // CertPolicy.
    bool revoked(std::uint64_t serial, std::span<const std::uint8_t, 8> key_id,
                 std::span<const std::uint8_t> subject) const noexcept override;

    // For a live connection: false when the identity is now revoked, denied or
    // gone; true when it is still allowed or the database cannot be asked.
    bool psk_still_allowed(std::string_view id) const noexcept;
    bool cert_still_allowed(std::uint64_t serial, std::span<const std::uint8_t, 8> key_id,
                            std::span<const std::uint8_t> subject) const noexcept;

    // Starts the poller thread (the destructor stops it).
    void start();
    // One poll of the change log now; false if the database could not be read.
    bool poll() noexcept;

    struct Stats {
        std::uint64_t hits = 0, misses = 0, db_errors = 0, invalidations = 0, polls = 0;
        std::size_t entries = 0;
    };
    Stats stats() const noexcept;

private:
    struct Key;  // a PSK, wiped when freed
    struct Entry {
        bool known = false;    // an active device with a usable PSK
        bool revoked = false;  // a device that exists and is revoked
        std::shared_ptr<const Key> psk;
        std::list<std::string>::iterator lru;
    };
    enum class Lookup { ok, unknown, revoked, error };

    // With mu_ held.
    Lookup lookup(const std::string& id, std::shared_ptr<const Key>* psk, bool allow_stale) const;
    Entry load(const std::string& id) const;  // the database's answer; throws RegistryError
    void insert(const std::string& id, Entry e) const;
    void erase(const std::string& id) const;
    void reload_denials() const;
    bool fresh() const;
    bool cert_denied(std::uint64_t serial, std::span<const std::uint8_t, 8> key_id) const;

    mutable std::mutex mu_;
    std::unique_ptr<Registry> reg_;
    std::vector<std::uint8_t> wrap_key_;
    CacheOptions opts_;
    mutable crypto::openssl::OpenSslProvider provider_;  // unwrapping (under mu_)
    mutable std::unordered_map<std::string, Entry> map_;
    mutable std::list<std::string> lru_;  // front: most recent
    mutable std::set<std::uint64_t> denied_serials_;
    mutable std::set<std::string> denied_key_ids_;
    mutable std::int64_t last_seq_ = 0;
    mutable std::chrono::steady_clock::time_point last_poll_ok_;
    mutable Stats stats_{};

    std::thread poller_;
    std::mutex stop_mu_;
    std::condition_variable stop_cv_;
    bool stop_ = false;
};

}  // namespace lockstep::registry
