// SPDX-License-Identifier: Apache-2.0
// lockstep — the device registry over one Db (see registry.hpp).
#include "registry/registry.hpp"

#include <charconv>

namespace lockstep::registry {

namespace {

using Param = Db::Param;

Param text(std::string_view s) { return Param{std::string(s), false}; }
Param num(std::int64_t v) { return Param{std::to_string(v), false}; }
Param blob(const Buf& b) { return Param{std::string(b.begin(), b.end()), true}; }

std::int64_t to_i64(const std::optional<std::string>& c) {
    std::int64_t v = 0;
    if (!c) return 0;
    const auto r = std::from_chars(c->data(), c->data() + c->size(), v);
    if (r.ec != std::errc{}) throw RegistryError("registry: a number column holds '" + *c + "'");
    return v;
}

// Migrations, in order: index i takes the schema from version i to i + 1.
// {blob} and {serial} are the dialect's blob type and auto-increment key.
constexpr const char* kMigrations[][4] = {
    {// 1: devices
     "CREATE TABLE devices (id TEXT PRIMARY KEY, state TEXT NOT NULL CHECK (state IN ('active', 'revoked')),"
     " psk_format TEXT NOT NULL CHECK (psk_format IN ('none', 'raw', 'wrapped')), psk {blob},"
     " created_at BIGINT NOT NULL, rotated_at BIGINT NOT NULL, revoked_at BIGINT)",
     nullptr, nullptr, nullptr},
    {// 2: denied certificates and the change log the servers' caches follow
     "CREATE TABLE denied_certs (kind TEXT NOT NULL CHECK (kind IN ('serial', 'key_id')), value TEXT NOT NULL,"
     " note TEXT NOT NULL, denied_at BIGINT NOT NULL, PRIMARY KEY (kind, value))",
     "CREATE TABLE changes (seq {serial}, what TEXT NOT NULL, key TEXT NOT NULL, at BIGINT NOT NULL)",
     "CREATE INDEX changes_by_key ON changes (what, key)", nullptr},
};
static_assert(std::size(kMigrations) == kSchemaVersion);

std::string dialect(const char* sql, const Db& db) {
    std::string s(sql);
    for (auto [from, to] : {std::pair<std::string_view, const char*>{"{blob}", db.blob_type()},
                            std::pair<std::string_view, const char*>{"{serial}", db.serial_key()}}) {
        for (std::size_t at; (at = s.find(from)) != std::string::npos;) s.replace(at, from.size(), to);
    }
    return s;
}

DeviceState parse_state(const std::optional<std::string>& c) {
    return c && *c == "revoked" ? DeviceState::revoked : DeviceState::active;
}
PskFormat parse_format(const std::optional<std::string>& c) {
    if (c && *c == "raw") return PskFormat::raw;
    if (c && *c == "wrapped") return PskFormat::wrapped;
    return PskFormat::none;
}

constexpr const char* kDeviceColumns = "id, state, psk_format, psk, created_at, rotated_at, revoked_at";

Device device_from(const Db::Row& r) {
    Device d;
    d.id = r[0].value_or("");
    d.state = parse_state(r[1]);
    d.psk_format = parse_format(r[2]);
    if (r[3]) d.psk.assign(r[3]->begin(), r[3]->end());
    d.created = to_i64(r[4]);
    d.rotated = to_i64(r[5]);
    if (r[6]) d.revoked_at = to_i64(r[6]);
    return d;
}

const char* kind_text(DenyKind k) { return k == DenyKind::serial ? "serial" : "key_id"; }

}  // namespace

const char* state_name(DeviceState s) noexcept { return s == DeviceState::revoked ? "revoked" : "active"; }
const char* format_name(PskFormat f) noexcept {
    return f == PskFormat::raw ? "raw" : f == PskFormat::wrapped ? "wrapped" : "none";
}

std::unique_ptr<Registry> Registry::open(const std::string& url) {
    if (url.rfind("sqlite:", 0) == 0) return std::make_unique<Registry>(open_sqlite(url.substr(7)));
    if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
        return std::make_unique<Registry>(open_postgresql(url));
    throw RegistryError("registry '" + url + "': give sqlite:PATH or postgresql://...");
}

Registry::Registry(std::unique_ptr<Db> db) : db_(std::move(db)) { migrate(); }

int Registry::schema_version() {
    auto t = db_->query("SELECT COUNT(*) FROM schema_version");
    if (to_i64(t.at(0).at(0)) == 0) return 0;
    return static_cast<int>(to_i64(db_->query("SELECT version FROM schema_version").at(0).at(0)));
}

// Each migration and its version bump form one transaction, so a crash leaves
// either version. Several processes starting at once take turns (lock_schema).
void Registry::migrate() {
    db_->lock_schema();
    try {
        db_->query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        int v = schema_version();
        if (v > kSchemaVersion)
            throw RegistryError("registry schema version " + std::to_string(v) + " is newer than this build's " +
                                std::to_string(kSchemaVersion) + "; upgrade lockstep");
        for (; v < kSchemaVersion; ++v) {
            db_->query("BEGIN");
            try {
                for (const char* sql : kMigrations[v])
                    if (sql != nullptr) db_->query(dialect(sql, *db_));
                db_->query("DELETE FROM schema_version");
                db_->query("INSERT INTO schema_version (version) VALUES ($1)", {num(v + 1)});
                db_->query("COMMIT");
            } catch (...) {
                rollback();
                throw;
            }
        }
    } catch (...) {
        db_->unlock_schema();
        throw;
    }
    db_->unlock_schema();
}

void Registry::log_change(const char* what, const std::string& key, std::int64_t now) {
    db_->query("INSERT INTO changes (what, key, at) VALUES ($1, $2, $3)", {text(what), text(key), num(now)});
}

void Registry::add(const Device& d) {
    if (d.id.empty() || d.id.size() > kMaxDeviceId)
        throw RegistryError("device id must be 1.." + std::to_string(kMaxDeviceId) + " bytes");
    if (find(d.id)) throw RegistryError("device '" + d.id + "' exists already");
    const Param psk = d.psk_format == PskFormat::none ? Param{} : blob(d.psk);
    db_->query("INSERT INTO devices (id, state, psk_format, psk, created_at, rotated_at, revoked_at)"
               " VALUES ($1, $2, $3, $4, $5, $6, $7)",
               {text(d.id), text(state_name(d.state)), text(format_name(d.psk_format)), psk, num(d.created),
                num(d.rotated), d.revoked_at ? num(*d.revoked_at) : Param{}});
    log_change("device", d.id, d.created);
}

std::optional<Device> Registry::find(std::string_view id) {
    auto rows = db_->query(std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE id = $1", {text(id)});
    if (rows.empty()) return std::nullopt;
    return device_from(rows[0]);
}

std::vector<Device> Registry::list() {
    std::vector<Device> out;
    for (const auto& r : db_->query(std::string("SELECT ") + kDeviceColumns + " FROM devices ORDER BY id"))
        out.push_back(device_from(r));
    return out;
}

std::int64_t Registry::count() { return to_i64(db_->query("SELECT COUNT(*) FROM devices").at(0).at(0)); }

bool Registry::set_state(std::string_view id, DeviceState s, std::int64_t now) {
    if (!find(id)) return false;
    db_->query("UPDATE devices SET state = $1, revoked_at = $2 WHERE id = $3",
               {text(state_name(s)), s == DeviceState::revoked ? num(now) : Param{}, text(id)});
    log_change("device", std::string(id), now);
    return true;
}

bool Registry::set_psk(std::string_view id, PskFormat f, const Buf& psk, std::int64_t now) {
    if (!find(id)) return false;
    db_->query("UPDATE devices SET psk_format = $1, psk = $2, rotated_at = $3 WHERE id = $4",
               {text(format_name(f)), blob(psk), num(now), text(id)});
    log_change("device", std::string(id), now);
    return true;
}

void Registry::deny(const CertDenial& d) {
    auto rows = db_->query("SELECT COUNT(*) FROM denied_certs WHERE kind = $1 AND value = $2",
                           {text(kind_text(d.kind)), text(d.value)});
    if (to_i64(rows.at(0).at(0)) != 0) throw RegistryError(std::string(kind_text(d.kind)) + " " + d.value + " is denied already");
    db_->query("INSERT INTO denied_certs (kind, value, note, denied_at) VALUES ($1, $2, $3, $4)",
               {text(kind_text(d.kind)), text(d.value), text(d.note), num(d.at)});
    log_change("cert", std::string(kind_text(d.kind)) + ":" + d.value, d.at);
}

std::vector<CertDenial> Registry::denials() {
    std::vector<CertDenial> out;
    for (const auto& r : db_->query("SELECT kind, value, note, denied_at FROM denied_certs ORDER BY kind, value"))
        out.push_back(CertDenial{r[0] == std::optional<std::string>("key_id") ? DenyKind::key_id : DenyKind::serial,
                                 r[1].value_or(""), r[2].value_or(""), to_i64(r[3])});
    return out;
}

std::int64_t Registry::last_change() {
    return to_i64(db_->query("SELECT COALESCE(MAX(seq), 0) FROM changes").at(0).at(0));
}

std::vector<Change> Registry::changes_since(std::int64_t seq, std::size_t limit) {
    std::vector<Change> out;
    for (const auto& r : db_->query("SELECT seq, what, key FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                                    {num(seq), num(static_cast<std::int64_t>(limit))}))
        out.push_back(Change{to_i64(r[0]), r[1].value_or(""), r[2].value_or("")});
    return out;
}

void Registry::begin() { db_->query("BEGIN"); }
void Registry::commit() { db_->query("COMMIT"); }
void Registry::rollback() noexcept {
    try {
        db_->query("ROLLBACK");
    } catch (...) {
    }
}

std::optional<std::string> normal_key_id(std::string_view hex) {
    if (hex.size() != 16) return std::nullopt;
    std::string out;
    for (char ch : hex) {
        const char l = static_cast<char>(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
        if (!((l >= '0' && l <= '9') || (l >= 'a' && l <= 'f'))) return std::nullopt;
        out.push_back(l);
    }
    return out;
}

std::optional<std::uint64_t> parse_serial(std::string_view dec) {
    std::uint64_t v = 0;
    int base = 10;
    if (dec.size() > 2 && dec[0] == '0' && (dec[1] == 'x' || dec[1] == 'X')) {
        dec.remove_prefix(2);
        base = 16;
    }
    const auto r = std::from_chars(dec.data(), dec.data() + dec.size(), v, base);
    if (dec.empty() || r.ec != std::errc{} || r.ptr != dec.data() + dec.size()) return std::nullopt;
    return v;
}

std::string key_id_hex(const std::uint8_t* id8) {
    constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 8; ++i) {
        s.push_back(kHex[id8[i] >> 4]);
        s.push_back(kHex[id8[i] & 15]);
    }
    return s;
}

}  // namespace lockstep::registry
