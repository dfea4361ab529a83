#pragma once

// The PostgreSQL store's own error category, for errors that are the server's.

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace spool {

/// The server's SQLSTATE, for errors that are PostgreSQL's (a statement
/// timeout, a full disk, a refused login): the value is the five characters
/// read as a base-36 number, and message() gives them back with a name for
/// the common ones. A connection that is lost is errc::store_unavailable.
inline const std::error_category& postgres_category() noexcept {
    struct category final : std::error_category {
        const char* name() const noexcept override { return "postgres"; }
        std::string message(int code) const override {
            std::string state(5, '0');
            for (int i = 4; i >= 0; --i, code /= 36) state[static_cast<std::size_t>(i)] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[code % 36];
            static constexpr std::pair<std::string_view, std::string_view> known[] = {
                {"57014", "the statement was cancelled (statement_timeout)"},
                {"57P01", "the server is shutting down"},
                {"53100", "the server's disk is full"},
                {"53300", "the server has too many connections"},
                {"25006", "the transaction is read-only (a standby?)"},
                {"28P01", "the password was refused"},
                {"28000", "the login was refused"},
                {"3D000", "the database does not exist"},
                {"42501", "permission denied"},
                {"23505", "a unique key already exists"},
                {"40001", "serialization failure"},
                {"40P01", "deadlock detected"},
            };
            for (const auto& [sqlstate, text] : known)
                if (sqlstate == state) return "PostgreSQL: " + std::string(text) + " (SQLSTATE " + state + ")";
            return "PostgreSQL error (SQLSTATE " + state + ")";
        }
    };
    static const category instance;
    return instance;
}

} // namespace spool
