// SPDX-License-Identifier: Apache-2.0
// lockstep — the SQLite backend of the device registry (see registry.hpp):
// one file, created mode 0600 (it may hold raw PSKs), WAL journal so that the
// CLI can write while servers read, and a busy timeout instead of SQLITE_BUSY.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>

#include "registry/registry.hpp"

namespace lockstep::registry {

namespace {

constexpr int kBusyTimeoutMs = 5000;

class SqliteDb final : public Db {
public:
    explicit SqliteDb(const std::string& path) : path_(path) {
        // Create the file ourselves so it is 0600 from the first byte.
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) throw RegistryError("registry " + path + ": cannot open or create the file");
        struct stat sb {};
        const bool shared = ::fstat(fd, &sb) == 0 && (sb.st_mode & 077) != 0;
        ::close(fd);
        if (shared)
            throw RegistryError("registry " + path + " is readable by others (it may hold PSKs): chmod 600 " + path);
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
            const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            throw RegistryError("registry " + path + ": " + why);
        }
        sqlite3_busy_timeout(db_, kBusyTimeoutMs);
        (void)query("PRAGMA journal_mode=WAL", {});
        (void)query("PRAGMA foreign_keys=ON", {});
    }
    ~SqliteDb() override { sqlite3_close(db_); }

    const char* kind() const noexcept override { return "sqlite"; }
    const char* blob_type() const noexcept override { return "BLOB"; }
    const char* serial_key() const noexcept override { return "INTEGER PRIMARY KEY AUTOINCREMENT"; }

    std::vector<Row> query(std::string_view sql, const std::vector<Param>& params) override {
        // $N (PostgreSQL's positional parameter) is ?N here.
        std::string s(sql);
        for (std::size_t i = 0; i + 1 < s.size(); ++i)
            if (s[i] == '$' && std::isdigit(static_cast<unsigned char>(s[i + 1]))) s[i] = '?';
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, s.c_str(), static_cast<int>(s.size()), &st, nullptr) != SQLITE_OK)
            throw error("prepare");
        struct Finalize {
            sqlite3_stmt* st;
            ~Finalize() { sqlite3_finalize(st); }
        } fin{st};
        for (std::size_t i = 0; i < params.size(); ++i) {
            const int at = static_cast<int>(i + 1);
            const Param& p = params[i];
            int rc;
            if (!p.bytes) rc = sqlite3_bind_null(st, at);
            else if (p.blob) rc = sqlite3_bind_blob(st, at, p.bytes->data(), static_cast<int>(p.bytes->size()), SQLITE_TRANSIENT);
            else rc = sqlite3_bind_text(st, at, p.bytes->data(), static_cast<int>(p.bytes->size()), SQLITE_TRANSIENT);
            if (rc != SQLITE_OK) throw error("bind");
        }
        std::vector<Row> rows;
        for (;;) {
            const int rc = sqlite3_step(st);
            if (rc == SQLITE_DONE) break;
            if (rc != SQLITE_ROW) throw error("step");
            Row r;
            const int n = sqlite3_column_count(st);
            for (int c = 0; c < n; ++c) {
                const int type = sqlite3_column_type(st, c);
                if (type == SQLITE_NULL) {
                    r.emplace_back();
                } else if (type == SQLITE_BLOB) {
                    const auto* b = static_cast<const char*>(sqlite3_column_blob(st, c));
                    r.emplace_back(std::string(b, static_cast<std::size_t>(sqlite3_column_bytes(st, c))));
                } else {
                    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
                    r.emplace_back(std::string(t, static_cast<std::size_t>(sqlite3_column_bytes(st, c))));
                }
            }
            rows.push_back(std::move(r));
        }
        return rows;
    }

private:
    RegistryError error(const char* what) const {
        return RegistryError("registry " + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
    }
    std::string path_;
    sqlite3* db_ = nullptr;
};

}  // namespace

std::unique_ptr<Db> open_sqlite(const std::string& path) {
    if (path.empty()) throw RegistryError("registry sqlite: give a file, sqlite:PATH");
    return std::make_unique<SqliteDb>(path);
}

}  // namespace lockstep::registry
