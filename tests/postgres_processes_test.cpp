// Spooler processes and a submitter on one PostgreSQL queue, with short
// leases (1 s). In each cycle one process is killed (SIGKILL) while it holds
// leases with hand-offs in flight, and another is paused (SIGSTOP) past its
// lease and resumed. The killed one is started again. At the end: no accepted
// message is lost; no process's write of a queue row was accepted after
// another process had claimed the message (checked by the database itself, a
// trigger that records every such write). How many went out twice is
// reported: at least once permits it, after a kill, a pause, or a machine
// that starves a process past its lease. Run with quick hand-offs, and with hand-offs longer than the
// lease, which the holder must renew while they run.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/postgres_schema.hpp"

#include <spool/spool.hpp>
#include <spool/postgres.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace std::chrono_literals;
using spool_test::mail;
using spool_test::smtp;

namespace {

constexpr auto lease = 1000ms;

struct worker {
    pid_t pid = 0;
};

pid_t start_worker(const std::string& conninfo, const std::string& log, const std::string& dir, int n, std::chrono::milliseconds handoff) {
    const std::string ready = dir + "/ready-" + std::to_string(n);
    std::filesystem::remove(ready);
    const std::string lease_ms = std::to_string(lease.count());
    std::vector<std::string> args{SPOOL_POSTGRES_WORKER, conninfo, lease_ms, log, ready, std::to_string(handoff.count())};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(posix_spawn(&pid, SPOOL_POSTGRES_WORKER, nullptr, nullptr, argv.data(), environ) == 0);
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (!std::filesystem::exists(ready)) {
        int status = 0;
        REQUIRE(waitpid(pid, &status, WNOHANG) == 0); // it did not die on start
        REQUIRE(std::chrono::steady_clock::now() < until);
        std::this_thread::sleep_for(10ms);
    }
    return pid;
}

int cycles(int otherwise) {
    const char* n = std::getenv("SPOOL_POSTGRES_KILL_CYCLES");
    return n ? std::atoi(n) : otherwise;
}

// Every write of a queue row (an update or a delete) by a session other than
// the last claimant of the message is recorded in stale_writes: a claim is the
// update that bumps the fencing token, and the claimant is the session's
// application_name (each worker names its connections as its leases). With
// the lease still live, such a write overrides the holder; with it expired
// or released, it overrides whatever the holder wrote. Either way it is a
// stale write that the fencing token should have refused.
void record_stale_writes(const spool_test::postgres_schema& schema) {
    schema.sql(R"(
        CREATE TABLE claimant (message_id bigint PRIMARY KEY, owner text NOT NULL);
        CREATE TABLE stale_writes (message_id bigint, op text, writer text, claimant text, lease_live boolean);
        CREATE FUNCTION record_stale_write() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            me text := current_setting('application_name');
            holder text;
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW.fence = OLD.fence + 1 THEN
                INSERT INTO claimant VALUES (NEW.message_id, me) ON CONFLICT (message_id) DO UPDATE SET owner = EXCLUDED.owner;
                RETURN NEW;
            END IF;
            SELECT owner INTO holder FROM claimant WHERE message_id = OLD.message_id;
            IF holder IS NOT NULL AND holder <> me THEN
                INSERT INTO stale_writes VALUES (OLD.message_id, TG_OP, me, holder, coalesce(OLD.lease_until > clock_timestamp(), false));
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER record_stale_write BEFORE UPDATE OR DELETE ON spool_queue FOR EACH ROW EXECUTE FUNCTION record_stale_write();)");
}

struct scenario {
    int processes;
    std::chrono::milliseconds handoff; // how long each hand-off takes
    std::chrono::milliseconds pause;   // how long a process is stopped, past its lease
    int cycles;
};

void share_one_queue(const scenario& how) {
    spool_test::postgres_schema schema;
    const std::string dir = std::filesystem::temp_directory_path() / ("spool-pg-processes-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string log = dir + "/transmissions";

    spool::postgres_store submit_store(schema.conninfo()); // makes the tables, before the workers start
    record_stale_writes(schema);
    spool::memory_transport unused;
    spool::spooler submitter{submit_store, unused}; // never runs: its client submits, as another process would

    std::vector<pid_t> workers;
    for (int i = 0; i < how.processes; ++i) workers.push_back(start_worker(schema.conninfo(), log, dir, i, how.handoff));
    std::set<pid_t> killed, paused;
    std::set<spool::message_id> accepted;
    const int rounds = how.cycles;
    for (int c = 0; c < rounds; ++c) {
        for (int batch = 0; batch < 4; ++batch)
            REQUIRE_FALSE(submitter.client().batch([&] {
                for (int i = 0; i < 50; ++i)
                    accepted.insert(submitter.client().send(mail({smtp("r" + std::to_string(i) + "@c" + std::to_string(c))})).value());
            }));
        std::this_thread::sleep_for(150ms); // hand-offs in flight everywhere
        const auto n = static_cast<std::size_t>(how.processes);
        const std::size_t victim = static_cast<std::size_t>(c) % n, sleeper = (victim + 1) % n;
        ::kill(workers[victim], SIGKILL);
        ::waitpid(workers[victim], nullptr, 0);
        killed.insert(workers[victim]);
        ::kill(workers[sleeper], SIGSTOP);
        paused.insert(workers[sleeper]);
        std::this_thread::sleep_for(how.pause); // past its lease: the others claim its messages
        ::kill(workers[sleeper], SIGCONT);
        workers[victim] = start_worker(schema.conninfo(), log, dir, 100 + c, how.handoff);
    }
    // Every accepted message ends up sent, however long the recoveries take.
    const auto until = std::chrono::steady_clock::now() + 120s;
    while (!submit_store.outgoing_queue().empty() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
    std::this_thread::sleep_for(how.handoff + 300ms); // late completions of resumed processes
    for (pid_t pid : workers) ::kill(pid, SIGTERM);
    for (pid_t pid : workers) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }

    INFO(rounds << " kill cycles, " << how.processes << " processes, hand-offs of " << how.handoff.count() << " ms, "
                << accepted.size() << " messages");
    // The safety property itself, from the database's side: no stale write accepted.
    const std::string stale = schema.value("SELECT count(*) FROM stale_writes");
    const std::string stale_live = schema.value("SELECT count(*) FROM stale_writes WHERE lease_live");
    INFO("stale writes accepted: " << stale << " (" << stale_live << " while another process held a live lease)");
    CHECK(stale == "0");
    CHECK(submit_store.outgoing_queue().empty());
    const auto sent = submit_store.contents(spool::folders::sent_items);
    CHECK(std::set<spool::message_id>(sent.begin(), sent.end()) == accepted); // 0 accepted messages lost
    for (spool::message_id id : sent) {
        const auto m = submit_store.load(id).value();
        CHECK(spool_test::is<spool::status::sent>(m.recipients[0]));
    }

    std::map<std::uint64_t, std::vector<pid_t>> transmissions;
    std::ifstream in(log);
    for (std::uint64_t id = 0; in >> id;) {
        pid_t pid = 0;
        in >> pid;
        transmissions[id].push_back(pid);
    }
    CHECK(transmissions.size() == accepted.size());
    std::size_t again = 0, twice_by_free_processes = 0;
    for (const auto& [id, by] : transmissions) {
        if (by.size() < 2) continue;
        ++again;
        std::size_t free_runs = 0;
        for (pid_t pid : by) free_runs += !killed.contains(pid) && !paused.contains(pid);
        if (free_runs > 1) ++twice_by_free_processes;
    }
    std::size_t refused = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().filename().string().rfind("transmissions.", 0) != 0) continue;
        std::ifstream counts(entry.path());
        std::size_t n = 0;
        if (counts >> n) refused += n;
    }
    // Duplicates are what at least once permits. A process never stopped by
    // the test can still lose a lease when the machine starves it for longer
    // than the lease (beside stress-ng on two cores, it did): so they are
    // reported, not asserted; the safety property is asserted above.
    WARN(again << " messages were transmitted more than once (at least once: after a kill or a pause), "
               << twice_by_free_processes << " of them by processes the test never stopped, " << refused
               << " late writes were refused by the fencing token, " << stale << " stale writes accepted");
    CHECK(refused > 0); // the scenario did what it is for: resumed processes tried to write outcomes the others had written
    std::filesystem::remove_all(dir);
}

} // namespace

TEST_CASE("four spooler processes share one queue through kills and pauses: nothing is lost, no stale write is accepted") {
    share_one_queue({.processes = 4, .handoff = 50ms, .pause = lease * 5 / 2, .cycles = cycles(10)});
}

TEST_CASE("hand-offs longer than the lease: renewed while they run, through kills and pauses, and no stale write is accepted") {
    share_one_queue({.processes = 3, .handoff = 2500ms, .pause = lease * 5 / 2, .cycles = cycles(4)});
}
