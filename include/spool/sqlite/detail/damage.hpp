#pragma once

// Telling a damaged spool database from another application's file, when
// SQLite cannot read it.

#include <spool/error.hpp>

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

namespace spool::detail::sqlite {

// SQLite could not read the file as a database, or found it inconsistent.
inline bool unreadable(int rc) { return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB; }

// A file SQLite cannot read is damaged when it still has the shape of an
// SQLite database: SQLite's header, or (with the first page gone) whole pages
// after it that begin as b-tree pages do. Anything else is another
// application's file. An operator told "damaged" recovers the file rather than
// throwing away a spool.
// `head` is the start of a file of `size` bytes.
inline bool has_database_pages(std::string_view head, std::size_t size) {
    for (std::size_t page = 512; page <= 65536; page *= 2) {
        if (size < 2 * page || size % page != 0) continue;
        for (std::size_t at = page; at < head.size() && at <= 8 * page; at += page) {
            const auto kind = static_cast<unsigned char>(head[at]); // interior or leaf, index or table
            if (kind == 0x02 || kind == 0x05 || kind == 0x0a || kind == 0x0d) return true;
        }
    }
    return false;
}
inline std::error_code damaged_or_foreign(const std::string& path) {
    constexpr std::string_view sqlite_header{"SQLite format 3\0", 16};
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0 || st.st_size <= 0) return errc::not_a_spool_store;
    std::string head(std::min<std::size_t>(static_cast<std::size_t>(st.st_size), std::size_t{1} << 20), '\0');
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errc::not_a_spool_store;
    const ssize_t n = ::read(fd, head.data(), head.size());
    ::close(fd);
    head.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    const bool damaged = head.rfind(sqlite_header, 0) == 0 || has_database_pages(head, static_cast<std::size_t>(st.st_size));
    return damaged ? errc::damaged_store : errc::not_a_spool_store;
}

} // namespace spool::detail::sqlite
