// The PostgreSQL store, against a real PostgreSQL 15 server (the CTest fixture
// "postgres_cluster"): the Store laws and the shared queue's, schema versions,
// the spooler on it, clients and spoolers of other "processes" (other store
// objects, each with its own connections and leases), wake-ups, and faults.

#include "catch.hpp"
#include "support/async_transport.hpp"
#include "support/conformance_report.hpp"
#include "support/down_destination.hpp"
#include "support/fixtures.hpp"
#include "support/postgres_schema.hpp"
#include "support/processes.hpp"
#include "support/reports.hpp"
#include "support/temp_dir.hpp"

#include <spool/administration.hpp>
#include <spool/spool.hpp>
#include <spool/postgres.hpp>
#include <spool/testing/store_conformance.hpp>

#include <atomic>
#include <mutex>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <deque>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using spool_test::is;
using spool_test::report;
using spool_test::mail;
using spool_test::smtp;

namespace {

spool::postgres_options short_lease(std::chrono::milliseconds lease = 400ms) {
    spool::postgres_options o;
    o.lease = lease;
    o.poll_interval = 100ms;
    return o;
}

// Waits, without a timing assertion, until `done` holds or a generous limit passes.
template <class F>
bool eventually(F done, std::chrono::seconds limit = 30s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

} // namespace

TEST_CASE("the PostgreSQL store keeps the Store laws") {
    std::deque<spool_test::postgres_schema> schemas;
    report(spool::testing::check_store([&] { return spool::postgres_store(schemas.emplace_back().conninfo()); }));
}

TEST_CASE("the PostgreSQL store keeps the administration laws: hold, release, requests, removal, listings and counts") {
    std::deque<spool_test::postgres_schema> schemas;
    report(spool::testing::check_administration([&] { return spool::postgres_store(schemas.emplace_back().conninfo()); }));
    report(spool::testing::check_hold_back([&] { return spool::postgres_store(schemas.emplace_back().conninfo()); }));
}

TEST_CASE("the PostgreSQL store keeps the suppression list's laws, shared by store objects on one database") {
    std::deque<spool_test::postgres_schema> schemas;
    report(spool::testing::check_suppression_list([&] {
        const auto& schema = schemas.emplace_back();
        return std::pair{spool::postgres_store(schema.conninfo()), spool::postgres_store(schema.conninfo())};
    }));
}

TEST_CASE("the PostgreSQL store keeps the action log's laws, shared by store objects on one database") {
    std::deque<spool_test::postgres_schema> schemas;
    STATIC_REQUIRE(spool::ActionLogStore<spool::postgres_store>);
    report(spool::testing::check_action_log([&] {
        const auto& schema = schemas.emplace_back();
        return std::pair{spool::postgres_store(schema.conninfo()), spool::postgres_store(schema.conninfo())};
    }));
}

TEST_CASE("the PostgreSQL store keeps the shared queue's laws: claims, leases by the database's clock, fencing") {
    std::deque<spool_test::postgres_schema> schemas;
    const auto lease = 400ms;
    const auto pair = [&] {
        const auto& schema = schemas.emplace_back();
        return std::pair{spool::postgres_store(schema.conninfo(), short_lease(lease)),
                         spool::postgres_store(schema.conninfo(), short_lease(lease))};
    };
    report(spool::testing::check_shared_queue(pair, lease));
    STATIC_REQUIRE(spool::MessageClaimStore<spool::postgres_store>);
    report(spool::testing::check_message_claim(pair, lease)); // one named message claimed
    STATIC_REQUIRE(spool::ReportBacklogStore<spool::postgres_store>);
    report(spool::testing::check_report_backlog(pair)); // returned reports kept for later
}

TEST_CASE("a bulk finish by a holder whose lease another process took is refused for that message, and the new holder's row is untouched") {
    spool_test::postgres_schema schema;
    spool::postgres_store first(schema.conninfo(), short_lease(300ms));
    spool::postgres_store second(schema.conninfo(), short_lease(300ms));
    STATIC_REQUIRE(spool::BulkFinishStore<spool::postgres_store>);
    auto m = mail({smtp("a@x")});
    m.flags = spool::message_flags::submitted;
    m.sent_mail = spool::disposition::delete_after_submit{};
    const auto stale = first.create_queued(spool::folders::outbox, m).value();
    const auto fresh = first.create_queued(spool::folders::outbox, m).value();
    REQUIRE(first.claim_due(spool::time_point::max(), 2).size() == 2);
    // The lease ends by the database's clock; then the second process claims the first message.
    REQUIRE(eventually([&] { return !first.leased_elsewhere(stale) && schema.value(
        "SELECT count(*) FROM spool_queue WHERE lease_until > clock_timestamp()") == "0"; }));
    REQUIRE(second.claim_due(spool::time_point::max(), 1).size() == 1);
    const std::string holder_fence = schema.value("SELECT fence FROM spool_queue WHERE message_id = " + std::to_string(static_cast<std::uint64_t>(stale)));
    // The first process finishes both at once: its claim on the first is stale.
    const std::vector<spool::finishing<spool::message>> both{{stale, &m}, {fresh, &m}};
    std::vector<std::error_code> errors;
    REQUIRE_FALSE(first.batch([&] { errors = first.finish(std::span<const spool::finishing<spool::message>>(both)); }));
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == spool::errc::lease_lost);
    CHECK_FALSE(errors[1]);
    // The stale write changed nothing: the message is there, queued, with the second holder's token.
    CHECK(first.load(stale).has_value());
    CHECK(schema.value("SELECT fence FROM spool_queue WHERE message_id = " + std::to_string(static_cast<std::uint64_t>(stale))) == holder_fence);
    CHECK(schema.value("SELECT count(*) FROM spool_messages WHERE id = " + std::to_string(static_cast<std::uint64_t>(fresh))) == "0");
}

TEST_CASE("a spooler vacuums the queue table itself every vacuum_interval, so dead queue rows do not wait for autovacuum's minute") {
    spool_test::postgres_schema schema;
    spool::postgres_options options;
    options.vacuum_interval = 1ms;
    spool::postgres_store store(schema.conninfo(), options);
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    const auto vacuums = [&] {
        return schema.value("SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'spool_queue'::regclass");
    };
    const std::string before = vacuums();
    REQUIRE(sp.client().send(mail({smtp("a@x")})));
    sp.drain();
    CHECK(transport.deliveries().size() == 1);
    // The end of a pass vacuums once the interval has passed, and the server
    // publishes its statistics a little later: passes until the count moves,
    // not a wait for a time.
    CHECK(eventually([&] {
        if (!sp.client().send(mail({smtp("a@x")}))) return false;
        sp.drain();
        return vacuums() != before;
    }));
}

TEST_CASE("the PostgreSQL store keeps the cross-process wake's law: another store object's submit is seen") {
    std::deque<spool_test::postgres_schema> schemas;
    STATIC_REQUIRE(spool::CrossProcessWakeStore<spool::postgres_store>);
    STATIC_REQUIRE(spool::BatchingStore<spool::postgres_store>); // its laws run in check_store
    STATIC_REQUIRE(spool::ClaimFloorStore<spool::postgres_store>);
    report(spool::testing::check_cross_process_wake([&] {
        const auto& schema = schemas.emplace_back();
        return std::pair{spool::postgres_store(schema.conninfo()), spool::postgres_store(schema.conninfo())};
    }));
}

TEST_CASE("a schema written by a newer spool, or tables of spool's names that are not spool's, are refused and left as they were") {
    spool_test::postgres_schema schema;
    {
        spool::postgres_store store(schema.conninfo());
        REQUIRE(store.create(spool::folders::outbox, mail({smtp("a@x")})));
    }
    SECTION("newer") {
        schema.sql("UPDATE spool_schema SET version = 99");
        auto s = spool::postgres_store::open(schema.conninfo());
        REQUIRE_FALSE(s);
        CHECK(s.error() == spool::errc::schema_too_new);
        CHECK(schema.value("SELECT version FROM spool_schema") == "99");
        CHECK(schema.value("SELECT count(*) FROM spool_messages") == "1");
    }
    SECTION("another application's") {
        schema.sql("UPDATE spool_schema SET application = 'billing'");
        CHECK(spool::postgres_store::open(schema.conninfo()).error() == spool::errc::not_a_spool_store);
        CHECK(schema.value("SELECT application FROM spool_schema") == "billing");
    }
    SECTION("a version no spool wrote") {
        schema.sql("UPDATE spool_schema SET version = -1");
        CHECK(spool::postgres_store::open(schema.conninfo()).error() == spool::errc::invalid_schema);
    }
    SECTION("tables of spool's names without spool's version table") {
        schema.sql("DROP TABLE spool_schema");
        CHECK(spool::postgres_store::open(schema.conninfo()).error() == spool::errc::not_a_spool_store);
        CHECK(schema.value("SELECT count(*) FROM spool_messages") == "1");
        CHECK(schema.value("SELECT to_regclass('spool_schema') IS NULL") == "t");
    }
}

TEST_CASE("processes that open a new database at once create the schema once") {
    spool_test::postgres_schema schema;
    std::vector<std::thread> openers;
    std::atomic<int> opened{0};
    for (int i = 0; i < 4; ++i)
        openers.emplace_back([&] {
            if (spool::postgres_store::open(schema.conninfo())) ++opened;
        });
    for (auto& t : openers) t.join();
    CHECK(opened == 4);
    CHECK(schema.value("SELECT count(*) FROM spool_schema") == "1");
    CHECK(schema.value("SELECT version FROM spool_schema") == std::to_string(spool::postgres_store::schema_version));
}

TEST_CASE("a schema-1 database is brought to the latest schema: its queued messages keep their place, not held, and can be held") {
    spool_test::postgres_schema schema;
    spool::message_id queued{};
    {
        spool::postgres_store store(schema.conninfo());
        auto m = mail({smtp("a@x")});
        m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
        queued = store.create_queued(spool::folders::outbox, m).value();
    }
    schema.sql("DROP TABLE spool_actions; DROP TABLE spool_returned; DROP TABLE spool_suppressions; DROP INDEX spool_queue_waiting; ALTER TABLE spool_queue DROP COLUMN waiting_for,"
               " DROP COLUMN held_since, DROP COLUMN held_for, DROP COLUMN request; UPDATE spool_schema SET version = 1");
    spool::postgres_store store(schema.conninfo());
    CHECK(schema.value("SELECT version FROM spool_schema") == std::to_string(spool::postgres_store::schema_version));
    CHECK(schema.value("SELECT count(*) FROM spool_suppressions") == "0");
    CHECK(schema.value("SELECT count(*) FROM spool_returned") == "0");
    CHECK(store.count_queue(spool::time_point{}) == spool::queue_counts{1, 1, 0, 0, 0, 0});
    CHECK(store.hold(queued, spool::time_point{}).value() == spool::admin_outcome::applied);
    CHECK(store.due_queue(std::chrono::system_clock::now(), 10).empty());
}

TEST_CASE("a store's connections name the application spool, unless the connection string names one") {
    spool_test::postgres_schema schema;
    spool::postgres_store plain(schema.conninfo());
    spool::postgres_store named(schema.conninfo() + " application_name=billing-spooler");
    CHECK(schema.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'billing-spooler'") == "2"); // work and LISTEN
    CHECK(std::stoi(schema.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'spool'")) >= 2);
}

TEST_CASE("a server that cannot be reached gives store_unavailable, with libpq's words") {
    auto s = spool::postgres_store::open("host=127.0.0.1 port=1 connect_timeout=2");
    REQUIRE_FALSE(s);
    CHECK(s.error() == spool::errc::store_unavailable);
    try {
        spool::postgres_store store("host=127.0.0.1 port=1 connect_timeout=2");
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code() == spool::errc::store_unavailable);
        CHECK_THAT(e.what(), ContainsSubstring("127.0.0.1"));
    }
}

TEST_CASE("the spooler sends through the PostgreSQL store, claims what it sends, and leaves nothing leased") {
    spool_test::postgres_schema schema;
    spool::postgres_store store(schema.conninfo());
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    std::vector<spool::message_id> ids;
    for (int i = 0; i < 50; ++i) ids.push_back(sp.client().send(mail({smtp("a" + std::to_string(i) + "@x")})).value());
    sp.drain();
    CHECK(transport.deliveries().size() == 50);
    CHECK(store.outgoing_queue().empty());
    CHECK(schema.value("SELECT count(*) FROM spool_queue") == "0");
    // Sent mail moves to the sent-items folder by default.
    CHECK(schema.value("SELECT count(*) FROM spool_messages WHERE folder = " +
                       std::to_string(static_cast<std::int64_t>(spool::folders::sent_items))) == "50");
}

TEST_CASE("a deferred message is released for any process, and another process's spooler sends it when it is due") {
    spool_test::postgres_schema schema;
    spool::manual_clock clock;
    spool::postgres_store first_store(schema.conninfo(), short_lease());
    spool_test::scripted_transport busy{spool::address_types{"SMTP"}, [](spool::transmission<spool::message>& tx) {
                                            for (const auto& r : tx.recipients()) tx.deferred(r, "450 try later", "4.2.0", 60s);
                                            return spool::transmit_result::done();
                                        }};
    spool::spooler first{first_store, busy, clock};
    const auto id = first.client().send(mail({smtp("a@x")})).value();
    first.drain();
    REQUIRE(busy.calls() == 1);
    CHECK(schema.value("SELECT lease_until IS NULL FROM spool_queue") == "t"); // released at the end of the pass

    spool::postgres_store second_store(schema.conninfo(), short_lease());
    spool::memory_transport up;
    spool::spooler second{second_store, up, clock};
    second.drain();
    CHECK(up.deliveries().empty()); // not due yet
    clock.advance(61s);
    second.drain();
    REQUIRE(up.deliveries().size() == 1);
    CHECK(up.deliveries()[0].message == id);
    CHECK(second_store.outgoing_queue().empty());
}

TEST_CASE("a delay reported by one process's spooler is not reported again by another's: the mark is stored with the message") {
    spool_test::postgres_schema schema;
    spool::manual_clock clock;
    spool_test::greylisting grey;
    grey.waiting->insert("slow@x");
    const spool::exponential_backoff retry{10min, 10min, 24h};
    spool::postgres_store first_store(schema.conninfo(), short_lease());
    {
        spool::spooler first{first_store, grey, clock, retry, spool::delay_warning{1h}};
        REQUIRE(first.client().send(spool_test::from_ann({smtp("slow@x")})));
        for (int i = 0; i <= 6; ++i) {
            first.drain();
            clock.advance(10min);
        }
    }
    REQUIRE(spool_test::reports_in(first_store).size() == 1);

    spool::postgres_store second_store(schema.conninfo(), short_lease());
    spool::spooler second{second_store, grey, clock, retry, spool::delay_warning{1h}};
    for (int i = 0; i < 6; ++i) {
        second.drain();
        clock.advance(10min);
    }
    CHECK(grey.waiting->size() == 1); // still being tried, by the second spooler
    CHECK(spool_test::reports_in(second_store).size() == 1);
    CHECK(second_store.outgoing_queue().size() == 1);
}

TEST_CASE("a bounce about a message another process holds is kept, and applied once that process has finished it") {
    spool_test::postgres_schema schema;
    spool::postgres_store store(schema.conninfo(), short_lease());
    spool::postgres_store other(schema.conninfo(), short_lease()); // another process's spooler
    spool::manual_clock clock;
    spool_test::greylisting grey;
    grey.relays = true;
    grey.waiting->insert("later@x");
    spool::memory_transport inbox{spool::address_types{"INBOUND"}};
    spool_test::returned_report_reader reader;
    reader.subject = "bounce";
    spool::spooler sp{store, grey, inbox, clock, reader, spool::suppression_policy{}};
    const auto id = sp.client().send(spool_test::from_ann({smtp("gone@x"), smtp("later@x")}));
    REQUIRE(id);
    sp.drain();
    REQUIRE(store.outgoing_queue().size() == 1);
    *reader.report = {*id, "mx.x", {{"gone@x", spool::dsn_action::failed, "5.1.1", "550 5.1.1 no such user", "mx.x"}}};

    const auto claimed = other.claim_due(clock.now() + 1h, 10);
    REQUIRE(claimed.size() == 1);
    REQUIRE(claimed.front().id == *id);
    spool::message held = other.load(*id).value();
    const spool::message before = held;

    spool::message bounce;
    bounce.payload.subject = "bounce";
    inbox.arrive(bounce);
    sp.drain();
    CHECK(store.load(*id).value() == before); // not written under the holder
    CHECK(store.find_suppression("gone@x", clock.now()).value().has_value());
    REQUIRE(store.returned_backlog(10).value().size() == 1);

    // Its hand-off relays the other recipient, and it finishes the message.
    held.find_recipient("later@x")->status = spool::status::sent{clock.now(), spool::delivery_action::relayed};
    held.flags = held.flags & ~spool::message_flags::submitted;
    held.sent_mail = spool::disposition::leave_in_place{};
    REQUIRE_FALSE(other.finish(*id, held));
    REQUIRE(store.outgoing_queue().empty());

    clock.advance(2s);
    sp.drain();
    const spool::message after = store.load(*id).value();
    CHECK(after.find_recipient("gone@x")->is_failed());
    CHECK(after.find_recipient("later@x")->status == held.find_recipient("later@x")->status); // its outcome kept
    CHECK(store.returned_backlog(10).value().empty());
    const auto reports = spool_test::reports_in(store);
    REQUIRE(reports.size() == 1);
    CHECK(reports.front().report->kind == spool::report_kind::non_delivery);
}

TEST_CASE("a client in another process cannot open or abort a message whose hand-off runs there") {
    spool_test::postgres_schema schema;
    spool::postgres_store spooler_store(schema.conninfo(), short_lease(2s));
    spool_test::async_transport transport; // its hand-offs complete only when the gate opens
    transport.close_gate();
    spool::spooler sp{spooler_store, transport};
    spool::postgres_store client_store(schema.conninfo(), short_lease(2s));
    spool::memory_transport unused;
    spool::spooler other{client_store, unused}; // never runs: only its client is used
    const auto id = other.client().send(mail({smtp("a@x")})).value();
    std::thread worker([&] { sp.drain(); });
    REQUIRE(eventually([&] { return transport.in_flight() == 1; }));
    CHECK(other.client().open(id).error() == spool::errc::no_access);
    CHECK(other.client().abort_submit(id) == spool::errc::unable_to_abort);
    transport.open_gate();
    worker.join();
    CHECK(transport.deliveries().size() == 1);
    CHECK(other.client().open(id)); // sent, and no longer leased
}

TEST_CASE("a submit in another process wakes an idle spooler at once (LISTEN/NOTIFY), and poll-only mode finds it by polling") {
    for (const bool listen : {true, false}) {
        INFO((listen ? "listening" : "polling only"));
        spool_test::postgres_schema schema;
        spool::postgres_options options;
        options.listen = listen;
        // Listening, the spooler would not poll within the test's time: only the notification can wake it.
        options.poll_interval = listen ? std::chrono::milliseconds{std::chrono::hours{1}} : std::chrono::milliseconds{200};
        spool::postgres_store spooler_store(schema.conninfo(), options);
        spool::memory_transport transport;
        spool::spooler sp{spooler_store, transport};
        sp.start();
        std::this_thread::sleep_for(100ms); // its first pass found nothing; it is idle now

        spool::postgres_store client_store(schema.conninfo());
        spool::memory_transport unused;
        spool::spooler other{client_store, unused}; // never runs: only its client is used
        const auto id = other.client().send(mail({smtp("a@x")})).value();
        CHECK(eventually([&] { return transport.deliveries().size() == 1; }));
        sp.stop();
        REQUIRE(transport.deliveries().size() == 1);
        CHECK(transport.deliveries()[0].message == id);
    }
}

TEST_CASE("a connection the server ends gives store_unavailable once, then the store reconnects by itself, and nothing is lost") {
    spool_test::postgres_schema schema;
    // Named, so that only this test's connections are ended (other tests run beside it).
    const std::string name = "spool-" + schema.name();
    spool::postgres_store store(schema.conninfo() + " application_name=" + name);
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    const auto first = sp.client().send(mail({smtp("a@x")})).value();
    // Another session ends this store's connections, as an administrator or a failover would.
    schema.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + name + "'");
    const auto lost = sp.client().send(mail({smtp("b@x")}));
    REQUIRE_FALSE(lost);
    CHECK(lost.error() == spool::errc::store_unavailable);
    std::this_thread::sleep_for(200ms); // past the first reconnect pause
    const auto second = sp.client().send(mail({smtp("c@x")})).value();
    CHECK(store.connections_made() == 2);
    sp.drain();
    REQUIRE(transport.deliveries().size() == 2);
    CHECK(transport.deliveries()[0].message == first);
    CHECK(transport.deliveries()[1].message == second);
    CHECK(store.outgoing_queue().empty());
}

TEST_CASE("a statement that runs past statement_timeout is cancelled with a clear error and writes nothing") {
    spool_test::postgres_schema schema;
    spool::postgres_options options;
    options.statement_timeout = 200ms;
    spool::postgres_store store(schema.conninfo(), options);
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    // Another session holds the queue table locked, so the insert waits until the timeout.
    PGconn* locker = PQconnectdb(schema.conninfo().c_str());
    REQUIRE(PQstatus(locker) == CONNECTION_OK);
    PQclear(PQexec(locker, "BEGIN; LOCK TABLE spool_queue IN ACCESS EXCLUSIVE MODE"));
    const auto refused = sp.client().send(mail({smtp("a@x")}));
    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().category() == spool::postgres_category());
    CHECK_THAT(refused.error().message(), ContainsSubstring("statement_timeout"));
    CHECK_THAT(refused.error().message(), ContainsSubstring("57014"));
    CHECK(schema.value("SELECT count(*) FROM spool_messages") == "0");
    CHECK(sp.client().send(mail({smtp("a@x")})));
    sp.drain();
    CHECK(transport.deliveries().size() == 1);
}

TEST_CASE("sends in a batch have their ids at once, are written together at its end, and the spooler sends every one") {
    spool_test::postgres_schema schema;
    spool::postgres_store store(schema.conninfo());
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    STATIC_REQUIRE(spool::BulkQueuedCreateStore<spool::postgres_store>);
    std::vector<spool::message_id> ids;
    // More than a reservation's block, so that ids come from two reservations.
    const auto ec = sp.client().batch([&] {
        for (int i = 0; i < 100; ++i) {
            auto id = sp.client().send(mail({smtp("a" + std::to_string(i) + "@x")}));
            REQUIRE(id);
            ids.push_back(*id);
        }
        // A read in the batch finds what it created.
        CHECK(sp.client().open(ids.front()));
        CHECK(sp.client().open(ids.back()));
    });
    REQUIRE_FALSE(ec);
    CHECK(std::set<spool::message_id>(ids.begin(), ids.end()).size() == 100);
    CHECK(schema.value("SELECT count(*) FROM spool_queue") == "100");
    // The queue keeps the order of the sends.
    CHECK(schema.value("SELECT string_agg(message_id::text, ',' ORDER BY submit_time, sequence) FROM spool_queue") ==
          [&] {
              std::string s;
              for (auto id : ids) s += (s.empty() ? "" : ",") + std::to_string(static_cast<std::uint64_t>(id));
              return s;
          }());
    sp.drain();
    CHECK(transport.deliveries().size() == 100);
    CHECK(schema.value("SELECT count(*) FROM spool_queue") == "0");
}

TEST_CASE("a batch whose writing fails at its end queues none of its sends, and their ids find nothing") {
    spool_test::postgres_schema schema;
    spool::postgres_options options;
    options.statement_timeout = 200ms;
    spool::postgres_store store(schema.conninfo(), options);
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    std::vector<spool::message_id> ids;
    // Another session holds the queue table locked while the batch ends: its
    // one insert waits, and the statement timeout cancels it.
    PGconn* locker = PQconnectdb(schema.conninfo().c_str());
    REQUIRE(PQstatus(locker) == CONNECTION_OK);
    const auto ec = sp.client().batch([&] {
        for (int i = 0; i < 3; ++i) ids.push_back(sp.client().send(mail({smtp("a@x")})).value());
        PQclear(PQexec(locker, "BEGIN; LOCK TABLE spool_queue IN ACCESS EXCLUSIVE MODE"));
    });
    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);
    REQUIRE(ec);
    CHECK(ec.category() == spool::postgres_category());
    CHECK(schema.value("SELECT count(*) FROM spool_messages") == "0");
    for (auto id : ids) CHECK(sp.client().open(id).error() == spool::errc::not_found);
    // The store goes on: the next batch is written.
    CHECK_FALSE(sp.client().batch([&] { CHECK(sp.client().send(mail({smtp("a@x")}))); }));
    sp.drain();
    CHECK(transport.deliveries().size() == 1);
}

TEST_CASE("send_all writes many messages in one step: all queued in their order, or none when one is refused") {
    spool_test::postgres_schema schema;
    spool::postgres_store store(schema.conninfo());
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    std::vector<spool::message> ms;
    for (int i = 0; i < 5; ++i) ms.push_back(mail({smtp("b" + std::to_string(i) + "@x")}));
    auto bad = ms;
    bad[3].recipients.clear();
    CHECK(sp.client().send_all(bad).error() == spool::errc::no_recipients);
    CHECK(schema.value("SELECT count(*) FROM spool_messages") == "0");
    auto ids = sp.client().send_all(ms);
    REQUIRE(ids);
    REQUIRE(ids->size() == 5);
    std::string in_order;
    for (auto id : *ids) in_order += (in_order.empty() ? "" : ",") + std::to_string(static_cast<std::uint64_t>(id));
    CHECK(schema.value("SELECT string_agg(message_id::text, ',' ORDER BY submit_time, sequence) FROM spool_queue") == in_order);
    sp.drain();
    std::set<spool::message_id> delivered;
    for (const auto& d : transport.deliveries()) delivered.insert(d.message);
    CHECK(delivered == std::set<spool::message_id>(ids->begin(), ids->end()));
}

TEST_CASE("a claim takes at least the store's floor, however few its transports want: the rest wait leased, and all are sent") {
    spool_test::postgres_schema schema;
    spool::postgres_store store(schema.conninfo());
    spool_test::async_transport transport{0us, 1};
    transport.close_gate();
    spool::spooler sp{store, transport};
    sp.limits<spool_test::async_transport>({.max_in_flight = 1});
    REQUIRE(store.claim_floor() == 64);
    REQUIRE_FALSE(sp.client().batch([&] {
        for (int i = 0; i < 200; ++i) REQUIRE(sp.client().send(mail({smtp("a" + std::to_string(i) + "@x")})));
    }));
    const spool::run_report first = sp.run_once();
    CHECK(transport.in_flight() == 1);
    // Two wanted (twice the limit), 64 claimed: one claim, not 32.
    CHECK(first.examined == 64);
    CHECK(schema.value("SELECT count(*) FROM spool_queue WHERE lease_until > clock_timestamp()") == "64");
    transport.open_gate();
    sp.drain();
    CHECK(sp.stats().recipients_sent == 200);
    CHECK(schema.value("SELECT count(*) FROM spool_queue") == "0");
}

TEST_CASE("the server stopped and started again: calls fail with store_unavailable meanwhile, then work, and the queue is whole") {
    // A cluster of this test's own, so that stopping it disturbs no other test.
    const std::string dir = std::filesystem::temp_directory_path() / ("spool-pg-restart-" + std::to_string(::getpid()));
    const std::string script = SPOOL_POSTGRES_CLUSTER_SCRIPT;
    REQUIRE(std::system((script + " start " + dir).c_str()) == 0);
    struct stop_cluster {
        std::string command, dir;
        ~stop_cluster() {
            (void)std::system(command.c_str());
            std::error_code ignored;
            std::filesystem::remove_all(dir, ignored);
        }
    } cleanup{script + " stop " + dir, dir};
    std::ifstream in(dir + "/conninfo");
    std::string conninfo;
    std::getline(in, conninfo);

    spool::postgres_store store(conninfo);
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    const auto queued = sp.client().send(mail({smtp("a@x")})).value();
    REQUIRE(std::system((script + " down " + dir).c_str()) == 0);
    CHECK(sp.client().send(mail({smtp("b@x")})).error() == spool::errc::store_unavailable);
    CHECK_THROWS_AS(sp.drain(), std::system_error); // the pass cannot read the queue: an error, not an empty queue
    CHECK(transport.deliveries().empty());
    REQUIRE(std::system((script + " up " + dir).c_str()) == 0);
    REQUIRE(eventually([&] { return static_cast<bool>(sp.client().send(mail({smtp("c@x")}))); }));
    sp.drain();
    REQUIRE(transport.deliveries().size() == 2);
    CHECK(transport.deliveries()[0].message == queued);
}

TEST_CASE("a pass longer than the lease (slow synchronous hand-offs) renews the leases of what it has claimed, so nobody else takes them") {
    spool_test::postgres_schema schema;
    // The spooler claims two at a time (what one inline hand-off at once can
    // use). The second of a claim waits behind the first's 800 ms hand-off,
    // and its own ends past the 1.2 s lease: only the renewal between the two
    // keeps it from the competing claimer.
    const auto lease = 1200ms;
    spool::postgres_store store(schema.conninfo(), short_lease(lease));
    std::mutex mutex;
    std::set<spool::message_id> handed_off, stolen;
    std::atomic<bool> claimed{false};
    spool_test::scripted_transport slow{spool::address_types{"SMTP"}, [&](spool::transmission<spool::message>& tx) {
                                            {
                                                std::lock_guard g{mutex};
                                                handed_off.insert(tx.message().id);
                                            }
                                            // The first hand-off comes after the pass's first claim.
                                            claimed = true;
                                            claimed.notify_all();
                                            std::this_thread::sleep_for(800ms);
                                            for (const auto& r : tx.recipients()) tx.sent(r);
                                            return spool::transmit_result::done();
                                        }};
    spool::spooler sp{store, slow};
    constexpr int messages = 4;
    std::set<spool::message_id> all;
    for (int i = 0; i < messages; ++i) all.insert(sp.client().send(mail({smtp("a" + std::to_string(i) + "@x")})).value());
    spool::postgres_store other(schema.conninfo(), short_lease(lease));
    std::atomic<bool> passing{true};
    // The competitor starts only once the spooler has claimed: before that,
    // on a busy machine, it would simply claim first.
    std::thread thief([&] {
        claimed.wait(false);
        while (passing) {
            {
                std::lock_guard g{mutex};
                for (const auto& e : other.claim_due(spool::time_point::max(), 1)) stolen.insert(e.id);
                (void)other.retain_leases({stolen.begin(), stolen.end()}); // what it took, it keeps
            }
            std::this_thread::sleep_for(20ms);
        }
    });
    sp.run_once();
    passing = false;
    claimed = true; // a pass that handed nothing off must not leave the thief waiting
    claimed.notify_all();
    thief.join();
    INFO(handed_off.size() << " handed off, " << stolen.size() << " taken by the other claimer");
    for (spool::message_id id : handed_off) CHECK_FALSE(stolen.contains(id)); // no message both handed off and taken
    std::set<spool::message_id> seen = handed_off;
    seen.insert(stolen.begin(), stolen.end());
    CHECK(seen == all);
    CHECK(handed_off.size() >= 2); // a whole claim, its second kept by the renewal
}

TEST_CASE("a destination that is down with a backlog: its messages wait on their queue rows for every process, no claim takes them, and they go out once it is back") {
    spool_test::postgres_schema schema;
    spool::postgres_store store(schema.conninfo(), short_lease(2000ms));
    spool_test::down_destination_with_a_backlog(store, 300);
}

#ifdef SPOOLCTL
TEST_CASE("spoolctl --postgres works a PostgreSQL spool: hold, list, delete") {
    spool_test::postgres_schema schema;
    spool_test::temp_dir dir;
    spool::postgres_store store(schema.conninfo());
    auto m = mail({smtp("a@example.net")});
    m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
    const auto id = store.create_queued(spool::folders::outbox, m).value();
    const std::string id_text = std::to_string(static_cast<std::uint64_t>(id));
    auto spoolctl = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"--postgres", schema.conninfo()});
        const int code = spool_test::exit_code(spool_test::spawn(SPOOLCTL, args, {}, dir.file("out"), dir.file("err")));
        INFO(spool_test::contents_of(dir.file("err")));
        return std::pair{code, spool_test::contents_of(dir.file("out"))};
    };
    CHECK(spoolctl({"hold", id_text}) == std::pair{0, id_text + ": hold: done\n"});
    CHECK(store.inspect(id, std::chrono::system_clock::now())->held);
    const auto [code, listed] = spoolctl({"--json", "list"});
    CHECK(code == 0);
    CHECK(listed.find("\"id\":" + id_text + ",") != std::string::npos);
    CHECK(listed.find("\"held\":true") != std::string::npos);
    CHECK(spoolctl({"delete", id_text}) == std::pair{0, id_text + ": delete: done\n"});
    CHECK(store.load(id).error() == spool::errc::not_found);
    CHECK(spoolctl({"delete", id_text}).first == 1);
}

TEST_CASE("spoolctl --postgres never makes a spool, and says why it cannot open one in libpq's words") {
    spool_test::postgres_schema schema;
    spool_test::temp_dir dir;
    auto spoolctl = [&](const std::string& conninfo) {
        const int code = spool_test::exit_code(spool_test::spawn(SPOOLCTL, {"--postgres", conninfo, "stats"}, {}, dir.file("out"), dir.file("err")));
        return std::pair{code, spool_test::contents_of(dir.file("err"))};
    };
    auto tables = [&] { return schema.value("SELECT count(*) FROM pg_tables WHERE schemaname = '" + schema.name() + "'"); };

    SECTION("an empty schema is not a spool, and stays empty") {
        const auto [code, err] = spoolctl(schema.conninfo());
        CHECK(code == 3);
        CHECK(err.find("not a spool") != std::string::npos);
        CHECK(tables() == "0");
    }
    SECTION("a schema with other tables only is not a spool, and is left as it was") {
        schema.sql("CREATE TABLE invoices (id integer)");
        const auto [code, err] = spoolctl(schema.conninfo());
        CHECK(code == 3);
        CHECK(err.find("not a spool") != std::string::npos);
        CHECK(tables() == "1");
    }
    SECTION("the library's own open refuses the same with create = false, and makes the spool without it") {
        spool::postgres_options existing;
        existing.create = false;
        CHECK(spool::postgres_store::open(schema.conninfo(), existing).error() == spool::errc::not_a_spool_store);
        CHECK(tables() == "0");
        CHECK(spool::postgres_store::open(schema.conninfo()).has_value());
        CHECK(spoolctl(schema.conninfo()).first == 0);
    }
    SECTION("a malformed connection string, an unreachable server and a missing database each say what is wrong") {
        const auto [malformed, malformed_err] = spoolctl("host=/nowhere port");
        CHECK(malformed == 3);
        CHECK(malformed_err.find("missing \"=\" after \"port\"") != std::string::npos);
        // A socket directory with no server in it.
        const auto [unreachable, unreachable_err] = spoolctl("host=" + dir.path() + " port=1 dbname=postgres");
        CHECK(unreachable == 3);
        CHECK(unreachable_err.find("No such file or directory") != std::string::npos);
        const auto [missing, missing_err] = spoolctl(schema.conninfo() + " dbname=no_such_database");
        CHECK(missing == 3);
        CHECK(missing_err.find("\"no_such_database\" does not exist") != std::string::npos);
        for (const auto& err : {malformed_err, unreachable_err, missing_err}) {
            INFO(err);
            CHECK(err.find("retried") == std::string::npos); // a one-shot tool retries nothing
            CHECK(std::ranges::count(err, '\n') == 1);        // one line
        }
    }
}
#endif
