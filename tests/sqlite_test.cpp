// The SQLite store: the Store laws, durability across restarts, schema
// versions, faults, quarantine and group commit.

#include "catch.hpp"
#include "support/conformance_report.hpp"
#include "support/fixtures.hpp"
#include "support/reports.hpp"
#include "support/sqlite_files.hpp"
#include "support/temp_dir.hpp"

#include <spool/administration.hpp>
#include <spool/spool.hpp>
#include <spool/sqlite.hpp>
#include <spool/testing/store_conformance.hpp>

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using spool_test::is;
using spool_test::report;
using spool_test::mail;
using spool_test::smtp;
using spool_test::raw_sql;
using spool_test::read_file;

namespace {

// A database with one queued message, written by this build, for a test to take back to an older schema.
spool::message_id queue_one(const std::string& path) {
    spool::sqlite_store store(path);
    auto m = mail({smtp("a@x")});
    const auto queued = store.create(spool::folders::outbox, m).value();
    m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
    REQUIRE_FALSE(store.enqueue(queued, m));
    return queued;
}

} // namespace

TEST_CASE("the SQLite store keeps the Store laws") {
    spool_test::temp_dir dir;
    int n = 0;
    report(spool::testing::check_store([&] { return spool::sqlite_store(dir.file("s" + std::to_string(n++) + ".db")); }));
}

TEST_CASE("the SQLite store keeps the shared queue's laws: store objects on one file claim, lease and fence as processes would") {
    spool_test::temp_dir dir;
    int n = 0;
    const auto lease = std::chrono::milliseconds{400};
    spool::sqlite_options options;
    options.shared_queue = true;
    options.lease = lease;
    const auto pair = [&] {
        const auto path = dir.file("shared" + std::to_string(n++) + ".db");
        return std::pair{spool::sqlite_store(path, options), spool::sqlite_store(path, options)};
    };
    report(spool::testing::check_shared_queue(pair, lease));
    STATIC_REQUIRE(spool::MessageClaimStore<spool::sqlite_store>);
    report(spool::testing::check_message_claim(pair, lease)); // one named message claimed
    STATIC_REQUIRE(spool::ReportBacklogStore<spool::sqlite_store>);
    report(spool::testing::check_report_backlog(pair)); // returned reports kept for later
}

TEST_CASE("the SQLite store keeps the laws of its spooler lock and its cross-process wake") {
    spool_test::temp_dir dir;
    int n = 0;
    const auto pair = [&] {
        const auto path = dir.file("pair" + std::to_string(n++) + ".db");
        return std::pair{spool::sqlite_store(path), spool::sqlite_store(path)};
    };
    STATIC_REQUIRE(spool::SingleSpoolerStore<spool::sqlite_store>);
    STATIC_REQUIRE(spool::CrossProcessWakeStore<spool::sqlite_store>);
    STATIC_REQUIRE(spool::ClaimFloorStore<spool::sqlite_store>);
    report(spool::testing::check_spooler_lock(pair));
    report(spool::testing::check_cross_process_wake(pair));
}

// What schemas 5 (administration), 6 (waiting for a destination), 7 (the
// suppression list) and 8 (returned reports kept for later) added, for tests
// that take a database back to an older schema.
constexpr const char* undo_schema_5 = "DROP TABLE action_log; DROP TABLE returned_backlog; DROP TABLE suppressions; DROP INDEX queue_waiting; ALTER TABLE outgoing_queue DROP COLUMN waiting_for;"
                                      "ALTER TABLE outgoing_queue DROP COLUMN held_since; ALTER TABLE outgoing_queue DROP COLUMN held_for;"
                                      "ALTER TABLE outgoing_queue DROP COLUMN request;";

TEST_CASE("the SQLite store keeps the administration laws: hold, release, requests, removal, listings and counts") {
    spool_test::temp_dir dir;
    int n = 0;
    report(spool::testing::check_administration([&] { return spool::sqlite_store(dir.file("admin" + std::to_string(n++) + ".db")); }));
    spool::sqlite_options shared;
    shared.shared_queue = true;
    report(spool::testing::check_administration([&] { return spool::sqlite_store(dir.file("admin" + std::to_string(n++) + ".db"), shared); }));
    report(spool::testing::check_hold_back([&] { return spool::sqlite_store(dir.file("admin" + std::to_string(n++) + ".db")); }));
    report(spool::testing::check_hold_back([&] { return spool::sqlite_store(dir.file("admin" + std::to_string(n++) + ".db"), shared); }));
}

TEST_CASE("a schema-3 database is brought to the latest schema, its queued messages unleased, not held, and sent") {
    spool_test::temp_dir dir;
    const auto path = dir.file("v3.db");
    const spool::message_id queued = queue_one(path);
    raw_sql(path, std::string(undo_schema_5) +
                      "ALTER TABLE outgoing_queue DROP COLUMN lease_owner; ALTER TABLE outgoing_queue DROP COLUMN lease_until;"
                      "ALTER TABLE outgoing_queue DROP COLUMN fence; UPDATE spool_schema SET version = 3");
    spool::sqlite_store store(path);
    CHECK(spool::sqlite_store::schema_version == 9);
    CHECK(store.count_queue(spool::time_point{}).held == 0);
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    CHECK(sp.drain().finished == 1);
    REQUIRE(transport.deliveries().size() == 1);
    CHECK(transport.deliveries()[0].message == queued);
}

TEST_CASE("a new database file is readable by its owner only") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("spool.db"));
    struct stat st {};
    REQUIRE(::stat(dir.file("spool.db").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("after a restart the queue comes back in order, unlocked, and sent recipients are not sent again") {
    spool_test::temp_dir dir;
    const auto path = dir.file("spool.db");
    spool::memory_transport transport;
    spool::memory_transport faxes{{"FAX"}};
    spool::manual_clock clock;
    auto log = std::make_shared<std::vector<std::string>>();
    spool_test::logging_preprocessor pager_pre{"pager", {"PAGER"}, log};
    spool::message_id mixed{}, later{}, paged{};
    {
        spool::sqlite_store store(path);
        spool::spooler sp{store, faxes, transport, clock, pager_pre};
        faxes.offline(120s);
        mixed = sp.client().send(mail({smtp("a@x"), spool_test::fax("+1")})).value();
        sp.drain(); // a@x sent, the fax deferred
        clock.advance(1s);
        sp.disable_inbound();
        later = sp.client().send(mail({smtp("b@x")})).value();
        clock.advance(1s);
        paged = sp.client().send(mail({{"P", "555", "PAGER"}})).value();
        // The process "stops" here: b@x and the pager message were never processed.
    }
    faxes.online();
    spool::sqlite_store reopened(path);
    auto queue = reopened.outgoing_queue();
    REQUIRE(queue.size() == 3);
    CHECK(queue[0].id == mixed);
    CHECK(queue[1].id == later);
    CHECK(queue[2].id == paged);
    CHECK(queue[2].submission == spool::submit_flags::preprocess);
    auto m = reopened.load(mixed).value();
    CHECK(is<spool::status::sent>(m.recipients[0]));
    CHECK(std::get<spool::status::deferred>(m.recipients[1].status).next_attempt == clock.now() - 2s + 120s);

    spool::spooler again{reopened, faxes, transport, clock, pager_pre};
    again.drain();
    CHECK(*log == std::vector<std::string>{"pager"}); // preprocessed after the restart
    CHECK(transport.deliveries().size() == 3);        // a@x before, b@x and the pager now; a@x not again
    CHECK(faxes.deliveries().empty());                // the fax waits for its next attempt
    clock.advance(120s);
    again.drain();
    CHECK(faxes.deliveries().size() == 1);
    CHECK(reopened.outgoing_queue().empty());
    CHECK_FALSE(reopened.integrity_check());
}

TEST_CASE("a database from a newer spool is refused and left as it was") {
    spool_test::temp_dir dir;
    const auto path = dir.file("spool.db");
    { spool::sqlite_store store(path); }
    raw_sql(path, "UPDATE spool_schema SET version = 99");
    const auto before = read_file(path);
    auto opened = spool::sqlite_store::open(path);
    CHECK(opened.error() == spool::errc::schema_too_new);
    CHECK(read_file(path) == before);
    CHECK_THROWS_AS(spool::sqlite_store(path), std::system_error);
}

TEST_CASE("another application's database, or a file that is no database, is refused and left as it was") {
    spool_test::temp_dir dir;
    const auto other = dir.file("other.db");
    raw_sql(other, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER)");
    const auto before = read_file(other);
    CHECK(spool::sqlite_store::open(other).error() == spool::errc::not_a_spool_store);
    CHECK(read_file(other) == before);

    const auto text = dir.file("notes.txt");
    std::ofstream(text) << "these are not the droids you are looking for, nor a database, at any length of file\n";
    const auto text_before = read_file(text);
    CHECK(spool::sqlite_store::open(text).error() == spool::errc::not_a_spool_store);
    CHECK(read_file(text) == text_before);
}

TEST_CASE("an older schema is brought forward") {
    spool_test::temp_dir dir;
    const auto path = dir.file("old.db");
    // What a schema-0 database looks like: only the version table.
    raw_sql(path, "CREATE TABLE spool_schema (application TEXT NOT NULL, version INTEGER NOT NULL);"
                  "INSERT INTO spool_schema VALUES ('spool', 0);");
    auto store = spool::sqlite_store::open(path);
    REQUIRE(store);
    CHECK(store->create(spool::folders::outbox, mail({smtp("a@x")})));
    raw_sql(path, "SELECT version FROM spool_schema WHERE version = " + std::to_string(spool::sqlite_store::schema_version));
}

TEST_CASE("a schema-1 database with queued messages is migrated and keeps them") {
    spool_test::temp_dir dir;
    const auto path = dir.file("v1.db");
    const spool::message_id queued = queue_one(path);
    // Take it back to what schema 1 had.
    raw_sql(path, std::string(undo_schema_5) +
                      "ALTER TABLE outgoing_queue DROP COLUMN lease_owner; ALTER TABLE outgoing_queue DROP COLUMN lease_until;"
                  "ALTER TABLE outgoing_queue DROP COLUMN fence;"
                  "DROP INDEX queue_by_sequence; DROP INDEX queue_due; ALTER TABLE outgoing_queue DROP COLUMN next_attempt;"
                  "UPDATE spool_schema SET version = 1");
    spool::sqlite_store store(path);
    raw_sql(path, "SELECT 1 FROM sqlite_master WHERE name = 'queue_by_sequence'");
    auto q = store.outgoing_queue();
    REQUIRE(q.size() == 1);
    CHECK(q[0].id == queued);
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    CHECK(sp.drain().finished == 1);
}

TEST_CASE("a pass reads only the due messages: those waiting for a later attempt stay on disk") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("due.db"));
    spool::manual_clock clock;
    spool::memory_transport down{spool::address_types{"SMTP"}};
    spool::memory_transport fax{spool::address_types{"FAX"}};
    spool::spooler sp{store, down, fax, clock, spool::inline_transports{}}; // a pass does its hand-offs before it returns
    auto client = sp.client();
    down.offline(std::chrono::hours{1});
    for (int i = 0; i < 100; ++i) REQUIRE(client.send(mail({smtp("a" + std::to_string(i) + "@x")})));
    CHECK(sp.drain().examined == 100); // each looked at once, and deferred by an hour
    CHECK(store.due_queue(clock.now(), 1000).empty());
    CHECK(store.outgoing_queue().size() == 100);

    const auto id = *client.send(mail({spool_test::fax("+15550100")}));
    const auto r = sp.run_once();
    CHECK(r.examined == 1);
    CHECK(r.finished == 1);
    REQUIRE(fax.deliveries().size() == 1);
    CHECK(fax.deliveries()[0].message == id);

    down.online();
    clock.advance(std::chrono::hours{1});
    CHECK(store.due_queue(clock.now(), 1000).size() == 100);
    CHECK(store.due_queue(clock.now(), 10).size() == 10); // the limit
    CHECK(sp.drain().finished == 100);
}

TEST_CASE("a spooler restarted on the same database does not report a delay twice: the mark is stored with the message") {
    spool_test::temp_dir dir;
    spool::manual_clock clock;
    spool_test::greylisting grey;
    grey.waiting->insert("slow@x");
    const spool::exponential_backoff retry{10min, 10min, 24h};
    {
        spool::sqlite_store store(dir.file("delay.db"));
        spool::spooler sp{store, grey, clock, retry, spool::delay_warning{1h}};
        REQUIRE(sp.client().send(spool_test::from_ann({smtp("slow@x")})));
        for (int i = 0; i <= 6; ++i) {
            sp.drain();
            clock.advance(10min);
        }
        REQUIRE(spool_test::reports_in(store).size() == 1);
    }
    spool::sqlite_store store(dir.file("delay.db"));
    spool::spooler sp{store, grey, clock, retry, spool::delay_warning{1h}};
    for (int i = 0; i < 6; ++i) {
        sp.drain();
        clock.advance(10min);
    }
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(spool_test::reports_in(store).size() == 1);
}

TEST_CASE("time on hold does not count toward the delay warning, as it does not toward the lifetime") {
    spool_test::temp_dir dir;
    spool::manual_clock clock;
    spool_test::greylisting grey;
    grey.waiting->insert("slow@x");
    spool::sqlite_store store(dir.file("held.db"));
    spool::spooler sp{store, grey, clock, spool::exponential_backoff{10min, 10min, 24h}, spool::delay_warning{1h}};
    const spool::time_point submitted = clock.now();
    const auto id = sp.client().send(spool_test::from_ann({smtp("slow@x")}));
    REQUIRE(id);
    sp.drain();
    clock.advance(10min);
    REQUIRE(store.hold(*id, clock.now()).has_value());
    clock.advance(2h); // held for two hours: the warning is now due at 3 h from the submit
    REQUIRE(store.release(*id, clock.now()).has_value());
    for (int i = 0; i < 4; ++i) { // 2 h 10 min to 2 h 40 min
        sp.drain();
        clock.advance(10min);
    }
    CHECK(spool_test::reports_in(store).empty());
    for (int i = 0; i < 3; ++i) { // 2 h 50 min to 3 h 10 min
        sp.drain();
        clock.advance(10min);
    }
    const auto reports = spool_test::reports_in(store);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].report->kind == spool::report_kind::delayed);
    CHECK(reports[0].report->entries.at(0).will_retry_until == submitted + 26h); // a day from the submit, plus the hold
}

TEST_CASE("a schema-2 database's queue entries start due, and the first pass writes their next attempt") {
    spool_test::temp_dir dir;
    const auto path = dir.file("v2.db");
    spool::manual_clock clock;
    spool::message_id queued{};
    {
        spool::sqlite_store store(path);
        auto m = mail({smtp("a@x")});
        m.recipients[0].status = spool::status::deferred{clock.now() + std::chrono::hours{1}, "later", 1, {}};
        queued = store.create(spool::folders::outbox, m).value();
        m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
        REQUIRE_FALSE(store.enqueue(queued, m));
    }
    raw_sql(path, std::string(undo_schema_5) +
                      "ALTER TABLE outgoing_queue DROP COLUMN lease_owner; ALTER TABLE outgoing_queue DROP COLUMN lease_until;"
                  "ALTER TABLE outgoing_queue DROP COLUMN fence;"
                  "DROP INDEX queue_due; ALTER TABLE outgoing_queue DROP COLUMN next_attempt; UPDATE spool_schema SET version = 2");
    spool::sqlite_store store(path);
    CHECK(store.due_queue(clock.now(), 10).size() == 1); // unknown, so due
    store.save(queued, *store.load(queued));
    CHECK(store.due_queue(clock.now(), 10).empty());
    CHECK(store.due_queue(clock.now() + std::chrono::hours{1}, 10).size() == 1);
}

TEST_CASE("a path that cannot be written gives SQLite's cannot-open error") {
    auto opened = spool::sqlite_store::open("/nonexistent-directory/spool.db");
    REQUIRE_FALSE(opened);
    CHECK(opened.error().category() == spool::sqlite_category());
    CHECK(opened.error().value() == SQLITE_CANTOPEN);
    spool_test::temp_dir dir;
    CHECK_FALSE(spool::sqlite_store::open(dir.file("")).has_value()); // a directory
}

TEST_CASE("a full disk refuses new messages with a clear error, and queued ones are still sent") {
    spool_test::temp_dir dir;
    spool::sqlite_options small;
    small.max_size_bytes = 64 * 1024;
    spool::sqlite_store store(dir.file("small.db"), small);
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto client = sp.client();
    REQUIRE(client.send(mail({smtp("early@x")})));
    auto big = mail({smtp("big@x")});
    big.payload.body.assign(256 * 1024, 'x');
    auto refused = client.send(big);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().category() == spool::sqlite_category());
    CHECK(refused.error().value() == SQLITE_FULL);
    CHECK(sp.drain().finished == 1);
    CHECK(transport.deliveries().size() == 1);
    CHECK_FALSE(store.integrity_check());
}

TEST_CASE_METHOD(spool_test::sqlite_rig, "an undecodable message is quarantined and does not block the queue") {
    auto bad = sp.client().send(mail({smtp("bad@x")})).value();
    clock.advance(1s);
    sp.client().send(mail({smtp("good@x")}));
    raw_sql(path, "UPDATE messages SET body = x'ff00ff' WHERE id = " + std::to_string(static_cast<std::uint64_t>(bad)));

    const auto report = sp.drain();
    CHECK(report.store_errors == 1);
    CHECK(sp.stats().last_store_error == spool::errc::corrupt_message);
    REQUIRE(transport.deliveries().size() == 1);
    CHECK(transport.deliveries()[0].address == "good@x");
    CHECK(store.contents(spool::folders::quarantine) == std::vector<spool::message_id>{bad});
    CHECK(store.outgoing_queue().empty());
    CHECK(sp.client().open(bad).error() == spool::errc::corrupt_message);
}

TEST_CASE("concurrent writers share one commit") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("spool.db"));
    std::vector<spool::message_id> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(store.create(spool::folders::outbox, mail({smtp("a@x")})).value());
    const auto [commits_before, operations_before] = store.commit_counts();

    // A batch holds the database while three writers arrive: the first leads a
    // commit of its own, the two behind it share the next one.
    std::atomic<bool> holding{false}, release{false};
    std::thread holder([&] {
        store.batch([&] {
            holding = true;
            while (!release) std::this_thread::sleep_for(1ms);
        });
    });
    while (!holding) std::this_thread::sleep_for(1ms);
    std::vector<std::thread> writers;
    writers.emplace_back([&] { CHECK_FALSE(store.save(ids[0], mail({smtp("a@x")}, "one"))); });
    // Registered and made leader under one lock: once it counts, it leads a group of one, blocked on the database.
    while (store.pending_writers() != 1) std::this_thread::sleep_for(1ms);
    writers.emplace_back([&] { CHECK_FALSE(store.save(ids[1], mail({smtp("a@x")}, "two"))); });
    writers.emplace_back([&] { CHECK_FALSE(store.save(ids[2], mail({smtp("a@x")}, "three"))); });
    while (store.waiting_writers() != 2) std::this_thread::sleep_for(1ms);
    release = true;
    holder.join();
    for (auto& w : writers) w.join();
    const auto [commits, operations] = store.commit_counts();
    CHECK(operations - operations_before == 3);
    CHECK(commits - commits_before == 2);
    CHECK(store.load(ids[2]).value().payload.subject == "three");
}

namespace {
/// An SQLite store whose load or finish of one chosen message throws, as a
/// store whose disk goes away in the middle of a group commit would.
struct throwing_sqlite_store : spool::sqlite_store {
    using spool::sqlite_store::sqlite_store;
    std::shared_ptr<std::optional<spool::message_id>> load_throws = std::make_shared<std::optional<spool::message_id>>();
    std::shared_ptr<std::optional<spool::message_id>> finish_throws =
        std::make_shared<std::optional<spool::message_id>>();
    spool::result<spool::message> load(spool::message_id id) const {
        if (*load_throws == id) throw std::runtime_error("disk gone");
        return spool::sqlite_store::load(id);
    }
    std::error_code finish(spool::message_id id, const spool::message& m) {
        if (*finish_throws == id) throw std::runtime_error("disk gone");
        return spool::sqlite_store::finish(id, m);
    }
};

std::vector<spool::message_id> send_three(auto& client) {
    std::vector<spool::message_id> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(client.send(mail({smtp(std::to_string(i) + "@x")})).value());
    return ids;
}
} // namespace

TEST_CASE("a store that throws inside a group commit: the group is rolled back, stays queued and unlocked, and is sent later") {
    spool_test::temp_dir dir;
    throwing_sqlite_store store(dir.file("spool.db"));
    spool::memory_transport transport;
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock};
    auto client = sp.client();
    const auto ids = send_three(client);
    *store.finish_throws = ids[1];
    CHECK_THROWS_WITH(sp.drain(), "disk gone");
    CHECK(sp.locked_count() == 0);
    CHECK(store.outgoing_queue().size() == 3); // the one commit held all three outcomes
    CHECK(sp.stats().messages_finished == 0);

    store.finish_throws->reset();
    clock.advance(1s); // the pause a failed write earns
    CHECK(sp.drain().finished == 3);
    CHECK(store.outgoing_queue().empty());
    // Each was sent twice, under one key, so an idempotent transport drops the repeat.
    auto ds = transport.deliveries();
    REQUIRE(ds.size() == 6);
    for (int i = 0; i < 3; ++i) CHECK(ds[i].delivery_key == ds[i + 3].delivery_key);
}

TEST_CASE("a load that throws in the middle of a pass: outcomes gathered before it are still committed, and nothing is sent twice") {
    spool_test::temp_dir dir;
    throwing_sqlite_store store(dir.file("spool.db"));
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto client = sp.client();
    const auto ids = send_three(client);
    *store.load_throws = ids[1];
    CHECK_THROWS_WITH(sp.drain(), "disk gone");
    CHECK(sp.locked_count() == 0);
    REQUIRE(store.outgoing_queue().size() == 2);
    CHECK(store.outgoing_queue().front().id == ids[1]);
    CHECK(sp.stats().messages_finished == 1);

    store.load_throws->reset();
    CHECK(sp.drain().finished == 2);
    CHECK(transport.deliveries().size() == 3);
}

TEST_CASE("send writes a message and its queue row in one commit") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("spool.db"));
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    const auto [commits_before, ops_before] = store.commit_counts();
    const auto id = sp.client().send(mail({smtp("a@x")})).value();
    CHECK(store.commit_counts() == std::pair<std::size_t, std::size_t>{commits_before + 1, ops_before + 1});
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(sp.client().open(id).value().submitted());
    CHECK(sp.drain().finished == 1);
}

TEST_CASE("a batch makes many submits one commit, and a client batch works with any store") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("spool.db"));
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto client = sp.client();
    const auto [commits_before, ops_before] = store.commit_counts();
    REQUIRE_FALSE(client.batch([&] {
        for (int i = 0; i < 100; ++i) REQUIRE(client.send(mail({smtp(std::to_string(i) + "@x")})));
    }));
    CHECK(store.commit_counts().first == commits_before); // none through the group commit: one transaction
    CHECK(store.outgoing_queue().size() == 100);
    CHECK(sp.drain().finished == 100);

    spool_test::rig memory; // a store without batch(): the operations simply run
    REQUIRE_FALSE(memory.client.batch([&] { memory.client.send(mail({smtp("a@x")})); }));
    CHECK(memory.store.outgoing_queue().size() == 1);
}

TEST_CASE("group_commits(1): each outcome is on disk before the next hand-off") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("spool.db"));
    std::vector<std::size_t> queued_at_hand_off;
    spool_test::scripted_transport transport({"SMTP"}, [&](spool::transmission<spool::message>& tx) {
        queued_at_hand_off.push_back(store.outgoing_queue().size()); // what another process would see
        for (const auto& r : tx.recipients()) tx.sent(r);
        return spool::transmit_result::done();
    });
    spool::spooler sp{store, transport};
    for (int i = 0; i < 5; ++i) REQUIRE(sp.client().send(mail({smtp(std::to_string(i) + "@x")})));
    SECTION("one outcome per commit") {
        sp.group_commits(1);
        sp.drain();
        CHECK(queued_at_hand_off == std::vector<std::size_t>{5, 4, 3, 2, 1});
    }
    SECTION("the default shares a commit, so the queue shrinks only at its end") {
        sp.drain();
        CHECK(queued_at_hand_off == std::vector<std::size_t>{5, 5, 5, 5, 5});
    }
    CHECK(store.outgoing_queue().empty());
}

TEST_CASE("the SQLite store keeps the suppression list's laws, across store objects on one file") {
    spool_test::temp_dir dir;
    int n = 0;
    report(spool::testing::check_suppression_list([&] {
        const auto path = dir.file("suppressions" + std::to_string(n++) + ".db");
        return std::pair{spool::sqlite_store(path), spool::sqlite_store(path)};
    }));
}

TEST_CASE("the SQLite store keeps the action log's laws, across store objects on one file") {
    spool_test::temp_dir dir;
    int n = 0;
    STATIC_REQUIRE(spool::ActionLogStore<spool::sqlite_store>);
    report(spool::testing::check_action_log([&] {
        const auto path = dir.file("actions" + std::to_string(n++) + ".db");
        return std::pair{spool::sqlite_store(path), spool::sqlite_store(path)};
    }));
}

TEST_CASE("with a suppression_policy, an address that does not exist is listed, and later mail to it fails at submit with a report") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("suppress.db"));
    spool::memory_transport transport{{"SMTP"}};
    transport.reject("gone@x.test"); // 5.1.1, as a server's "no such user"
    spool::manual_clock clock;
    clock.set(spool::time_point{std::chrono::hours{24 * 365 * 50}});
    spool::spooler sp{store, transport, clock, spool::suppression_policy{.lifetime = std::chrono::hours{24}}};
    auto client = sp.client();
    const auto to = [](std::vector<std::string> addresses) {
        spool::message m;
        m.sender = {"Ann", "ann@x.test", "SMTP"};
        m.payload.subject = "news";
        for (auto& a : addresses) m.recipients.push_back({a, a, "SMTP"});
        return m;
    };
    const auto offered = [&](const std::string& address) {
        const auto ds = transport.deliveries();
        return std::count_if(ds.begin(), ds.end(), [&](const auto& d) { return d.address == address; });
    };

    const auto first = client.send(to({"gone@x.test", "ok@x.test"})).value();
    sp.drain();
    const auto entry = store.find_suppression("gone@x.test", clock.now()).value();
    REQUIRE(entry);
    CHECK(entry->diagnostic == "5.1.1");
    CHECK(entry->reason == "mailbox unavailable");
    CHECK(entry->source == first);
    CHECK(entry->added == clock.now());
    CHECK(entry->expires == clock.now() + std::chrono::hours{24});
    CHECK(store.count_suppressions(clock.now()).value() == 1);

    SECTION("a later message fails that recipient at once, names the entry, and reports it; the others go") {
        const auto reports_before = spool_test::reports_in(store).size();
        const auto second = client.send(to({"gone@X.TEST", "ok@x.test"})).value();
        sp.drain();
        CHECK(offered("ok@x.test") == 2);
        const auto sent = client.open(second).value();
        const auto* failed = std::get_if<spool::status::failed>(&sent.recipients[0].status);
        REQUIRE(failed);
        CHECK_THAT(failed->reason, ContainsSubstring("suppressed: gone@x.test is on the suppression list since"));
        CHECK(failed->diagnostic == "5.1.1");
        const auto reports = spool_test::reports_in(store);
        REQUIRE(reports.size() == reports_before + 1);
        CHECK(reports.back().report->entries.at(0).address == "gone@X.TEST");
        CHECK(store.count_suppressions(clock.now()).value() == 1); // not added again
    }
    SECTION("submit_flags::ignore_suppression sends to it all the same") {
        auto m = to({"gone@x.test"});
        m.submission = spool::submit_flags::ignore_suppression;
        const auto id = client.send(m).value();
        sp.drain();
        const auto sent = client.open(id).value();
        const auto* failed = std::get_if<spool::status::failed>(&sent.recipients[0].status);
        REQUIRE(failed);
        CHECK(failed->reason == "mailbox unavailable"); // the transport's refusal, not the list's
    }
    SECTION("once the entry has expired, mail to the address is sent again") {
        clock.advance(std::chrono::hours{25});
        const auto id = client.send(to({"gone@x.test"})).value();
        sp.drain();
        const auto sent = client.open(id).value();
        CHECK(std::get<spool::status::failed>(sent.recipients[0].status).reason == "mailbox unavailable");
        CHECK(store.find_suppression("gone@x.test", clock.now()).value()->source == id); // listed again, by this failure
    }
    SECTION("an operator removes it, and mail goes to the transport again") {
        REQUIRE_FALSE(store.unsuppress("gone@x.test"));
        const auto id = client.send(to({"gone@x.test"})).value();
        sp.drain();
        CHECK(std::get<spool::status::failed>(client.open(id).value().recipients[0].status).reason == "mailbox unavailable");
    }
    SECTION("a failure whose code is not on the policy's list adds nothing") {
        transport.reject("full@x.test"); // 5.1.1 too: the policy below names only 5.2.1
        spool::sqlite_store other(dir.file("other.db"));
        spool::spooler narrow{other, transport, clock, spool::suppression_policy{.codes = {"5.2.1"}}};
        narrow.client().send(to({"full@x.test"})).value();
        narrow.drain();
        CHECK(other.count_suppressions(clock.now()).value() == 0);
    }
}
