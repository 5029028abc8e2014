// SPDX-License-Identifier: Apache-2.0
// lockstep — the C API (include/lockstep/lockstep.h) over the C++ engine.
// A lockstep_engine holds, in the caller's memory, the OpenSSL provider, a
// one-identity PSK store (server) and the Engine; nothing here allocates.
// spec: PROTOCOL.md §10
#include "lockstep/lockstep.h"

#include <chrono>
#include <cstring>
#include <new>
#include <span>

#include "common/bytes.hpp"
#include "lockstep/engine.hpp"
#include "lockstep/openssl/provider.hpp"
#include "lockstep/version.hpp"

namespace lockstep {
namespace {

constexpr std::uint32_t kMagic = 0x6c6b7370;  // "lksp": set by init, cleared by deinit

// The server accepts the one identity of the config.
class OnePsk final : public PskStore {
public:
    OnePsk(std::span<const std::uint8_t> id, std::span<const std::uint8_t> psk) noexcept : id_(id), psk_(psk) {}
    std::span<const std::uint8_t> find(std::span<const std::uint8_t> identity) const noexcept override {
        if (identity.size() != id_.size() || !ct_equal(identity, id_)) return {};
        return psk_;
    }

private:
    std::span<const std::uint8_t> id_, psk_;
};

struct CEngine {
    CEngine(const Config& cfg, std::span<std::uint8_t> ws, std::span<const std::uint8_t> id,
            std::span<const std::uint8_t> psk) noexcept
        : store(id, psk), engine(with(cfg), ws) {}
    Config with(Config cfg) noexcept {
        cfg.provider = &provider;
        if (cfg.role == Role::server) cfg.psk_store = &store;
        return cfg;
    }
    std::uint32_t magic = kMagic;
    crypto::openssl::OpenSslProvider provider;
    OnePsk store;
    Engine engine;
};
static_assert(sizeof(CEngine) <= LOCKSTEP_ENGINE_SIZE, "raise LOCKSTEP_ENGINE_SIZE (an ABI change)");
static_assert(alignof(CEngine) <= alignof(lockstep_engine), "lockstep_engine is not aligned enough");

// The published codes are minus the Err numbers.
static_assert(-static_cast<int>(Err::bad_mac) == LOCKSTEP_ERR_BAD_MAC);
static_assert(-static_cast<int>(Err::unexpected_message) == LOCKSTEP_ERR_UNEXPECTED_MESSAGE);
static_assert(-static_cast<int>(Err::unknown_psk) == LOCKSTEP_ERR_UNKNOWN_PSK);
static_assert(-static_cast<int>(Err::buffer_too_small) == LOCKSTEP_ERR_BUFFER_TOO_SMALL);
static_assert(-static_cast<int>(Err::invalid_argument) == LOCKSTEP_ERR_INVALID_ARGUMENT);
static_assert(-static_cast<int>(Err::closed) == LOCKSTEP_ERR_CLOSED);
static_assert(-static_cast<int>(Err::timeout) == LOCKSTEP_ERR_TIMEOUT);
static_assert(-static_cast<int>(Err::unsupported) == LOCKSTEP_ERR_UNSUPPORTED);
static_assert(static_cast<int>(EventKind::closed) == LOCKSTEP_EVENT_CLOSED);

int code(Err e) noexcept { return -static_cast<int>(e); }
int code(const Status& s) noexcept { return s ? LOCKSTEP_OK : code(s.error()); }

CEngine* get(lockstep_engine* e) noexcept {
    auto* c = reinterpret_cast<CEngine*>(e);
    return e != nullptr && c->magic == kMagic ? c : nullptr;
}
const CEngine* get(const lockstep_engine* e) noexcept { return get(const_cast<lockstep_engine*>(e)); }

Now now_of(std::uint64_t now_ms, std::int64_t unix_ms) noexcept {
    return Now{Instant{std::chrono::milliseconds(static_cast<std::int64_t>(now_ms))},
               UnixTime{std::chrono::milliseconds(unix_ms)}};
}
std::uint16_t max_data_of(std::uint16_t m) noexcept { return m == 0 ? 16384 : m; }
std::span<const std::uint8_t> bytes(const std::uint8_t* p, std::size_t n) noexcept {
    return p == nullptr ? std::span<const std::uint8_t>{} : std::span<const std::uint8_t>{p, n};
}

}  // namespace
}  // namespace lockstep

using namespace lockstep;

extern "C" {

const char* lockstep_version(void) { return lockstep::version(); }

const char* lockstep_strerror(int c) {
    if (c > 0 || c < -static_cast<int>(Err::unsupported)) return "unknown";
    return err_name(static_cast<Err>(-c));
}

void lockstep_config_init(lockstep_config* cfg) {
    if (cfg == nullptr) return;
    std::memset(cfg, 0, sizeof *cfg);
    cfg->role = LOCKSTEP_ROLE_CLIENT;
    cfg->mode = LOCKSTEP_MODE_PSK;
    cfg->policy = LOCKSTEP_POLICY_STRICT;
}

size_t lockstep_engine_size(void) { return sizeof(CEngine); }
size_t lockstep_engine_align(void) { return alignof(CEngine); }
size_t lockstep_workspace_size(uint16_t max_data) { return Engine::workspace_size(max_data_of(max_data)); }
size_t lockstep_max_message_size(uint16_t max_data) { return Engine::max_message_size(max_data_of(max_data)); }

int lockstep_engine_init(lockstep_engine* engine, size_t engine_len, const lockstep_config* c, uint8_t* workspace,
                         size_t workspace_len) {
    if (engine == nullptr || c == nullptr || workspace == nullptr || engine_len < sizeof(CEngine) ||
        reinterpret_cast<std::uintptr_t>(engine) % alignof(CEngine) != 0)
        return LOCKSTEP_ERR_INVALID_ARGUMENT;
    const int mode = c->mode == 0 ? LOCKSTEP_MODE_PSK : c->mode;
    const bool ok_role = c->role == LOCKSTEP_ROLE_CLIENT || c->role == LOCKSTEP_ROLE_SERVER;
    const bool ok_mode = mode == LOCKSTEP_MODE_PSK || mode == LOCKSTEP_MODE_PSK_ONLY;
    const bool ok_policy = c->policy == LOCKSTEP_POLICY_STRICT || c->policy == LOCKSTEP_POLICY_TOLERANT;
    const bool ok_psk = c->psk != nullptr && c->psk_len >= 16 && c->psk_len <= 64;
    const bool ok_id = c->psk_id != nullptr && c->psk_id_len >= 1 && c->psk_id_len <= 64;
    const std::uint16_t max_data = max_data_of(c->max_data);
    if (!ok_role || !ok_mode || !ok_policy || !ok_psk || !ok_id || max_data > 16384) return LOCKSTEP_ERR_INVALID_ARGUMENT;
    if (workspace_len < Engine::workspace_size(max_data)) return LOCKSTEP_ERR_BUFFER_TOO_SMALL;

    Config cfg;
    cfg.role = c->role == LOCKSTEP_ROLE_SERVER ? Role::server : Role::client;
    cfg.modes = {static_cast<Mode>(mode)};
    cfg.policy = c->policy == LOCKSTEP_POLICY_TOLERANT ? Policy::tolerant : Policy::strict;
    cfg.max_data = max_data;
    cfg.rekey.after_responses = c->rekey_after;
    const auto psk = bytes(c->psk, c->psk_len), id = bytes(c->psk_id, c->psk_id_len);
    if (cfg.role == Role::client) {
        cfg.psk = psk;
        cfg.psk_id = id;
    }
    new (engine) CEngine(cfg, {workspace, workspace_len}, id, psk);
    return LOCKSTEP_OK;
}

void lockstep_engine_deinit(lockstep_engine* engine) {
    CEngine* c = get(engine);
    if (c == nullptr) return;
    c->~CEngine();  // the Engine wipes its keys
    secure_wipe(engine, sizeof(CEngine));
}

int lockstep_start(lockstep_engine* e, uint64_t now_ms, int64_t unix_ms) {
    CEngine* c = get(e);
    return c == nullptr ? LOCKSTEP_ERR_INVALID_ARGUMENT : code(c->engine.start(now_of(now_ms, unix_ms)));
}

int lockstep_receive(lockstep_engine* e, const uint8_t* msg, size_t len, uint64_t now_ms, int64_t unix_ms) {
    CEngine* c = get(e);
    if (c == nullptr || (msg == nullptr && len != 0)) return LOCKSTEP_ERR_INVALID_ARGUMENT;
    return code(c->engine.receive(bytes(msg, len), now_of(now_ms, unix_ms)));
}

int lockstep_on_timeout(lockstep_engine* e, uint64_t now_ms, int64_t unix_ms) {
    CEngine* c = get(e);
    return c == nullptr ? LOCKSTEP_ERR_INVALID_ARGUMENT : code(c->engine.on_timeout(now_of(now_ms, unix_ms)));
}

int lockstep_send_request(lockstep_engine* e, const uint8_t* body, size_t len, uint64_t now_ms, int64_t unix_ms) {
    CEngine* c = get(e);
    if (c == nullptr || (body == nullptr && len != 0)) return LOCKSTEP_ERR_INVALID_ARGUMENT;
    return code(c->engine.send_request(bytes(body, len), now_of(now_ms, unix_ms)));
}

int lockstep_send_response(lockstep_engine* e, const uint8_t* body, size_t len, uint64_t now_ms, int64_t unix_ms) {
    CEngine* c = get(e);
    if (c == nullptr || (body == nullptr && len != 0)) return LOCKSTEP_ERR_INVALID_ARGUMENT;
    return code(c->engine.send_response(bytes(body, len), now_of(now_ms, unix_ms)));
}

int lockstep_close(lockstep_engine* e, uint64_t now_ms, int64_t unix_ms) {
    CEngine* c = get(e);
    return c == nullptr ? LOCKSTEP_ERR_INVALID_ARGUMENT : code(c->engine.close(now_of(now_ms, unix_ms)));
}

long lockstep_poll_transmit(lockstep_engine* e, uint8_t* out, size_t out_len) {
    CEngine* c = get(e);
    if (c == nullptr || out == nullptr) return LOCKSTEP_ERR_INVALID_ARGUMENT;
    auto n = c->engine.poll_transmit({out, out_len});
    return n ? static_cast<long>(*n) : code(n.error());
}

int lockstep_poll_event(lockstep_engine* e, lockstep_event* out) {
    CEngine* c = get(e);
    Event ev;
    if (c == nullptr || out == nullptr || !c->engine.poll_event(ev)) return 0;
    out->kind = static_cast<int>(ev.kind);
    out->data = ev.data.data();
    out->data_len = ev.data.size();
    out->epoch = ev.epoch;
    out->reason = static_cast<int>(ev.reason);
    out->by_peer = ev.by_peer ? 1 : 0;
    out->acknowledged = ev.acknowledged ? 1 : 0;
    out->error = code(ev.error);
    return 1;
}

int lockstep_next_deadline(const lockstep_engine* e, uint64_t* deadline_ms) {
    const CEngine* c = get(e);
    if (c == nullptr || deadline_ms == nullptr) return 0;
    const auto d = c->engine.next_deadline();
    if (!d) return 0;
    *deadline_ms = static_cast<std::uint64_t>(d->since_origin.count());
    return 1;
}

int lockstep_is_established(const lockstep_engine* e) {
    const CEngine* c = get(e);
    return c != nullptr && c->engine.established() ? 1 : 0;
}
int lockstep_is_closed(const lockstep_engine* e) {
    const CEngine* c = get(e);
    return c == nullptr || c->engine.is_closed() ? 1 : 0;
}
int lockstep_can_send_request(const lockstep_engine* e) {
    const CEngine* c = get(e);
    return c != nullptr && c->engine.can_send_request() ? 1 : 0;
}
uint32_t lockstep_epoch(const lockstep_engine* e) {
    const CEngine* c = get(e);
    return c == nullptr ? 0 : c->engine.epoch();
}
const char* lockstep_state_name(const lockstep_engine* e) {
    const CEngine* c = get(e);
    return c == nullptr ? "invalid" : state_name(c->engine.state());
}

}  // extern "C"
