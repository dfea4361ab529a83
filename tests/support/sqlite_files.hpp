#pragma once

// Reading and changing a database file behind the store's back, as damage,
// another program or an older spool would.

#include "catch.hpp"

#include "support/temp_dir.hpp"

#include <spool/spool.hpp>
#include <spool/mail/codec.hpp>
#include <spool/mail/detail/crc32c.hpp>
#include <spool/sqlite.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>

namespace spool_test {

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

inline void raw_sql(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    INFO((error ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
}

/// The stored bytes of one message, as the store wrote them.
inline std::string stored_body(const std::string& path, std::uint64_t id) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT body FROM messages WHERE id = ?", -1, &st, nullptr) == SQLITE_OK);
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(id));
    std::string body;
    if (sqlite3_step(st) == SQLITE_ROW)
        body.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)), static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return body;
}

/// Replaces one message's stored bytes.
/// A stored message whole by its checksum, in the format after this build's:
/// what a newer spool writes, which this one must keep as it is.
inline std::string newer_format_body() {
    std::string newer(1, static_cast<char>(spool::detail::message_format + 1));
    newer += "a layout from the future";
    const std::uint32_t sum = spool::detail::crc32c(newer);
    for (int i = 0; i < 4; ++i) newer += static_cast<char>((sum >> (8 * i)) & 0xff);
    return newer;
}

inline void store_body(const std::string& path, std::uint64_t id, const std::string& body) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "UPDATE messages SET body = ? WHERE id = ?", -1, &st, nullptr) == SQLITE_OK);
    sqlite3_bind_blob64(st, 1, body.data(), body.size(), SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(id));
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_DONE);
}

/// A spooler on an SQLite store in a fresh directory, with an in-memory
/// transport and a manual clock: what most SQLite tests start from.
struct sqlite_rig {
    temp_dir dir;
    std::string path = dir.file("spool.db");
    spool::sqlite_store store{path};
    spool::memory_transport transport;
    spool::manual_clock clock;
    spool::spooler<spool::sqlite_store, spool::memory_transport, spool::manual_clock> sp{store, transport, clock};
};

} // namespace spool_test
