// SPDX-License-Identifier: Apache-2.0
// lockstep — the device registry: which devices exist, their PSKs, whether they
// are revoked, and which certificates are denied. One interface over two
// databases: SQLite (one file, the embedded default) and PostgreSQL (several
// servers sharing one fleet).
//
// How this works: every backend is a `Db` that runs SQL with positional
// parameters ($1, $2, ...); the registry logic (schema, migrations, queries) is
// written once over it. Every change (add, revoke, rotate, deny) also appends a
// row to `changes`, whose increasing `seq` lets a server's cache (cache.hpp)
// learn what changed since it last looked with one query.
// PSKs are stored raw or wrapped (AES-256-GCM under a wrap key file the server
// reads, wrap.hpp); the registry stores the format with the bytes.
//
// Not the protocol core: this layer allocates and throws (RegistryError with
// one clear line); the cache catches at the engine's noexcept boundary.
// Threading: a Registry is used by one thread at a time (the cache serialises).
// spec: PROTOCOL.md §7.4 (revocation); docs/DEPLOYMENT.md
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::registry {

using Buf = std::vector<std::uint8_t>;

class RegistryError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The schema this build writes and reads; a database at a newer version is refused.
inline constexpr int kSchemaVersion = 2;
inline constexpr std::size_t kMaxDeviceId = 64;  // = the wire's largest PSK identity

enum class DeviceState : std::uint8_t { active, revoked };
enum class PskFormat : std::uint8_t { none, raw, wrapped };  // none: a certificate-only device

const char* state_name(DeviceState s) noexcept;
const char* format_name(PskFormat f) noexcept;

struct Device {
    std::string id;  // PSK identity and/or certificate subject (1..64 bytes)
    DeviceState state = DeviceState::active;
    PskFormat psk_format = PskFormat::none;
    Buf psk;  // as stored: raw key bytes, or a wrapped blob (wrap.hpp)
    std::int64_t created = 0, rotated = 0;  // Unix seconds; rotated = created until a rotation
    std::optional<std::int64_t> revoked_at;
};

// A denied certificate: by serial (decimal) or by key id (16 hex digits).
enum class DenyKind : std::uint8_t { serial, key_id };
struct CertDenial {
    DenyKind kind = DenyKind::serial;
    std::string value;
    std::string note;
    std::int64_t at = 0;
};

// One row of the change log.
struct Change {
    std::int64_t seq = 0;
    std::string what;  // "device" or "cert"
    std::string key;   // the device id, or "<kind>:<value>" of the certificate
};

// One SQL connection. Parameters are $1..$n; a Param holds text or a blob;
// a result cell holds the text, or a blob's bytes, or nothing for NULL.
class Db {
public:
    struct Param {
        std::optional<std::string> bytes;  // nullopt: NULL
        bool blob = false;
    };
    using Row = std::vector<std::optional<std::string>>;
    virtual ~Db() = default;
    virtual const char* kind() const noexcept = 0;  // "sqlite", "postgresql"
    virtual std::vector<Row> query(std::string_view sql, const std::vector<Param>& params = {}) = 0;
    // SQL type names that differ between dialects.
    virtual const char* blob_type() const noexcept = 0;
    virtual const char* serial_key() const noexcept = 0;  // an auto-increment primary key column
    // Serialises schema migrations of several processes (PostgreSQL: an advisory lock).
    virtual void lock_schema() {}
    virtual void unlock_schema() {}
};

class Registry {
public:
    // "sqlite:PATH" (created if missing, mode 0600) or "postgresql://..." /
    // "postgres://..." (a libpq connection URI). Migrates the schema to
    // kSchemaVersion. RegistryError: cannot open, or a newer schema.
    static std::unique_ptr<Registry> open(const std::string& url);
    explicit Registry(std::unique_ptr<Db> db);

    int schema_version();
    const char* kind() const noexcept { return db_->kind(); }

    // add: RegistryError if the id exists or is invalid.
    void add(const Device& d);
    std::optional<Device> find(std::string_view id);
    std::vector<Device> list();
    std::int64_t count();
    // false: no such device.
    bool set_state(std::string_view id, DeviceState s, std::int64_t now);
    bool set_psk(std::string_view id, PskFormat f, const Buf& psk, std::int64_t now);
    // RegistryError if it is already denied.
    void deny(const CertDenial& d);
    std::vector<CertDenial> denials();
    std::int64_t last_change();
    std::vector<Change> changes_since(std::int64_t seq, std::size_t limit);

    // Several changes as one transaction (device import).
    void begin();
    void commit();
    void rollback() noexcept;

private:
    void migrate();
    void log_change(const char* what, const std::string& key, std::int64_t now);
    std::unique_ptr<Db> db_;
};

std::unique_ptr<Db> open_sqlite(const std::string& path);
std::unique_ptr<Db> open_postgresql(const std::string& uri);

// Parses a key id as 16 hex digits (lower-cased), a serial as a decimal or 0x-hex u64;
// nullopt if malformed. Denials store the serial in decimal.
std::optional<std::string> normal_key_id(std::string_view hex);
std::optional<std::uint64_t> parse_serial(std::string_view dec);
std::string key_id_hex(const std::uint8_t* id8);

}  // namespace lockstep::registry
