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
#include <stdexcept>
#include <span>
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
/// order, bodies as they are, arrays in PostgreSQL's binary array format.
class params {
public:
    params& integer(std::int64_t v) {
        std::string be;
        append_be(be, 8, static_cast<std::uint64_t>(v));
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
    /// A bigint[] in the binary array format: no text to print and parse.
    params& integers(std::span<const std::int64_t> v) {
        std::string out = array_header(v.size(), int8_oid);
        out.reserve(array_header_size + 12 * v.size());
        for (std::int64_t x : v) {
            append_be(out, 4, 8);
            append_be(out, 8, static_cast<std::uint64_t>(x));
        }
        return add(std::move(out), 1);
    }
    /// A bytea[] in the binary array format: the bodies copied once, unescaped.
    params& byte_strings(std::span<const std::string> v) {
        std::size_t size = array_header_size;
        for (const auto& b : v) size += 4 + b.size();
        std::string out = array_header(v.size(), bytea_oid);
        out.reserve(size);
        for (const auto& b : v) {
            append_be(out, 4, b.size());
            out += b;
        }
        return add(std::move(out), 1);
    }
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
    // PostgreSQL's binary array: dimensions, a null flag, the element type,
    // then the one dimension's length and lower bound; each element follows
    // with its length.
    static constexpr std::uint32_t int8_oid = 20, bytea_oid = 17;
    static constexpr std::size_t array_header_size = 20;
    static void append_be(std::string& out, int bytes, std::uint64_t v) {
        for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
    }
    static std::string array_header(std::size_t n, std::uint32_t element) {
        std::string out;
        append_be(out, 4, 1);       // dimensions
        append_be(out, 4, 0);       // no nulls
        append_be(out, 4, element); // element type
        append_be(out, 4, n);       // length
        append_be(out, 4, 1);       // lower bound
        return out;
    }

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
    /// The index of the column `name`. A name the statement lacks is a defect
    /// in spool: std::logic_error.
    int column(std::string_view name) const {
        const int c = r_ ? PQfnumber(r_.get(), std::string(name).c_str()) : -1;
        if (c < 0) throw std::logic_error("spool: PostgreSQL store: a statement has no column " + std::string(name));
        return c;
    }
    /// A column of the first row, by name: whether a conditional write wrote, say.
    bool flag(std::string_view name) const { return rows() > 0 && integer(0, column(name)) != 0; }
    const char* sqlstate() const { return r_ ? PQresultErrorField(r_.get(), PG_DIAG_SQLSTATE) : nullptr; }
    std::string server_message() const { return r_ ? PQresultErrorMessage(r_.get()) : "no result"; }

private:
    std::shared_ptr<PGresult> r_;
};

/// One row of a result, as the store kit's column readers
/// (stores/detail/queue_columns.hpp) read it.
class row {
public:
    row(const result& r, int i) : r_(r), i_(i) {}
    int column(std::string_view name) const { return r_.column(name); }
    std::int64_t integer(int c) const { return r_.integer(i_, c); }
    std::string text(int c) const { return r_.bytes(i_, c); }
    bool null(int c) const { return r_.is_null(i_, c); }

private:
    const result& r_;
    int i_;
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
