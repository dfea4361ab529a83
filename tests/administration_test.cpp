// Queue administration through the library, with a spooler in this process:
// what a hold, a release, a flush, an expire and the deletions do to the
// messages a spooler sends (the store's own laws are in sqlite_test.cpp and
// postgres_test.cpp; spoolctl in another process, in spoolctl_test.cpp).
#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/reports.hpp"
#include "support/temp_dir.hpp"

#include <spool/administration.hpp>
#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <chrono>

using namespace std::chrono_literals;
using spool_test::from_ann;
using spool_test::reports_in;
using spool_test::smtp;

namespace {

struct rig {
    spool_test::temp_dir dir;
    spool::sqlite_store store{dir.file("spool.db")};
    spool::manual_clock clock;
    spool::memory_transport transport{spool::address_types{"SMTP"}};
    spool::exponential_backoff retry{std::chrono::seconds{300}, std::chrono::seconds{300}, std::chrono::hours{1}};
    spool::spooler<spool::sqlite_store&, spool::memory_transport&, spool::manual_clock&, spool::exponential_backoff&> sp{store, transport, clock, retry};

    spool::message_id send(std::string to = "bob@example.net") { return sp.client().send(from_ann({smtp(to)})).value(); }
    const spool::recipient& recipient_of(spool::message_id id) {
        loaded = store.load(id).value();
        return loaded.recipients.front();
    }
    spool::message loaded;
};

} // namespace

TEST_CASE("a held message is not sent while held, and is sent once released") {
    rig r;
    const auto id = r.send();
    REQUIRE(r.store.hold(id, r.clock.now()).value() == spool::admin_outcome::applied);
    r.sp.drain();
    CHECK(r.transport.deliveries().empty());
    CHECK(r.store.inspect(id, r.clock.now())->state == spool::queue_state::held);
    REQUIRE(r.store.release(id, r.clock.now()).value() == spool::admin_outcome::applied);
    CHECK(r.sp.drain().finished == 1);
    REQUIRE(r.transport.deliveries().size() == 1);
    CHECK(r.transport.deliveries()[0].message == id);
}

TEST_CASE("the time a message is held does not count toward its lifetime") {
    rig r;
    r.transport.offline(std::chrono::seconds{300});
    const auto id = r.send();
    r.sp.drain(); // deferred: the system is offline
    REQUIRE(r.recipient_of(id).is_deferred());
    REQUIRE(r.store.hold(id, r.clock.now()).has_value());
    r.clock.advance(2h); // past the 1 h lifetime, but on hold
    REQUIRE(r.store.release(id, r.clock.now()).has_value());
    r.sp.drain();
    CHECK(r.recipient_of(id).is_deferred()); // not expired: 2 h of it were on hold
    r.clock.advance(1h + 1s); // now past lifetime + held time
    r.sp.drain();
    CHECK(r.recipient_of(id).is_failed());
}

TEST_CASE("a flush sends a deferred message now, before its next attempt") {
    rig r;
    r.transport.offline(std::chrono::seconds{300});
    const auto id = r.send();
    r.sp.drain();
    REQUIRE(r.recipient_of(id).is_deferred());
    r.transport.online();
    r.sp.drain(); // its next attempt is 300 s away: nothing happens yet
    REQUIRE(r.transport.deliveries().empty());
    REQUIRE(r.store.request(id, spool::admin_request::flush).value() == spool::admin_outcome::requested);
    CHECK(r.sp.drain().finished == 1);
    CHECK(r.transport.deliveries().size() == 1);
}

TEST_CASE("expire fails the remaining recipients now, and the spooler makes the non-delivery report") {
    rig r;
    r.transport.offline(std::chrono::seconds{300});
    const auto id = r.send();
    r.sp.drain();
    REQUIRE(r.store.request(id, spool::admin_request::expire).value() == spool::admin_outcome::requested);
    r.sp.drain();
    const spool::recipient& bob = r.recipient_of(id);
    REQUIRE(bob.is_failed());
    CHECK(std::get<spool::status::failed>(bob.status).reason.starts_with("expired by the administrator"));
    CHECK(std::get<spool::status::failed>(bob.status).diagnostic == "5.4.7");
    const auto reports = reports_in(r.store);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].report->kind == spool::report_kind::non_delivery);
    CHECK(reports[0].report->original_id == id);
    CHECK(r.store.outgoing_queue().empty());
}

TEST_CASE("delete with a report: the spooler reports the remaining recipients, then deletes the message") {
    rig r;
    r.transport.offline(std::chrono::seconds{300});
    const auto id = r.send();
    r.sp.drain();
    REQUIRE(r.store.request(id, spool::admin_request::remove_with_report).value() == spool::admin_outcome::requested);
    r.sp.drain();
    CHECK(r.store.load(id).error() == spool::errc::not_found);
    const auto reports = reports_in(r.store);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].report->kind == spool::report_kind::non_delivery);
    CHECK(reports[0].report->entries.at(0).reason.starts_with("deleted by the administrator"));
}

TEST_CASE("a silent delete is applied at once when no spooler runs, and by the spooler, without a report, when one does") {
    spool_test::temp_dir dir;
    const auto path = dir.file("spool.db");
    spool::message_id first{}, second{};
    {
        spool::sqlite_store store(path);
        auto m = from_ann({smtp("bob@example.net")});
        m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
        first = store.create_queued(spool::folders::outbox, m).value();
        second = store.create_queued(spool::folders::outbox, m).value();
        // No spooler holds the database: deleted now.
        REQUIRE(store.request(first, spool::admin_request::remove).value() == spool::admin_outcome::applied);
        CHECK(store.load(first).error() == spool::errc::not_found);
    }
    spool::sqlite_store store(path);
    spool::memory_transport transport{spool::address_types{"SMTP"}};
    transport.offline(std::chrono::seconds{300});
    spool::spooler sp{store, transport};
    sp.drain(); // the spooler now holds the database's spooler lock; its claims are in its memory
    spool::sqlite_store admin(path);
    REQUIRE(admin.request(second, spool::admin_request::remove).value() == spool::admin_outcome::requested);
    CHECK(admin.inspect(second, spool::time_point{})->request == spool::admin_request::remove);
    sp.drain();
    CHECK(store.load(second).error() == spool::errc::not_found);
    CHECK(reports_in(store).empty());
}
