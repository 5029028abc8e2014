// SPDX-License-Identifier: Apache-2.0
// lockstep — the PostgreSQL backend of the device registry (see registry.hpp),
// over libpq: one connection, parameters sent out of line (never spliced into
// SQL), blobs sent binary, results read as text (bytea in its hex form). A lost
// connection is re-opened once per query before the error is reported.
#include <libpq-fe.h>

#include "registry/registry.hpp"

namespace lockstep::registry {

namespace {

// Any fixed 64-bit key: the advisory lock that serialises migrations.
constexpr long long kSchemaLockKey = 0x6c6f636b73746570;  // "lockstep"

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class PgDb final : public Db {
public:
    explicit PgDb(const std::string& uri) : conn_(PQconnectdb(uri.c_str())) {
        if (PQstatus(conn_) != CONNECTION_OK) {
            const std::string why = conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory";
            PQfinish(conn_);
            throw RegistryError("registry postgresql: cannot connect: " + trim(why));
        }
        (void)query("SET client_min_messages = warning", {});
    }
    ~PgDb() override { PQfinish(conn_); }

    const char* kind() const noexcept override { return "postgresql"; }
    const char* blob_type() const noexcept override { return "BYTEA"; }
    const char* serial_key() const noexcept override { return "BIGSERIAL PRIMARY KEY"; }
    void lock_schema() override { (void)query("SELECT pg_advisory_lock(" + std::to_string(kSchemaLockKey) + ")", {}); }
    void unlock_schema() override {
        try {
            (void)query("SELECT pg_advisory_unlock(" + std::to_string(kSchemaLockKey) + ")", {});
        } catch (const RegistryError&) {
        }
    }

    std::vector<Row> query(std::string_view sql, const std::vector<Param>& params) override {
        if (PQstatus(conn_) != CONNECTION_OK) PQreset(conn_);
        const std::string s(sql);
        std::vector<const char*> values;
        std::vector<int> lengths, formats;
        for (const Param& p : params) {
            values.push_back(p.bytes ? p.bytes->data() : nullptr);
            lengths.push_back(p.bytes ? static_cast<int>(p.bytes->size()) : 0);
            formats.push_back(p.blob ? 1 : 0);
        }
        // Text parameters are NUL-terminated by std::string; blobs carry their length.
        PGresult* res = PQexecParams(conn_, s.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                                     lengths.data(), formats.data(), 0);
        struct Clear {
            PGresult* r;
            ~Clear() { PQclear(r); }
        } clear{res};
        const ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            throw RegistryError("registry postgresql: " + trim(PQerrorMessage(conn_)));
        std::vector<Row> rows;
        const int n = PQntuples(res), cols = PQnfields(res);
        for (int i = 0; i < n; ++i) {
            Row r;
            for (int c = 0; c < cols; ++c) {
                if (PQgetisnull(res, i, c)) {
                    r.emplace_back();
                    continue;
                }
                std::string v(PQgetvalue(res, i, c), static_cast<std::size_t>(PQgetlength(res, i, c)));
                constexpr Oid kByteaOid = 17;
                if (PQftype(res, c) == kByteaOid) v = unhex_bytea(v);
                r.emplace_back(std::move(v));
            }
            rows.push_back(std::move(r));
        }
        return rows;
    }

private:
    static std::string trim(std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        for (char& c : s)
            if (c == '\n') c = ' ';
        return s;
    }
    // bytea text output (bytea_output = hex): "\x" then two hex digits a byte.
    static std::string unhex_bytea(const std::string& t) {
        if (t.size() < 2 || t[0] != '\\' || t[1] != 'x' || t.size() % 2 != 0)
            throw RegistryError("registry postgresql: unexpected bytea text (set bytea_output = hex)");
        std::string out;
        for (std::size_t i = 2; i < t.size(); i += 2) {
            const int hi = hex_value(t[i]), lo = hex_value(t[i + 1]);
            if (hi < 0 || lo < 0) throw RegistryError("registry postgresql: bad bytea text");
            out.push_back(static_cast<char>(hi * 16 + lo));
        }
        return out;
    }
    PGconn* conn_;
};

}  // namespace

std::unique_ptr<Db> open_postgresql(const std::string& uri) { return std::make_unique<PgDb>(uri); }

}  // namespace lockstep::registry
