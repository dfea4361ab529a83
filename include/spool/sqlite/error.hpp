#pragma once

// The SQLite store's own error category, for errors that are SQLite's.

#include <sqlite3.h>

#include <string>
#include <system_error>

namespace spool {

/// SQLite's own result codes, for errors that are SQLite's (can't open, disk full, I/O).
inline const std::error_category& sqlite_category() noexcept {
    struct category final : std::error_category {
        const char* name() const noexcept override { return "sqlite"; }
        std::string message(int code) const override { return sqlite3_errstr(code); }
    };
    static const category instance;
    return instance;
}

} // namespace spool
