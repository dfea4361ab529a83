#pragma once

// A schema of its own, in the throwaway cluster that the CTest fixture
// "postgres_cluster" runs (tests/postgres/cluster.sh), for one test: a store
// opened with conninfo() keeps its tables there, and the schema is dropped
// when the test ends. The fixture's connection string is in the file
// $SPOOL_POSTGRES/conninfo.

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace spool_test {

inline std::string cluster_conninfo() {
    const char* dir = std::getenv("SPOOL_POSTGRES");
    if (!dir) throw std::runtime_error("SPOOL_POSTGRES is not set: run this test through ctest (fixture postgres_cluster)");
    std::ifstream in(std::string(dir) + "/conninfo");
    std::string line;
    if (!std::getline(in, line) || line.empty()) throw std::runtime_error(std::string("no cluster is running: ") + dir + "/conninfo is missing");
    return line;
}

/// Runs SQL on a connection of its own; throws with the server's words on failure.
inline void run_sql(const std::string& conninfo, const std::string& sql) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
        std::string why = PQerrorMessage(c);
        PQfinish(c);
        throw std::runtime_error("cannot connect: " + why);
    }
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
    PGresult* r = PQexec(c, sql.c_str());
    const auto status = PQresultStatus(r);
    std::string why = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw std::runtime_error(sql + ": " + why);
}

/// The first column of the first row of a query, as text.
inline std::string query_value(const std::string& conninfo, const std::string& sql) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    PGresult* r = PQexec(c, sql.c_str());
    std::string out = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    std::string why = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    if (out.empty() && !why.empty()) throw std::runtime_error(sql + ": " + why);
    return out;
}

class postgres_schema {
public:
    postgres_schema() : base_(cluster_conninfo()) {
        static std::atomic<int> counter{0};
        name_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
        run_sql(base_, "DROP SCHEMA IF EXISTS " + name_ + " CASCADE; CREATE SCHEMA " + name_);
    }
    postgres_schema(const postgres_schema&) = delete;
    postgres_schema& operator=(const postgres_schema&) = delete;
    ~postgres_schema() {
        try {
            run_sql(base_, "DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
        } catch (...) {
            // The cluster is thrown away at the end anyway.
        }
    }
    /// A connection string whose search_path is this schema.
    std::string conninfo() const { return base_ + " options='-csearch_path=" + name_ + "'"; }
    const std::string& name() const { return name_; }
    void sql(const std::string& statements) const { run_sql(conninfo(), statements); }
    std::string value(const std::string& query) const { return query_value(conninfo(), query); }

private:
    std::string base_;
    std::string name_;
};

} // namespace spool_test
