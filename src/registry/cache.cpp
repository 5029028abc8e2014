// SPDX-License-Identifier: Apache-2.0
// lockstep — the registry cache of a server (see cache.hpp).
#include "registry/cache.hpp"

#include <openssl/crypto.h>

#include "registry/wrap.hpp"

namespace lockstep::registry {

namespace {
using Clock = std::chrono::steady_clock;
constexpr std::size_t kChangesPerQuery = 10'000;
}  // namespace

struct RegistryCache::Key {
    std::vector<std::uint8_t> bytes;
    ~Key() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

RegistryCache::RegistryCache(std::unique_ptr<Registry> reg, std::vector<std::uint8_t> wrap_key, CacheOptions o)
    : reg_(std::move(reg)), wrap_key_(std::move(wrap_key)), opts_(o) {
    if (opts_.capacity == 0) opts_.capacity = 1;
    std::lock_guard lock(mu_);
    last_seq_ = reg_->last_change();
    reload_denials();
    last_poll_ok_ = Clock::now();
}

RegistryCache::~RegistryCache() {
    {
        std::lock_guard lock(stop_mu_);
        stop_ = true;
    }
    stop_cv_.notify_all();
    if (poller_.joinable()) poller_.join();
    OPENSSL_cleanse(wrap_key_.data(), wrap_key_.size());
}

void RegistryCache::start() {
    if (poller_.joinable()) return;
    poller_ = std::thread([this] {
        const auto every = std::max(opts_.staleness / 2, std::chrono::milliseconds(1));
        std::unique_lock lock(stop_mu_);
        while (!stop_cv_.wait_for(lock, every, [this] { return stop_; })) {
            lock.unlock();
            (void)poll();
            lock.lock();
        }
    });
}

bool RegistryCache::fresh() const { return Clock::now() - last_poll_ok_ <= opts_.staleness; }

void RegistryCache::reload_denials() const {
    std::set<std::uint64_t> serials;
    std::set<std::string> key_ids;
    for (const CertDenial& d : reg_->denials()) {
        if (d.kind == DenyKind::key_id) key_ids.insert(d.value);
        else if (auto s = parse_serial(d.value)) serials.insert(*s);
    }
    denied_serials_ = std::move(serials);
    denied_key_ids_ = std::move(key_ids);
}

bool RegistryCache::poll() noexcept {
    std::lock_guard lock(mu_);
    try {
        bool certs_changed = false;
        for (;;) {
            const auto changes = reg_->changes_since(last_seq_, kChangesPerQuery);
            for (const Change& c : changes) {
                if (c.what == "cert") certs_changed = true;
                else if (map_.count(c.key) != 0) {
                    erase(c.key);
                    ++stats_.invalidations;
                }
                last_seq_ = c.seq;
            }
            if (changes.size() < kChangesPerQuery) break;
        }
        if (certs_changed) reload_denials();
        ++stats_.polls;
        last_poll_ok_ = Clock::now();
        return true;
    } catch (...) {
        ++stats_.db_errors;
        return false;
    }
}

RegistryCache::Entry RegistryCache::load(const std::string& id) const {
    Entry e;
    const auto d = reg_->find(id);
    if (!d) return e;
    e.revoked = d->state == DeviceState::revoked;
    if (e.revoked || d->psk_format == PskFormat::none) return e;
    auto k = std::make_shared<Key>();
    if (d->psk_format == PskFormat::raw) {
        k->bytes = d->psk;
    } else {
        if (wrap_key_.empty())
            throw RegistryError("device '" + id + "' has a wrapped PSK and the server has no wrap key");
        unwrap_psk(provider_, wrap_key_, id, d->psk, k->bytes);
    }
    e.known = true;
    e.psk = std::move(k);
    return e;
}

void RegistryCache::insert(const std::string& id, Entry e) const {
    erase(id);
    while (map_.size() >= opts_.capacity) erase(lru_.back());
    lru_.push_front(id);
    e.lru = lru_.begin();
    map_.emplace(id, std::move(e));
}

void RegistryCache::erase(const std::string& id) const {
    auto it = map_.find(id);
    if (it == map_.end()) return;
    lru_.erase(it->second.lru);
    map_.erase(it);
}

RegistryCache::Lookup RegistryCache::lookup(const std::string& id, std::shared_ptr<const Key>* psk,
                                            bool allow_stale) const {
    const bool use_cache = allow_stale || fresh();
    auto it = use_cache ? map_.find(id) : map_.end();
    if (it != map_.end()) {
        ++stats_.hits;
        lru_.splice(lru_.begin(), lru_, it->second.lru);
    } else {
        ++stats_.misses;
        try {
            insert(id, load(id));
        } catch (...) {
            ++stats_.db_errors;  // unreachable database or a PSK that does not unwrap
            return Lookup::error;
        }
        it = map_.find(id);
    }
    const Entry& e = it->second;
    if (e.revoked) return Lookup::revoked;
    if (!e.known) return Lookup::unknown;
    if (psk != nullptr) *psk = e.psk;
    return Lookup::ok;
}

std::span<const std::uint8_t> RegistryCache::find(std::span<const std::uint8_t> identity) const noexcept {
    // Keeps the returned key alive for this thread until its next find().
    thread_local std::shared_ptr<const Key> held;
    held.reset();
    try {
        const std::string id(identity.begin(), identity.end());
        std::lock_guard lock(mu_);
        if (lookup(id, &held, false) != Lookup::ok) return {};
    } catch (...) {
        return {};
    }
    return held ? std::span<const std::uint8_t>(held->bytes) : std::span<const std::uint8_t>{};
}

bool RegistryCache::cert_denied(std::uint64_t serial, std::span<const std::uint8_t, 8> key_id) const {
    return denied_serials_.count(serial) != 0 || denied_key_ids_.count(key_id_hex(key_id.data())) != 0;
}

bool RegistryCache::revoked(std::uint64_t serial, std::span<const std::uint8_t, 8> key_id,
                            std::span<const std::uint8_t> subject) const noexcept {
    try {
        std::lock_guard lock(mu_);
        if (!fresh()) {  // fail closed: the denials must be current
            try {
                reload_denials();
            } catch (...) {
                ++stats_.db_errors;
                return true;
            }
        }
        if (cert_denied(serial, key_id)) return true;
        const Lookup l = lookup(std::string(subject.begin(), subject.end()), nullptr, false);
        return l == Lookup::revoked || l == Lookup::error;
    } catch (...) {
        return true;
    }
}

bool RegistryCache::psk_still_allowed(std::string_view id) const noexcept {
    try {
        std::lock_guard lock(mu_);
        const Lookup l = lookup(std::string(id), nullptr, true);
        return l == Lookup::ok || l == Lookup::error;
    } catch (...) {
        return true;
    }
}

bool RegistryCache::cert_still_allowed(std::uint64_t serial, std::span<const std::uint8_t, 8> key_id,
                                       std::span<const std::uint8_t> subject) const noexcept {
    try {
        std::lock_guard lock(mu_);
        if (cert_denied(serial, key_id)) return false;
        return lookup(std::string(subject.begin(), subject.end()), nullptr, true) != Lookup::revoked;
    } catch (...) {
        return true;
    }
}

RegistryCache::Stats RegistryCache::stats() const noexcept {
    std::lock_guard lock(mu_);
    Stats s = stats_;
    s.entries = map_.size();
    return s;
}

}  // namespace lockstep::registry
