#pragma once

// libpq, as the PostgreSQL store uses it: one connection with its prepared
// statements, parameters and results in binary form (no text parsing of
// numbers or escaping of bodies), and libpq's failures as error codes.

#include <spool/error.hpp>
#include <spool/postgres/error.hpp>

#include <libpq-fe.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace spool::detail::postgres {

inline std::error_code sqlstate_error(const char* state) {
    if (!state || std::strlen(state) != 5) return errc::store_failure;
    int code = 0;
    for (int i = 0; i < 5; ++i) {
        const char c = state[i];
        const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'Z' ? c - 'A' + 10 : -1;
        if (digit < 0) return errc::store_failure;
        code = code * 36 + digit;
    }
    return {code, postgres_category()};
}

/// A prepared statement: its name on the connection and its text. Every one is
/// a constant of the store, prepared on a connection when first used there.
struct statement {
    const char* name;
    const char* sql;
};

/// Parameters in libpq's binary format: integers as 8 bytes in network
/// order, bodies as they are; arrays in text form ("{1,2}").
class params {
public:
    params& integer(std::int64_t v) {
        std::string be(8, '\0');
        for (int i = 7; i >= 0; --i, v = static_cast<std::int64_t>(static_cast<std::uint64_t>(v) >> 8))
            be[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
        return add(std::move(be), 1);
    }
    params& optional_integer(const std::int64_t* v) { return v ? integer(*v) : null(); }
    /// The bytes are not copied: they must outlive the statement's run.
    params& bytes(std::string_view v) {
        values_.push_back(v.data() ? v.data() : "");
        lengths_.push_back(static_cast<int>(v.size()));
        formats_.push_back(1);
        return *this;
    }
    params& text(std::string v) { return add(std::move(v), 0); }
    params& null() {
        values_.push_back(nullptr);
        lengths_.push_back(0);
        formats_.push_back(1);
        return *this;
    }

    int size() const noexcept { return static_cast<int>(values_.size()); }
    const char* const* values() {
        // Owned values were kept aside; their addresses are stable now.
        for (auto& [index, value] : owned_) values_[index] = value->data();
        return values_.data();
    }
    const int* lengths() const noexcept { return lengths_.data(); }
    const int* formats() const noexcept { return formats_.data(); }

private:
    params& add(std::string v, int format) {
        lengths_.push_back(static_cast<int>(v.size()));
        formats_.push_back(format);
        owned_.emplace_back(values_.size(), std::make_unique<std::string>(std::move(v)));
        values_.push_back(nullptr);
        return *this;
    }
    std::vector<const char*> values_;
    std::vector<int> lengths_;
    std::vector<int> formats_;
    std::vector<std::pair<std::size_t, std::unique_ptr<std::string>>> owned_;
};

/// A statement's result, with binary columns.
class result {
public:
    result() = default;
    explicit result(PGresult* r) : r_(r, &PQclear) {}

    bool ok() const noexcept {
        const auto status = r_ ? PQresultStatus(r_.get()) : PGRES_FATAL_ERROR;
        return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    }
    int rows() const noexcept { return r_ ? PQntuples(r_.get()) : 0; }
    std::size_t affected() const { return r_ ? std::strtoull(PQcmdTuples(r_.get()), nullptr, 10) : 0; }
    bool is_null(int row, int column) const { return PQgetisnull(r_.get(), row, column) != 0; }
    /// A bigint or boolean column, sent in binary.
    std::int64_t integer(int row, int column) const {
        const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, column));
        const int n = PQgetlength(r_.get(), row, column);
        std::uint64_t v = 0;
        for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
        if (n == 4) return static_cast<std::int32_t>(v);
        return static_cast<std::int64_t>(v);
    }
    std::string bytes(int row, int column) const {
        return {PQgetvalue(r_.get(), row, column), static_cast<std::size_t>(PQgetlength(r_.get(), row, column))};
    }
    const char* sqlstate() const { return r_ ? PQresultErrorField(r_.get(), PG_DIAG_SQLSTATE) : nullptr; }
    std::string server_message() const { return r_ ? PQresultErrorMessage(r_.get()) : "no result"; }

private:
    std::shared_ptr<PGresult> r_;
};

/// One libpq connection and the statements prepared on it.
class connection {
public:
    connection() = default;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() { close(); }

    /// Connects; an empty error when it worked. The text of a failure is in last_error().
    bool open(const std::string& conninfo) {
        close();
        // The connection string may be key=value pairs or a URI (expand_dbname);
        // it names the application unless it names one itself.
        const char* keywords[] = {"dbname", "fallback_application_name", nullptr};
        const char* values[] = {conninfo.c_str(), "spool", nullptr};
        conn_ = PQconnectdbParams(keywords, values, 1);
        if (PQstatus(conn_) != CONNECTION_OK) {
            last_error_ = PQerrorMessage(conn_);
            close();
            return false;
        }
        // The server's notices (NOTICE, WARNING) have no reader in a library: not printed.
        PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
        return true;
    }
    void close() {
        if (conn_) PQfinish(conn_);
        conn_ = nullptr;
        prepared_.clear();
    }
    bool connected() const noexcept { return conn_ && PQstatus(conn_) == CONNECTION_OK; }
    PGconn* native() const noexcept { return conn_; }
    const std::string& last_error() const noexcept { return last_error_; }

    /// Runs a prepared statement (preparing it on first use), results in binary.
    result run(const statement& st, params& p) {
        if (!prepared_.contains(st.name)) {
            result prep(PQprepare(conn_, st.name, st.sql, 0, nullptr));
            if (!prep.ok()) return keep_error(std::move(prep));
            prepared_.insert(st.name);
        }
        return keep_error(result(PQexecPrepared(conn_, st.name, p.size(), p.values(), p.lengths(), p.formats(), 1)));
    }
    result run(const statement& st) {
        params none;
        return run(st, none);
    }
    /// A command without parameters (transaction control, settings, DDL).
    result exec(const std::string& sql) { return keep_error(result(PQexec(conn_, sql.c_str()))); }

    /// The error of a failed result: errc::store_unavailable when the
    /// connection is gone (the caller reconnects), else the SQLSTATE.
    std::error_code error_of(const result& r) const {
        if (!connected()) return errc::store_unavailable;
        return sqlstate_error(r.sqlstate());
    }

private:
    result keep_error(result r) {
        if (!r.ok()) last_error_ = r.server_message();
        return r;
    }

    PGconn* conn_ = nullptr;
    std::set<std::string_view> prepared_;
    std::string last_error_;
};

} // namespace spool::detail::postgres
