#pragma once

// SQLite as the store uses it: prepared statements kept per connection, and
// SQLite's failures as error codes.

#include <spool/error.hpp>
#include <spool/message.hpp>
#include <spool/sqlite/error.hpp>

#include <sqlite3.h>

#include <chrono>
#include <map>
#include <stdexcept>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace spool::detail::sqlite {

// A blob or row over SQLite's length limit is a message too large for this
// store, whichever statement found it.
inline std::error_code error(int code) {
    if ((code & 0xff) == SQLITE_TOOBIG) return errc::message_too_large;
    return {code & 0xff, sqlite_category()};
}

// Prepared statements, kept per connection and keyed by the SQL text's
// address (every statement is a string literal), so each is compiled once.
class statement_cache {
public:
    statement_cache() = default;
    statement_cache(const statement_cache&) = delete;
    statement_cache& operator=(const statement_cache&) = delete;
    ~statement_cache() {
        for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    }
    sqlite3_stmt* get(sqlite3* db, std::string_view sql, int& rc) {
        if (auto it = cache_.find(sql.data()); it != cache_.end()) return rc = SQLITE_OK, it->second;
        sqlite3_stmt* stmt = nullptr;
        rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
        if (rc == SQLITE_OK) cache_.emplace(sql.data(), stmt);
        return stmt;
    }

private:
    std::map<const char*, sqlite3_stmt*> cache_;
};

class statement {
public:
    /// A one-off statement, finalized when done.
    statement(sqlite3* db, std::string_view sql) {
        rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
    }
    /// A cached statement, reset for its next use when done.
    statement(statement_cache& cache, sqlite3* db, std::string_view sql) : cached_(true) {
        stmt_ = cache.get(db, sql, rc_);
    }
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement() {
        if (!cached_) {
            sqlite3_finalize(stmt_);
        } else if (stmt_) {
            sqlite3_reset(stmt_);
            sqlite3_clear_bindings(stmt_);
        }
    }

    bool ok() const noexcept { return rc_ == SQLITE_OK; }
    int prepare_result() const noexcept { return rc_; }
    // A bind that fails (a blob over SQLite's limit, say) is kept, and step()
    // returns it instead of running the statement without that value.
    statement& bind(int i, std::int64_t v) { return checked(sqlite3_bind_int64(stmt_, i, v)); }
    /// The blob must stay alive while this statement does: SQLite reads it in
    /// place rather than copying it (every blob here is a caller's local).
    statement& bind(int i, std::string_view blob) {
        return checked(sqlite3_bind_blob64(stmt_, i, blob.data(), blob.size(), SQLITE_STATIC));
    }
    int step() { return rc_ == SQLITE_OK ? sqlite3_step(stmt_) : rc_; }
    /// Runs a statement that returns no rows: its error, or none.
    std::error_code run();
    /// The index of the result column `name`. A name the statement lacks is
    /// a defect in spool: std::logic_error.
    int column(std::string_view name) const {
        for (int i = 0, n = sqlite3_column_count(stmt_); i < n; ++i)
            if (const char* c = sqlite3_column_name(stmt_, i); c && name == c) return i;
        throw std::logic_error("spool: SQLite store: a statement has no column " + std::string(name));
    }
    std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
    bool null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
    std::string text(int column) const {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string{};
    }

private:
    statement& checked(int rc) {
        if (rc_ == SQLITE_OK) rc_ = rc;
        return *this;
    }

    sqlite3_stmt* stmt_ = nullptr;
    int rc_ = SQLITE_OK;
    bool cached_ = false;
};

inline std::error_code statement::run() {
    const int rc = step();
    return rc == SQLITE_DONE ? std::error_code{} : error(rc);
}

inline int exec(sqlite3* db, std::string_view sql) {
    return sqlite3_exec(db, std::string(sql).c_str(), nullptr, nullptr, nullptr);
}

/// exec() for a statement without results that runs often (transaction
/// control): compiled once and kept, rather than parsed on every call.
inline int exec(statement_cache& cache, sqlite3* db, std::string_view sql) {
    statement st(cache, db, sql);
    if (!st.ok()) return st.prepare_result();
    const int rc = st.step();
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

} // namespace spool::detail::sqlite
