// Kills a spooler on the SQLite store with SIGKILL at random points, again and
// again, and checks after every kill and at the end: the database is sound,
// no accepted message is lost, no recipient recorded as sent is transmitted
// again, and duplicates come only from recipients in flight at a kill.

#include "../catch.hpp"
#include "../support/temp_dir.hpp"

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

pid_t run_child(const std::vector<std::string>& args) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

int iterations() {
    const char* env = std::getenv("SPOOL_CRASH_ITERATIONS");
    return env ? std::atoi(env) : 500;
}


// How long a child takes to submit and send `per_round` messages, unkilled,
// on this machine's disk: the kills land anywhere in that window. (A fixed
// window shorter than a commit's fsync would kill every child before it
// accepted anything, and the test would prove nothing.)
int calibrated_wait_us(const std::string& mode, int per_round) {
    spool_test::temp_dir scratch;
    std::vector<std::string> args{SPOOL_CRASH_CHILD, scratch.file("c.db"), scratch.file("d.log"), scratch.file("a.log"), "0",
                                  std::to_string(per_round)};
    if (!mode.empty()) args.push_back(mode);
    // Once to create the database, then timed on an existing one, as most
    // rounds run. The quickest run bounds the window, so that nearly every
    // child is killed mid-work even if the machine is quicker later than now.
    int quickest = 0;
    for (int run = 0; run < 4; ++run) {
        const auto start = std::chrono::steady_clock::now();
        const pid_t pid = run_child(args);
        int status = 0;
        ::waitpid(pid, &status, 0);
        REQUIRE(WIFEXITED(status));
        REQUIRE(WEXITSTATUS(status) == 0);
        const auto took = static_cast<int>(
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
        if (run > 0) quickest = run == 1 ? took : std::min(quickest, took);
    }
    return quickest;
}

// One crash run: `rounds` children, each killed at a random point, then one
// that finishes the queue. `mode` is passed to the child ("" or "async").
void crash_run(const std::string& mode, int rounds, int per_round) {
    spool_test::temp_dir dir;
    const auto db = dir.file("spool.db"), deliveries = dir.file("deliveries.log"), accepted = dir.file("accepted.log");
    const int max_wait_us = calibrated_wait_us(mode, per_round);
    std::mt19937 random(20261122); // fixed: a failure can be replayed
    std::uniform_int_distribution<int> wait_us(0, max_wait_us);

    std::map<std::string, std::size_t> sent_since;   // key -> log lines when it was first seen recorded as sent
    std::set<spool::message_id> finished_seen;
    int killed = 0, exited = 0;
    for (int round = 0; round < rounds; ++round) {
        std::vector<std::string> args{SPOOL_CRASH_CHILD, db, deliveries, accepted, std::to_string(round * per_round),
                                      std::to_string(per_round)};
        if (!mode.empty()) args.push_back(mode);
        const pid_t pid = run_child(args);
        REQUIRE(pid > 0);
        ::usleep(static_cast<useconds_t>(wait_us(random)));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) ++killed;
        else {
            REQUIRE(WEXITSTATUS(status) == 0);
            ++exited;
        }

        const std::size_t log_lines = lines_of(deliveries).size();
        auto store = spool::sqlite_store::open(db);
        REQUIRE(store);
        REQUIRE_FALSE(store->integrity_check());
        auto note_sent = [&](spool::message_id id) {
            const auto m = store->load(id).value();
            for (const auto& r : m.recipients)
                if (std::holds_alternative<spool::status::sent>(r.status))
                    sent_since.try_emplace(m.payload.subject + "/" + r.address, log_lines);
        };
        for (auto id : store->contents(spool::folders::outbox)) note_sent(id);
        for (auto id : store->contents(spool::folders::sent_items))
            if (finished_seen.insert(id).second) note_sent(id);
    }

    // One last run, not killed, to finish what is queued.
    std::vector<std::string> last_args{SPOOL_CRASH_CHILD, db, deliveries, accepted, "0", "0"};
    if (!mode.empty()) last_args.push_back(mode);
    const pid_t last = run_child(last_args);
    int status = 0;
    ::waitpid(last, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);

    const auto log = lines_of(deliveries);
    std::map<std::string, int> times;
    std::size_t resent_after_recorded = 0;
    for (std::size_t p = 0; p < log.size(); ++p) {
        ++times[log[p]];
        auto it = sent_since.find(log[p]);
        if (it != sent_since.end() && p >= it->second) ++resent_after_recorded;
    }
    std::size_t lost = 0, messages = 0;
    for (const auto& index : lines_of(accepted)) {
        ++messages;
        for (const char* r : {"a@x", "b@x", "c@y"})
            if (!times.count("m" + index + "/" + r)) ++lost;
    }
    const std::size_t duplicates = log.size() - times.size();
    auto store = spool::sqlite_store::open(db);
    REQUIRE(store);
    CHECK(store->outgoing_queue().empty());
    CHECK_FALSE(store->integrity_check());

    std::cout << "crash test" << (mode.empty() ? "" : " (" + mode + ")") << ": " << rounds << " runs, " << killed << " killed, " << exited << " finished before the kill, "
              << messages << " messages accepted, " << log.size() << " transmissions, " << lost << " lost, "
              << duplicates << " duplicates (all from recipients in flight), " << resent_after_recorded
              << " resent after being recorded as sent; kills within " << max_wait_us / 1000 << " ms of the start\n";
    CHECK(killed > rounds / 2); // the kills really landed mid-work
    CHECK(messages >= static_cast<std::size_t>(rounds) / 5); // and after work was done (a load that slows the children lowers it)
    CHECK(lost == 0);
    CHECK(resent_after_recorded == 0);
}

} // namespace

TEST_CASE("killed at random points, the SQLite spooler loses nothing and never resends what it recorded as sent") {
    crash_run("", iterations(), 10);
}

TEST_CASE("killed while many asynchronous hand-offs are in flight, it loses nothing and never resends what it recorded as sent") {
    crash_run("async", iterations() / 2, 40);
}
