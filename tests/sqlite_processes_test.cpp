// Several processes on one SQLite spool: by default only one spooler may work
// it, the other is refused with an error naming the holder's process id, and
// a message a client in another process submits wakes the running spooler at
// once. With shared_queue, several spoolers share it, each message sent once.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/processes.hpp"
#include "support/temp_dir.hpp"

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using spool_test::contents_of;
using spool_test::eventually;
using spool_test::exit_code;
using spool_test::mail;
using spool_test::smtp;

namespace {

pid_t spawn(std::vector<std::string> args) { return spool_test::spawn(SPOOL_PEER, std::move(args)); }

// A spooler process working the spool, killed when the test ends.
struct running_peer : spool_test::running_peer {
    explicit running_peer(const spool_test::temp_dir& dir, const std::string& db, const std::string& mode = "run",
                          const std::string& ready = "ready")
        : spool_test::running_peer(SPOOL_PEER, dir, db, mode, ready) {}
};

} // namespace

TEST_CASE("a second spooler on a spool another process works is refused, and the error names that process") {
    spool_test::temp_dir dir;
    const auto db = dir.file("spool.db");
    { spool::sqlite_store created(db); }
    running_peer peer(dir, db);

    spool::sqlite_store store(db);
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    REQUIRE(sp.client().send(mail({smtp("a@x")}))); // a client beside a running spooler is fine
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            if (attempt == 0) sp.drain();
            else sp.start();
            FAIL("the second spooler was not refused");
        } catch (const std::system_error& e) {
            CHECK(e.code() == spool::errc::spool_in_use);
            CHECK_THAT(e.what(), ContainsSubstring("process " + std::to_string(peer.pid)));
        }
    }
    CHECK_FALSE(sp.running());
    CHECK(transport.deliveries().empty());

    // Once that process is gone, its lock is too.
    peer.kill();
    sp.drain();
    CHECK(store.outgoing_queue().empty());
}

TEST_CASE("a spooler in this process holds the spool against a spooler in another") {
    spool_test::temp_dir dir;
    const auto db = dir.file("spool.db");
    spool::sqlite_store store(db);
    spool::spooler sp{store, spool::memory_transport{}};
    sp.drain();
    const pid_t other = spawn({"try", db, dir.file("refusal")});
    CHECK(exit_code(other) == 3);
    CHECK_THAT(contents_of(dir.file("refusal")), ContainsSubstring("process " + std::to_string(::getpid())));

    SECTION("and against a second spooler in this process, on its own connection") {
        spool::sqlite_store again(db);
        spool::spooler second{again, spool::memory_transport{}};
        CHECK_THROWS_AS(second.drain(), std::system_error);
    }
}

TEST_CASE("a message submitted from another process wakes the running spooler without wake()") {
    spool_test::temp_dir dir;
    const auto db = dir.file("spool.db");
    { spool::sqlite_store created(db); }
    running_peer peer(dir, db);
    std::this_thread::sleep_for(200ms); // the peer's first pass is over; it waits for the next event

    spool::sqlite_store store(db);
    spool::spooler client_side{store, spool::memory_transport{}}; // never runs: only its client is used
    const auto sent_at = std::chrono::steady_clock::now();
    REQUIRE(client_side.client().send(mail({smtp("from-afar@x")})));
    // The idle wait is 60 s; a wake-up by the store's change counter comes within about 50 ms.
    REQUIRE(eventually([&] { return contents_of(dir.file("deliveries")) == "from-afar@x\n"; }, 20s));
    const auto took = std::chrono::steady_clock::now() - sent_at;
    CHECK(took < 20s);
    WARN("delivered by the other process after "
         << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
}

TEST_CASE("with shared_queue, spoolers in several processes share one spool: every message is sent, once") {
    spool_test::temp_dir dir;
    const auto db = dir.file("spool.db");
    spool::sqlite_options options;
    options.shared_queue = true;
    { spool::sqlite_store created(db, options); }
    running_peer first(dir, db, "shared", "ready-1");
    running_peer second(dir, db, "shared", "ready-2");

    spool::sqlite_store store(db, options);
    spool::spooler client_side{store, spool::memory_transport{}}; // never runs: only its client is used
    std::multiset<std::string> expected;
    for (int i = 0; i < 300; ++i) {
        const std::string address = "r" + std::to_string(i) + "@x";
        REQUIRE(client_side.client().send(mail({smtp(address)})));
        expected.insert(address);
    }
    REQUIRE(eventually([&] { return store.outgoing_queue().empty(); }, 60s));
    std::this_thread::sleep_for(100ms);
    std::istringstream lines(contents_of(dir.file("deliveries")));
    std::multiset<std::string> delivered;
    for (std::string line; std::getline(lines, line);) delivered.insert(line);
    CHECK(delivered == expected); // each exactly once: nobody was killed, so nothing is sent twice
}
