// A submit's suppression look-up against a list of 10 million entries, and
// the same against 1,000 in the same run (the baseline): the SQLite store's
// find_suppression, one indexed read either way. It prints SQLite's query
// plan for the look-up, the microseconds per look-up (present and absent
// addresses, in random order) and the ratio, with the load average.
//
//   build/bench/benchmarks/spool_suppression_lookup <folder> [entries]
//   build/bench/benchmarks/spool_suppression_lookup --postgres <conninfo> [entries]
//
// The big list is filled through the database directly, in one transaction,
// with rows of the shape the store writes: making 10 million entries through
// suppress(), a commit each, would take hours and measure nothing asked. With
// --postgres, the two lists are two schemas of one database (the conninfo's
// options are extended with a search_path), filled by generate_series.

#include <spool/postgres.hpp>
#include <spool/sqlite.hpp>

#include <libpq-fe.h>

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

std::string address(std::uint64_t i) { return "user" + std::to_string(i) + "@d" + std::to_string(i % 1000) + ".example"; }

void fill(const std::string& path, std::uint64_t entries) {
    { spool::sqlite_store made(path); } // the schema
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO suppressions (address, reason, diagnostic, added, expires, source) VALUES (?, ?, '5.1.1', ?, ?, ?)",
                       -1, &st, nullptr);
    const std::string reason = "550 5.1.1 <x>: Recipient address rejected: User unknown in virtual mailbox table";
    for (std::uint64_t i = 0; i < entries; ++i) {
        const std::string a = address(i);
        sqlite3_bind_blob64(st, 1, a.data(), a.size(), SQLITE_TRANSIENT);
        sqlite3_bind_blob64(st, 2, reason.data(), reason.size(), SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, 1'700'000'000'000'000'000);
        sqlite3_bind_int64(st, 4, INT64_MAX);
        sqlite3_bind_int64(st, 5, static_cast<sqlite3_int64>(i));
        if (sqlite3_step(st) != SQLITE_DONE) {
            std::fprintf(stderr, "insert failed: %s\n", sqlite3_errmsg(db));
            std::exit(1);
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db);
}

std::string plan(const std::string& path) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_stmt* st = nullptr;
    const std::string sql = "EXPLAIN QUERY PLAN " + std::string(spool::detail::sqlite::sql::find_suppression);
    sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    std::string out;
    while (sqlite3_step(st) == SQLITE_ROW) out += reinterpret_cast<const char*>(sqlite3_column_text(st, 3)) + std::string("; ");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

struct timing {
    double present_us, absent_us;
};

// A PostgreSQL list in schema `schema`, filled in one statement.
std::string pg_fill(const std::string& conninfo, const std::string& schema, std::uint64_t entries) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    const std::string sql = "DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema + ";";
    PQclear(PQexec(c, sql.c_str()));
    const std::string with_path = conninfo + " options='-c search_path=" + schema + "'";
    { spool::postgres_store made(with_path); } // the schema
    const std::string insert = "SET search_path = " + schema +
                               "; INSERT INTO spool_suppressions SELECT 'user' || i || '@d' || (i % 1000) || '.example',"
                               " '550 5.1.1 <x>: Recipient address rejected: User unknown in virtual mailbox table', '5.1.1',"
                               " 1700000000000000000, 9223372036854775807, i FROM generate_series(0, " + std::to_string(entries - 1) +
                               ") AS i; ANALYZE spool_suppressions;";
    PGresult* r = PQexec(c, insert.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        std::fprintf(stderr, "fill failed: %s\n", PQerrorMessage(c));
        std::exit(1);
    }
    PQclear(r);
    PQfinish(c);
    return with_path;
}

std::string pg_plan(const std::string& conninfo) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    PGresult* r = PQexec(c, "EXPLAIN SELECT address, reason, diagnostic, added, expires, source FROM spool_suppressions"
                            " WHERE address = 'user4242@d242.example' AND expires > 0");
    std::string out;
    for (int i = 0; i < PQntuples(r); ++i) out += std::string(PQgetvalue(r, i, 0)) + "; ";
    PQclear(r);
    PQfinish(c);
    return out;
}

// Microseconds per look-up, `rounds` of each kind, keys drawn at random.
template <class Store>
timing look_up(Store store, std::uint64_t entries, int rounds) {
    std::mt19937_64 random(42);
    const auto now = std::chrono::system_clock::now();
    std::vector<std::string> present, absent;
    for (int i = 0; i < rounds; ++i) {
        present.push_back(address(random() % entries));
        // Absent, but among the present ones in key order: the same descent, to a leaf that lacks it.
        absent.push_back(address(random() % entries) + "z");
    }
    auto run = [&](const std::vector<std::string>& keys, bool expect) {
        const auto start = std::chrono::steady_clock::now();
        for (const auto& k : keys) {
            const auto found = store.find_suppression(k, now);
            if (!found || found->has_value() != expect) {
                std::fprintf(stderr, "wrong answer for %s\n", k.c_str());
                std::exit(1);
            }
        }
        return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / static_cast<double>(keys.size());
    };
    run(present, true); // warm the cache as a running spooler's is
    return {run(present, true), run(absent, false)};
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s <folder> [entries]\n", argv[0]);
        return 2;
    }
    const bool postgres = std::string(argv[1]) == "--postgres";
    if (postgres && argc < 3) {
        std::fprintf(stderr, "usage: %s --postgres <conninfo> [entries]\n", argv[0]);
        return 2;
    }
    const int count_arg = postgres ? 3 : 2;
    const std::uint64_t big = argc > count_arg ? std::strtoull(argv[count_arg], nullptr, 10) : 10'000'000, small = 1'000;
    const int rounds = 100'000;
    std::ifstream load("/proc/loadavg");
    std::string before;
    std::getline(load, before);
    if (postgres) {
        const std::string conninfo = argv[2];
        const std::string small_info = pg_fill(conninfo, "suppress_small", small);
        const auto filling = std::chrono::steady_clock::now();
        const std::string big_info = pg_fill(conninfo, "suppress_big", big);
        const double fill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - filling).count();
        const timing s = look_up(spool::postgres_store(small_info), small, rounds / 10);
        const timing b = look_up(spool::postgres_store(big_info), big, rounds / 10);
        std::printf("load average before the run: %s\n", before.c_str());
        std::printf("query plan: %s\n", pg_plan(big_info).c_str());
        std::printf("filled %llu entries in %.1f s\n", static_cast<unsigned long long>(big), fill_s);
        std::printf("%-12s %14s %14s\n", "entries", "present (us)", "absent (us)");
        std::printf("%-12llu %14.2f %14.2f\n", static_cast<unsigned long long>(small), s.present_us, s.absent_us);
        std::printf("%-12llu %14.2f %14.2f\n", static_cast<unsigned long long>(big), b.present_us, b.absent_us);
        std::printf("ratio, big to small: present %.2f, absent %.2f\n", b.present_us / s.present_us, b.absent_us / s.absent_us);
        return 0;
    }
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    const auto small_db = (dir / "small.db").string(), big_db = (dir / "big.db").string();
    std::filesystem::remove(small_db);
    std::filesystem::remove(big_db);
    fill(small_db, small);
    const auto filling = std::chrono::steady_clock::now();
    fill(big_db, big);
    const double fill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - filling).count();
    const timing s = look_up(spool::sqlite_store(small_db), small, rounds), b = look_up(spool::sqlite_store(big_db), big, rounds);
    std::printf("load average before the run: %s\n", before.c_str());
    std::printf("query plan: %s\n", plan(big_db).c_str());
    std::printf("filled %llu entries in %.1f s; file %.0f MB\n", static_cast<unsigned long long>(big), fill_s,
                static_cast<double>(std::filesystem::file_size(big_db)) / 1e6);
    std::printf("%-12s %14s %14s\n", "entries", "present (us)", "absent (us)");
    std::printf("%-12llu %14.2f %14.2f\n", static_cast<unsigned long long>(small), s.present_us, s.absent_us);
    std::printf("%-12llu %14.2f %14.2f\n", static_cast<unsigned long long>(big), b.present_us, b.absent_us);
    std::printf("ratio, big to small: present %.2f, absent %.2f\n", b.present_us / s.present_us, b.absent_us / s.absent_us);
    return 0;
}
