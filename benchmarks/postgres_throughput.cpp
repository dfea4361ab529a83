// The processes of benchmarks/postgres_scaling.sh, which times them against
// one PostgreSQL 15 server (fsync and synchronous_commit on):
//   spool_postgres_throughput raw <conninfo> <messages>
//       the baseline: the rows a submit writes (a body row and a queue row),
//       64 messages per transaction, straight through libpq
//   spool_postgres_throughput submit <conninfo> <messages>
//       spool's client, 64 sends per transaction (client.batch)
//   spool_postgres_throughput steady <conninfo> <msg-per-second> <seconds>
//       spool's client at a steady rate (64 sends per transaction, paced),
//       for benchmarks/postgres_pressure.sh
//   spool_postgres_throughput spool <conninfo> <done-file> [lease-ms] [ms-per-message] [vacuum-ms]
//       a spooler with a transport that sends at once (or after the given
//       time, synchronously); it exits once <done-file> exists and nothing is
//       due (a message another process holds leased stays: it waits for it)
// Each prints its wall time in seconds.

#include "durable_workload.hpp"

#include <spool/spool.hpp>
#include <spool/postgres.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

namespace {

using spool_bench::discard_transport;
using spool_bench::one_kib_message;
constexpr int per_transaction = 64;

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int raw(const std::string& conninfo, long messages) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) return std::fprintf(stderr, "%s", PQerrorMessage(c)), 1;
    PQclear(PQexec(c, "CREATE TABLE raw_messages (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, folder bigint NOT NULL,"
                      " body bytea NOT NULL);"
                      "CREATE TABLE raw_queue (message_id bigint PRIMARY KEY REFERENCES raw_messages (id), submit_time bigint NOT NULL,"
                      " sequence bigint GENERATED ALWAYS AS IDENTITY, submit_flags bigint NOT NULL, next_attempt bigint NOT NULL);"
                      "CREATE INDEX ON raw_queue (submit_time, sequence); CREATE INDEX ON raw_queue (next_attempt)"));
    PQclear(PQprepare(c, "insert",
                      "WITH m AS (INSERT INTO raw_messages (folder, body) VALUES (1, $1) RETURNING id)"
                      " INSERT INTO raw_queue (message_id, submit_time, submit_flags, next_attempt) SELECT id, 1, 0, 0 FROM m",
                      0, nullptr));
    const std::string body = spool::encode(one_kib_message()); // the same bytes spool stores
    const char* values[] = {body.data()};
    const int lengths[] = {static_cast<int>(body.size())};
    const int formats[] = {1};
    const auto start = std::chrono::steady_clock::now();
    for (long done = 0; done < messages;) {
        PQclear(PQexec(c, "BEGIN"));
        for (int i = 0; i < per_transaction && done < messages; ++i, ++done) {
            PGresult* r = PQexecPrepared(c, "insert", 1, values, lengths, formats, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) return std::fprintf(stderr, "%s", PQresultErrorMessage(r)), 1;
            PQclear(r);
        }
        PQclear(PQexec(c, "COMMIT"));
    }
    std::printf("%.3f\n", seconds_since(start));
    PQfinish(c);
    return 0;
}

int submit(const std::string& conninfo, long messages) {
    spool::postgres_store store(conninfo);
    discard_transport unused;
    spool::spooler sp{store, unused}; // its client only: the spooling is other processes' work
    const auto m = one_kib_message();
    const auto start = std::chrono::steady_clock::now();
    for (long done = 0; done < messages;) {
        auto ec = sp.client().batch([&] {
            for (int i = 0; i < per_transaction && done < messages; ++i, ++done)
                if (!sp.client().send(m)) std::fprintf(stderr, "send failed\n");
        });
        if (ec) return std::fprintf(stderr, "batch: %s\n", ec.message().c_str()), 1;
    }
    std::printf("%.3f\n", seconds_since(start));
    return 0;
}

int steady(const std::string& conninfo, long rate, long seconds) {
    spool::postgres_store store(conninfo);
    discard_transport unused;
    spool::spooler sp{store, unused}; // its client only
    const auto m = one_kib_message();
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::seconds{seconds};
    long done = 0;
    while (std::chrono::steady_clock::now() < until) {
        auto ec = sp.client().batch([&] {
            for (int i = 0; i < per_transaction; ++i, ++done)
                if (!sp.client().send(m)) std::fprintf(stderr, "send failed\n");
        });
        if (ec) std::fprintf(stderr, "batch: %s\n", ec.message().c_str());
        // Paced: the next batch when the rate says, not at once (a late batch is not made up twice).
        const auto due = start + std::chrono::microseconds{done * 1000000 / rate};
        std::this_thread::sleep_until(due);
    }
    std::printf("%ld\n", done);
    return 0;
}

int spool_until_done(const std::string& conninfo, const std::string& done_file, long lease_ms, long ms_per_message, long vacuum_ms) {
    spool::postgres_options options;
    if (vacuum_ms >= 0) options.vacuum_interval = std::chrono::milliseconds{vacuum_ms};
    options.lease = std::chrono::milliseconds{lease_ms};
    options.claim_batch = 64;
    spool::postgres_store store(conninfo, options);
    spool::spooler sp{store, discard_transport{std::chrono::milliseconds{ms_per_message}}};
    const auto start = std::chrono::steady_clock::now();
    sp.start();
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
        if (std::filesystem::exists(done_file) && store.due_queue(spool::time_point::max(), 1).empty()) break;
    }
    sp.stop();
    std::printf("%.3f\n", seconds_since(start));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "raw" && argc == 4) return raw(argv[2], std::stol(argv[3]));
    if (mode == "submit" && argc == 4) return submit(argv[2], std::stol(argv[3]));
    if (mode == "steady" && argc == 5) return steady(argv[2], std::stol(argv[3]), std::stol(argv[4]));
    if (mode == "spool" && argc >= 4)
        return spool_until_done(argv[2], argv[3], argc > 4 ? std::stol(argv[4]) : 30000, argc > 5 ? std::stol(argv[5]) : 0,
                                argc > 6 ? std::stol(argv[6]) : -1);
    std::fprintf(stderr, "usage: see the comment at the top of benchmarks/postgres_throughput.cpp\n");
    return 2;
}
