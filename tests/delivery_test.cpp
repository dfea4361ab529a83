// Concurrent delivery: asynchronous transports, per-transport and
// per-destination limits, rate limits, destination health, per-recipient
// deferral and failure scopes, and stop() with hand-offs in flight.

#include "catch.hpp"
#include "support/async_transport.hpp"
#include "support/down_destination.hpp"
#include "support/fixtures.hpp"
#include "support/reports.hpp"
#include "support/temp_dir.hpp"

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>
#include <spool/testing/store_conformance.hpp>
#include <spool/testing/transport_kit.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using spool_test::async_transport;
using spool_test::is;
using spool_test::mail;
using spool_test::smtp;

namespace {

const std::vector<std::string> domains = {"a.example", "b.example", "c.example", "d.example", "e.example"};

spool::message to_domain(std::size_t n, const std::string& domain) {
    return mail({smtp("user" + std::to_string(n) + "@" + domain)});
}

// A synchronous transport that may run on worker threads: it counts how many
// transmit() calls overlap, in all and per destination.
class counting_sync_transport {
public:
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return spool::address_types::any(); }
    std::string destination(const spool::recipient& r) const { return spool_test::domain_of(r.address); }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        const std::string dest = destination(*tx.recipients().begin());
        {
            std::lock_guard g{s_->mutex};
            s_->max_all = std::max(s_->max_all, ++s_->all);
            s_->max_per[dest] = std::max(s_->max_per[dest], ++s_->per[dest]);
            if (std::this_thread::get_id() != s_->first_thread) s_->threads.insert(std::this_thread::get_id());
        }
        std::this_thread::sleep_for(200us);
        for (const auto& r : tx.recipients()) tx.sent(r);
        std::lock_guard g{s_->mutex};
        --s_->all;
        --s_->per[dest];
        ++s_->sent;
        return spool::transmit_result::done();
    }
    struct state {
        std::mutex mutex;
        std::size_t all = 0, max_all = 0, sent = 0;
        std::map<std::string, std::size_t> per, max_per;
        std::set<std::thread::id> threads;
        std::thread::id first_thread = std::this_thread::get_id();
    };
    std::shared_ptr<state> s_ = std::make_shared<state>();
};

// The test's asynchronous transport, without destination(): every hand-off
// goes to the transport's one unnamed destination.
class unnamed_async_transport {
public:
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return inner.address_types(); }
    void async_transmit(spool::transmission<spool::message>& tx, spool::transmit_handler done) { inner.async_transmit(tx, std::move(done)); }
    void cancel_transmissions() { inner.cancel_transmissions(); }
    async_transport inner{0us, 4};
};

} // namespace

TEST_CASE("a transport that names no destinations gets its whole max_in_flight at once, not a destination's default of 20") {
    spool::memory_store store;
    unnamed_async_transport transport;
    transport.inner.close_gate(); // nothing completes: what is in flight stays there to be counted
    spool::spooler sp{store, transport};
    sp.limits<unnamed_async_transport>({.max_in_flight = 64});
    auto client = sp.client();
    for (std::size_t i = 0; i < 200; ++i) REQUIRE(client.send(to_domain(i, domains[i % domains.size()])));

    sp.run_once();
    CHECK(transport.inner.in_flight() == 64);

    // A limit set for it still holds.
    transport.inner.open_gate();
    sp.drain();
    CHECK(sp.stats().recipients_sent == 200);
    transport.inner.close_gate();
    for (std::size_t i = 0; i < 50; ++i) REQUIRE(client.send(to_domain(i, domains[0])));
    sp.limits<unnamed_async_transport>({.max_in_flight = 64, .destination_concurrency = 10});
    sp.run_once();
    CHECK(transport.inner.in_flight() == 10);
    transport.inner.open_gate();
    sp.drain();
    CHECK(sp.stats().recipients_sent == 250);
}

TEST_CASE("a destination at its limit with a backlog does not keep the messages for others from being taken") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("spool.db"));
    async_transport transport{0us, 2};
    transport.close_gate(); // nothing completes: what a pass took stays in hand to be counted
    spool::spooler sp{store, transport};
    sp.limits<async_transport>({.max_in_flight = 4, .destination_concurrency = 2});
    auto client = sp.client();
    // A backlog for one destination first, then a few for another.
    for (std::size_t i = 0; i < 1000; ++i) REQUIRE(client.send(to_domain(i, "slow.example")));
    for (std::size_t i = 0; i < 2; ++i) REQUIRE(client.send(to_domain(i, "fast.example")));

    // The backlog's hand-offs beyond its destination's limit of 2 wait without
    // counting against what the transport wants, so the pass goes on to the
    // other destination's messages.
    sp.run_once();
    CHECK(transport.max_per_destination("slow.example") == 2);
    CHECK(transport.max_per_destination("fast.example") == 2); // taken although the backlog came first

    transport.open_gate();
    sp.drain();
    CHECK(sp.stats().recipients_sent == 1002);
    CHECK(sp.locked_count() == 0);
}

TEST_CASE("with the transport's own limit reached, a pass takes twice its limit, not the whole queue") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("spool.db"));
    async_transport transport{0us, 2};
    transport.close_gate();
    spool::spooler sp{store, transport};
    sp.limits<async_transport>({.max_in_flight = 4});
    auto client = sp.client();
    for (std::size_t i = 0; i < 1000; ++i) REQUIRE(client.send(to_domain(i, domains[i % domains.size()])));

    const spool::run_report first = sp.run_once();
    CHECK(transport.in_flight() == 4);
    CHECK(sp.locked_count() == 8); // 4 in flight, 4 ready for the next completions
    CHECK(first.examined == 8);
    transport.open_gate();
    sp.drain();
    CHECK(sp.stats().recipients_sent == 1000);
}

TEST_CASE("an asynchronous transport gets many hand-offs at once, never more than its limit or a destination's") {
    spool::memory_store store;
    async_transport transport{500us, 8};
    spool::spooler sp{store, transport};
    sp.limits<async_transport>({.max_in_flight = 16, .destination_concurrency = 4});
    auto client = sp.client();
    for (std::size_t i = 0; i < 1000; ++i) REQUIRE(client.send(to_domain(i, domains[i % domains.size()])));

    sp.drain();

    CHECK(sp.stats().recipients_sent == 1000);
    CHECK(transport.deliveries().size() == 1000);
    CHECK(transport.max_in_flight() <= 16);
    CHECK(transport.max_in_flight() > 1); // it did run hand-offs side by side
    for (const auto& d : domains) CHECK(transport.max_per_destination(d) <= 4);
    CHECK(transport.mixed_handoffs() == 0);
    CHECK(sp.in_flight() == 0);
    CHECK(sp.locked_count() == 0);
}

TEST_CASE("a synchronous transport with a limit above one runs on the spooler's worker threads, within its limits") {
    spool::memory_store store;
    counting_sync_transport transport;
    spool::spooler sp{store, transport};
    CHECK(sp.limits<counting_sync_transport>().max_in_flight == 1); // today's default: inline, one at a time
    sp.limits<counting_sync_transport>({.max_in_flight = 6, .destination_concurrency = 2});
    CHECK(sp.limits<counting_sync_transport>().max_in_flight == 6);
    auto client = sp.client();
    for (std::size_t i = 0; i < 1000; ++i) REQUIRE(client.send(to_domain(i, domains[i % domains.size()])));

    sp.drain();

    CHECK(transport.s_->sent == 1000);
    CHECK(sp.stats().recipients_sent == 1000);
    CHECK(transport.s_->max_all <= 6);
    CHECK(transport.s_->max_all > 1);
    for (const auto& d : domains) CHECK(transport.s_->max_per[d] <= 2);
    CHECK_FALSE(transport.s_->threads.empty()); // not the test's thread
}

TEST_CASE("recipients of one message bound for different destinations are handed off separately") {
    spool::memory_store store;
    async_transport transport;
    spool::spooler sp{store, transport};
    auto client = sp.client();
    REQUIRE(client.send(mail({smtp("x@a.example"), smtp("y@b.example"), smtp("z@a.example")})));
    sp.drain();
    CHECK(transport.calls() == 2);
    CHECK(transport.mixed_handoffs() == 0);
    CHECK(sp.stats().recipients_sent == 3);
    CHECK(sp.stats().messages_finished == 1);
}

TEST_CASE("a destination's rate limit holds hand-offs back, counted per second of the spooler's clock") {
    spool::memory_store store;
    async_transport transport{0us, 1};
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock};
    sp.limits<async_transport>({.destination_rate = 4});
    auto client = sp.client();
    for (std::size_t i = 0; i < 20; ++i) REQUIRE(client.send(to_domain(i, "a.example")));
    REQUIRE(client.send(to_domain(99, "b.example")));

    std::vector<std::size_t> per_second;
    std::size_t before = 0;
    for (int second = 0; second < 10 && before < 21; ++second) {
        for (int tick = 0; tick < 10; ++tick) {
            const auto r = sp.drain();
            if (second == 0 && tick == 0) CHECK(r.next_due.has_value()); // it says when to look again
            clock.advance(100ms);
        }
        const std::size_t now = transport.deliveries().size();
        per_second.push_back(now - before);
        before = now;
    }
    CHECK(before == 21);
    for (std::size_t n : per_second) CHECK(n <= 4 + 1); // b.example's one message has its own rate
    CHECK(per_second.size() >= 5);                      // 20 at 4 a second take at least five seconds
}

TEST_CASE("a transport blocked until the test releases it does not hold back another transport's messages") {
    spool::memory_store store;
    async_transport slow{0us, 1, spool::address_types{"SLOW"}};
    async_transport fast{0us, 1, spool::address_types{"SMTP"}};
    spool::spooler sp{store, slow, fast};
    auto client = sp.client();
    slow.close_gate();
    for (int i = 0; i < 5; ++i) {
        spool::recipient r{"s", "s" + std::to_string(i) + "@slow.example", "SLOW"};
        REQUIRE(client.send(mail({r})));
    }
    for (int i = 0; i < 50; ++i) REQUIRE(client.send(to_domain(static_cast<std::size_t>(i), "a.example")));

    sp.start();
    for (int i = 0; i < 500 && fast.deliveries().size() < 50; ++i) std::this_thread::sleep_for(10ms);
    CHECK(fast.deliveries().size() == 50);
    CHECK(slow.deliveries().empty());
    CHECK(slow.in_flight() == 5);

    slow.open_gate();
    for (int i = 0; i < 500 && sp.stats().messages_finished < 55; ++i) std::this_thread::sleep_for(10ms);
    sp.stop();
    CHECK(sp.stats().messages_finished == 55);
}

TEST_CASE("after a site failure the destination is down: not called until the cool-down passes, then once as a probe") {
    spool::memory_store store;
    async_transport transport;
    spool::manual_clock clock;
    struct health_log {
        using spool_concept = spool::observer_tag;
        std::shared_ptr<std::vector<spool::destination_event>> events = std::make_shared<std::vector<spool::destination_event>>();
        void on_destination(const spool::destination_event& e) { events->push_back(e); }
    } log;
    spool::spooler sp{store, transport, clock, log};
    // One at a time, so that the first failure is seen before a second hand-off starts.
    sp.limits<async_transport>({.destination_concurrency = 1, .cool_down = 300s});
    std::atomic<bool> refuse{true};
    transport.on_transmit([&](spool::transmission<spool::message>& tx) {
        if (spool_test::domain_of((*tx.recipients().begin()).address) == "down.example" && refuse)
            return spool::transmit_result::site_failure("connection refused", "4.4.1");
        for (const auto& r : tx.recipients()) tx.sent(r);
        return spool::transmit_result::done();
    });
    auto client = sp.client();
    std::vector<spool::message_id> waiting;
    for (std::size_t i = 0; i < 10; ++i) waiting.push_back(*client.send(to_domain(i, "down.example")));
    REQUIRE(client.send(to_domain(0, "up.example")));

    sp.drain();
    CHECK(transport.calls() == 2); // one to down.example, which failed; one to up.example
    CHECK(sp.stats().recipients_sent == 1);
    const auto health = sp.destinations();
    const auto down = std::find_if(health.begin(), health.end(), [](const auto& h) { return h.destination == "down.example"; });
    REQUIRE(down != health.end());
    CHECK(down->what == spool::destination_health::state::down);
    CHECK(down->consecutive_failures == 1);
    CHECK(down->last_error == "connection refused");
    CHECK(down->next_probe == clock.now() + 300s);
    CHECK(down->limit == 1); // the limit set above, as the dashboard shows it beside in_flight
    REQUIRE(log.events->size() == 1);
    CHECK(log.events->at(0).what == spool::destination_event::change::down);
    CHECK(log.events->at(0).destination == "down.example");

    // The failed hand-off's recipient is deferred with the diagnostic; the
    // others were not rewritten: they wait as they were.
    std::size_t deferred = 0, untouched = 0;
    for (auto id : waiting) {
        const auto m = store.load(id);
        REQUIRE(m);
        const auto& r = m->recipients[0];
        if (const auto* d = std::get_if<spool::status::deferred>(&r.status)) {
            ++deferred;
            CHECK(d->diagnostic == "4.4.1");
            CHECK(d->next_attempt == clock.now() + 300s);
        } else if (is<spool::status::pending>(r)) {
            ++untouched;
        }
    }
    CHECK(deferred == 1);
    CHECK(untouched == 9);

    // During the cool-down nothing is handed to it, however often the spooler looks.
    for (int i = 0; i < 5; ++i) {
        clock.advance(50s);
        sp.drain();
    }
    CHECK(transport.calls() == 2);

    // After it, one probe; it fails again, and the destination is down again.
    clock.advance(60s);
    sp.drain();
    CHECK(transport.calls() == 3);
    clock.advance(10s);
    sp.drain();
    CHECK(transport.calls() == 3);

    // The next probe works: the destination is back, and everything waiting goes.
    refuse = false;
    clock.advance(300s);
    sp.drain();
    CHECK(sp.stats().recipients_sent == 11);
    CHECK(transport.calls() == 3 + 10);
    // Down, down again after the failed probe, then up.
    REQUIRE(log.events->size() == 3);
    CHECK(log.events->at(1).what == spool::destination_event::change::down);
    CHECK(log.events->at(2).what == spool::destination_event::change::up);
}

TEST_CASE("hand-offs already in flight when a destination goes down mark it down once, and no new one starts") {
    spool::memory_store store;
    async_transport transport{0us, 1};
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock};
    transport.close_gate();
    transport.on_transmit([](spool::transmission<spool::message>&) { return spool::transmit_result::site_failure("timeout"); });
    auto client = sp.client();
    for (std::size_t i = 0; i < 30; ++i) REQUIRE(client.send(to_domain(i, "a.example")));
    sp.run_once();
    CHECK(transport.in_flight() == 20); // the destination's limit
    transport.open_gate();
    sp.drain();
    CHECK(transport.calls() == 20); // the other ten wait for the probe, unwritten
    REQUIRE(sp.destinations().size() == 1);
    CHECK(sp.destinations()[0].what == spool::destination_health::state::down);
    CHECK(sp.destinations()[0].consecutive_failures == 20);
    CHECK(sp.destinations()[0].next_probe == clock.now() + 300s);
}

TEST_CASE("the cohort limit sets how many site failures in a row mark a destination down") {
    spool::memory_store store;
    async_transport transport;
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock};
    sp.limits<async_transport>({.destination_concurrency = 1, .failed_cohort_limit = 3});
    transport.on_transmit([](spool::transmission<spool::message>&) { return spool::transmit_result::site_failure("timeout"); });
    auto client = sp.client();
    for (std::size_t i = 0; i < 10; ++i) REQUIRE(client.send(to_domain(i, "a.example")));
    sp.drain();
    CHECK(transport.calls() == 3);
    REQUIRE(sp.destinations().size() == 1);
    CHECK(sp.destinations()[0].what == spool::destination_health::state::down);
    CHECK(sp.destinations()[0].consecutive_failures == 3);
}

TEST_CASE("a per-recipient deferral leaves the other recipients sent and the transport called for other messages") {
    spool::memory_store store;
    async_transport transport;
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock};
    transport.on_transmit([](spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) {
            if (r.address.starts_with("grey")) tx.deferred(r, "450 greylisted, try later", "4.7.1", 120s);
            else tx.sent(r);
        }
        return spool::transmit_result::done();
    });
    auto client = sp.client();
    const auto id = *client.send(mail({smtp("grey@a.example"), smtp("ok@a.example")}));
    REQUIRE(client.send(to_domain(1, "a.example")));
    sp.drain();

    const auto m = store.load(id);
    REQUIRE(m);
    CHECK(is<spool::status::sent>(m->recipients[1]));
    const auto* d = std::get_if<spool::status::deferred>(&m->recipients[0].status);
    REQUIRE(d != nullptr);
    CHECK(d->reason == "450 greylisted, try later");
    CHECK(d->diagnostic == "4.7.1");
    CHECK(d->next_attempt == clock.now() + 120s);
    CHECK(d->attempts == 1);
    CHECK(sp.stats().messages_finished == 1); // the other message
    CHECK((sp.destinations().empty() || sp.destinations()[0].what == spool::destination_health::state::up));

    // Without a delay, the retry policy's backoff decides.
    transport.on_transmit([](spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) tx.deferred(r, "452 too many recipients");
        return spool::transmit_result::done();
    });
    clock.advance(120s);
    sp.drain();
    const auto again = std::get<spool::status::deferred>(store.load(id)->recipients[0].status);
    CHECK(again.attempts == 2);
    CHECK(again.diagnostic.empty());
    CHECK(again.next_attempt > clock.now());
}

TEST_CASE("a message-scope failure fails every recipient the transport did not report, with its diagnostic") {
    spool::memory_store store;
    spool_test::scripted_transport transport{spool::address_types::any(), [](spool::transmission<spool::message>& tx) {
        tx.sent(*tx.recipients().begin());
        return spool::transmit_result::message_failed("552 message exceeds fixed maximum message size", "5.3.4");
    }};
    spool::spooler sp{store, transport};
    auto client = sp.client();
    const auto id = *client.send(mail({smtp("a@x.example"), smtp("b@x.example"), smtp("c@x.example")}));
    sp.drain();
    const auto m = store.load(id);
    REQUIRE(m);
    CHECK(is<spool::status::sent>(m->recipients[0]));
    for (int i : {1, 2}) {
        const auto* f = std::get_if<spool::status::failed>(&m->recipients[static_cast<std::size_t>(i)].status);
        REQUIRE(f != nullptr);
        CHECK(f->diagnostic == "5.3.4");
    }
    CHECK(sp.stats().reports_generated == 1); // the non-delivery report
}

TEST_CASE("a hand-off completes exactly once: a second completion throws, a dropped handler completes as busy") {
    spool::memory_store store;
    struct keeper {
        using spool_concept = spool::transport_tag;
        std::shared_ptr<std::vector<spool::transmit_handler>> kept = std::make_shared<std::vector<spool::transmit_handler>>();
        std::shared_ptr<int> calls = std::make_shared<int>(0);
        spool::address_types address_types() const { return spool::address_types::any(); }
        void async_transmit(spool::transmission<spool::message>& tx, spool::transmit_handler done) {
            if ((*calls)++ == 0) return; // dropped: the handler is destroyed unrun
            for (const auto& r : tx.recipients()) tx.sent(r);
            done(spool::transmit_result::done());
            CHECK_THROWS_AS(done(spool::transmit_result::done()), std::logic_error);
        }
    } transport;
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock};
    auto client = sp.client();
    const auto id = *client.send(mail({smtp("a@x.example")}));
    sp.drain();
    const auto m = store.load(id);
    REQUIRE(m);
    const auto* d = std::get_if<spool::status::deferred>(&m->recipients[0].status);
    REQUIRE(d != nullptr);
    CHECK(d->reason.find("abandoned") != std::string::npos);
    clock.advance(std::chrono::hours{1});
    sp.drain();
    CHECK(*transport.calls == 2);
    CHECK(sp.stats().recipients_sent == 1);
    CHECK(sp.stats().messages_finished == 1);
}

TEST_CASE("stop() with hand-offs in flight waits, cancels the rest, and a restart on the SQLite store loses nothing") {
    spool_test::temp_dir dir;
    const std::string db = dir.file("spool.db");
    std::set<spool::message_id> ids;
    std::vector<async_transport::delivery> first_run;
    {
        auto store = spool::sqlite_store::open(db);
        REQUIRE(store);
        async_transport transport{2ms, 2};
        spool::spooler sp{std::move(*store), transport};
        sp.limits<async_transport>({.max_in_flight = 8});
        sp.stop_deadline(20ms);
        auto client = sp.client();
        for (std::size_t i = 0; i < 200; ++i) ids.insert(*client.send(to_domain(i, domains[i % domains.size()])));
        sp.start();
        std::this_thread::sleep_for(30ms);
        sp.stop();
        CHECK(sp.in_flight() == 0);
        CHECK(sp.locked_count() == 0);
        first_run = transport.deliveries();
    }
    CHECK(first_run.size() < 200); // the stop came in the middle
    {
        auto store = spool::sqlite_store::open(db);
        REQUIRE(store);
        async_transport transport{0us, 2};
        spool::spooler sp{std::move(*store), transport};
        sp.drain();
        std::set<std::string> keys;
        for (const auto& d : first_run) CHECK(keys.insert(d.delivery_key).second);
        for (const auto& d : transport.deliveries()) CHECK(keys.insert(d.delivery_key).second); // never sent twice
        CHECK(keys.size() == 200);
        CHECK(sp.store().outgoing_queue().empty());
    }
}

TEST_CASE("the transport kit hands off to an asynchronous transport and waits for it, from its thread") {
    async_transport transport{1ms, 1};
    transport.on_transmit([](spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) {
            if (r.address.starts_with("grey")) tx.deferred(r, "450 greylisted", "4.7.1", 60s);
            else tx.sent(r);
        }
        return spool::transmit_result::done();
    });
    const auto m = mail({smtp("grey@a.example"), smtp("ok@a.example")});
    const auto handed = spool::testing::hand_off(transport, m, spool::time_point{1000s});
    CHECK(handed.result.what() == spool::transmit_result::kind::done);
    REQUIRE(handed.sent.size() == 1);
    CHECK(handed.sent[0].address == "ok@a.example");
    REQUIRE(handed.deferred.size() == 1);
    const auto& d = std::get<spool::status::deferred>(handed.deferred[0].status);
    CHECK(d.diagnostic == "4.7.1");
    CHECK(d.next_attempt == spool::time_point{1060s});
}

TEST_CASE("a destination that is down with a backlog: its messages wait on their queue rows, no pass reads them, and they go out once it is back") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("spool.db"));
    spool_test::down_destination_with_a_backlog(store, 300);
}

TEST_CASE("messages held for a destination that is down still get their delayed-delivery reports when due") {
    spool::memory_store store;
    spool::manual_clock clock;
    async_transport transport{0us, 2};
    transport.on_transmit([](spool::transmission<spool::message>&) { return spool::transmit_result::site_failure("connection refused"); });
    spool::spooler sp{store, transport, clock, spool::delay_warning{30min}};
    sp.limits<async_transport>({.destination_concurrency = 1, .cool_down = 1h});
    for (int i = 0; i < 3; ++i) REQUIRE(sp.client().send(spool_test::from_ann({smtp("r" + std::to_string(i) + "@down.example")})));
    sp.drain(); // one attempt finds it down; the other two wait for its probe, untried
    CHECK(spool_test::reports_in(store).empty());
    clock.advance(1h);
    sp.drain(); // the probe fails again; the two are left as they were, but their warning is due
    sp.drain();
    const auto reports = spool_test::reports_in(store);
    CHECK(reports.size() == 3);
    for (const auto& r : reports) CHECK(r.report->kind == spool::report_kind::delayed);
    CHECK(store.outgoing_queue().size() == 3);
}

TEST_CASE("the same on the memory store: no pass lists the backlog's messages") {
    spool::memory_store store;
    spool_test::down_destination_with_a_backlog(store, 300);
    CHECK(spool::testing::check_hold_back([] { return spool::memory_store{}; }).empty());
    CHECK(spool::testing::check_due_queue([] { return spool::memory_store{}; }).empty());
}

TEST_CASE("the same on the SQLite store's shared queue") {
    spool_test::temp_dir dir;
    spool::sqlite_options shared;
    shared.shared_queue = true;
    spool::sqlite_store store(dir.file("spool.db"), shared);
    spool_test::down_destination_with_a_backlog(store, 300);
}

TEST_CASE("a synchronous transport that hangs, beside another, does not stop the other: each runs on a worker of its own") {
    spool::memory_store store;
    std::atomic<bool> release{false};
    spool_test::scripted_transport stuck{spool::address_types{"FAX"}, [&](spool::transmission<spool::message>& tx) {
                                             release.wait(false); // hangs until the test lets it go
                                             for (const auto& r : tx.recipients()) tx.sent(r);
                                             return spool::transmit_result::done();
                                         }};
    std::mutex mutex;
    std::condition_variable delivered;
    int sent = 0;
    spool_test::scripted_transport healthy{spool::address_types{"SMTP"}, [&](spool::transmission<spool::message>& tx) {
                                               for (const auto& r : tx.recipients()) tx.sent(r);
                                               std::lock_guard g{mutex};
                                               ++sent;
                                               delivered.notify_all();
                                               return spool::transmit_result::done();
                                           }};
    spool::spooler sp{store, stuck, healthy};
    CHECK(sp.limits<spool_test::scripted_transport>().max_in_flight == 1); // the default: one at a time, yet not inline
    auto client = sp.client();
    REQUIRE(client.send(mail({spool_test::fax("+1")})));
    for (int i = 0; i < 10; ++i) REQUIRE(client.send(mail({smtp("r" + std::to_string(i) + "@x")})));
    sp.start();
    // Waits for the healthy transport's ten, however long a busy machine takes;
    // with both on the spooler's thread it would never get them.
    {
        std::unique_lock l{mutex};
        delivered.wait_for(l, 60s, [&] { return sent == 10; }); // woken by each delivery
        CHECK(sent == 10);
    }
    release = true;
    release.notify_all();
    sp.stop();
    CHECK(stuck.calls() == 1); // read once its worker has been joined
    CHECK(sp.stats().recipients_sent == 11);
}

TEST_CASE("with spool::inline_transports, synchronous transports are called on the thread that runs the pass") {
    spool::memory_store store;
    std::thread::id fax_thread, smtp_thread;
    spool_test::scripted_transport faxes{spool::address_types{"FAX"}, [&](spool::transmission<spool::message>& tx) {
                                             fax_thread = std::this_thread::get_id();
                                             for (const auto& r : tx.recipients()) tx.sent(r);
                                             return spool::transmit_result::done();
                                         }};
    spool_test::scripted_transport mail_out{spool::address_types{"SMTP"}, [&](spool::transmission<spool::message>& tx) {
                                                smtp_thread = std::this_thread::get_id();
                                                for (const auto& r : tx.recipients()) tx.sent(r);
                                                return spool::transmit_result::done();
                                            }};
    spool::spooler sp{store, faxes, mail_out, spool::inline_transports{}};
    REQUIRE(sp.client().send(mail({spool_test::fax("+1"), smtp("a@x")})));
    CHECK(sp.run_once().finished == 1); // done within the pass: nothing was left in flight
    CHECK(fax_thread == std::this_thread::get_id());
    CHECK(smtp_thread == std::this_thread::get_id());
}

// --- Inline dispatch and single_threaded: chosen at compile time ----------------

namespace {
// A synchronous transport that says it takes one hand-off at a time.
struct one_at_a_time {
    using spool_concept = spool::transport_tag;
    static constexpr std::size_t max_in_flight = 1;
    std::shared_ptr<std::vector<std::thread::id>> threads = std::make_shared<std::vector<std::thread::id>>();
    std::shared_ptr<int> offline_calls = std::make_shared<int>(0);
    bool offline = false;
    spool::address_types address_types() const { return {"SMTP"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        threads->push_back(std::this_thread::get_id());
        if (offline) {
            ++*offline_calls;
            return spool::transmit_result::retry_after(std::chrono::seconds{60}, "offline");
        }
        for (const auto& r : tx.recipients()) tx.sent(r);
        return spool::transmit_result::done();
    }
};
template <class S>
concept startable = requires(S& s) { s.start(); };
struct fixed_clock {
    using spool_concept = spool::clock_tag;
    spool::time_point now() const { return spool::time_point{std::chrono::hours{1}}; }
};
struct flat_retry {
    using spool_concept = spool::retry_policy_tag;
    std::chrono::seconds max_lifetime() const { return std::chrono::hours{24}; }
    std::chrono::seconds backoff(unsigned) const { return std::chrono::seconds{60}; }
};
} // namespace

TEST_CASE("a transport declaring max_in_flight = 1, alone, is handed off inline in a single round") {
    STATIC_REQUIRE(spool::spooler<spool::memory_store, one_at_a_time>::inline_dispatch);
    // A transport that declares nothing keeps the concurrent stage, as does an asynchronous one.
    STATIC_REQUIRE_FALSE(spool::spooler<spool::memory_store, spool::memory_transport>::inline_dispatch);
    STATIC_REQUIRE_FALSE(spool::spooler<spool::memory_store, async_transport, spool::inline_transports>::inline_dispatch);
    spool::memory_store store;
    one_at_a_time t;
    spool::spooler sp{store, t};
    REQUIRE(sp.client().send(mail({smtp("a@x"), smtp("b@x")})));
    const auto r = sp.run_once();
    CHECK(r.finished == 1);
    CHECK(r.in_flight == 0);
    CHECK(sp.in_flight() == 0);
    CHECK(sp.destinations().empty()); // a single round keeps no destinations
    CHECK(*t.threads == std::vector<std::thread::id>{std::this_thread::get_id()}); // one hand-off, on this thread
}

TEST_CASE("an inline spooler remembers retry_after: the transport is not called again before its time") {
    spool::memory_store store;
    spool::manual_clock clock;
    one_at_a_time t;
    t.offline = true;
    spool::spooler sp{store, std::ref(t), clock};
    auto client = sp.client();
    REQUIRE(client.send(mail({smtp("a@x")})));
    REQUIRE(client.send(mail({smtp("b@x")})));
    sp.drain();
    CHECK(*t.offline_calls == 1); // the second message was deferred without a call
    for (const auto& e : store.outgoing_queue()) {
        const auto m = store.load(e.id).value();
        REQUIRE(is<spool::status::deferred>(m.recipients[0]));
        CHECK(std::get<spool::status::deferred>(m.recipients[0].status).next_attempt == clock.now() + 60s);
    }
    t.offline = false;
    clock.advance(60s);
    CHECK(sp.drain().finished == 2);
}

TEST_CASE("limits above one on an inline spooler throw std::invalid_argument") {
    spool::memory_store store;
    spool::spooler sp{store, one_at_a_time{}};
    CHECK_THROWS_AS(sp.limits<one_at_a_time>({.max_in_flight = 4}), std::invalid_argument);
    CHECK_THROWS_AS(sp.limits<one_at_a_time>({.destination_rate = 10}), std::invalid_argument);
    CHECK(sp.limits<one_at_a_time>().max_in_flight == 1); // unchanged
    sp.limits<one_at_a_time>({.max_in_flight = 1, .cool_down = 10s});
    CHECK(sp.limits<one_at_a_time>().cool_down == 10s);
    spool::spooler both{store, one_at_a_time{}, spool::memory_transport{{"FAX"}}, spool::inline_transports{}};
    CHECK_THROWS_AS(both.limits<spool::memory_transport>({.max_in_flight = 2}), std::invalid_argument);
}

TEST_CASE("a single_threaded spooler runs on the caller's thread, with no background thread to start") {
    using single = spool::spooler<spool::memory_store, one_at_a_time, spool::single_threaded>;
    STATIC_REQUIRE(single::single_threaded);
    STATIC_REQUIRE(single::inline_dispatch);
    STATIC_REQUIRE_FALSE(startable<single>);
    STATIC_REQUIRE(startable<spool::spooler<spool::memory_store, one_at_a_time>>);
    spool::memory_store store;
    one_at_a_time t;
    spool::spooler sp{store, t, spool::single_threaded{}};
    auto client = sp.client();
    REQUIRE(client.send(mail({smtp("a@x")})));
    REQUIRE(client.send(mail({smtp("b@x")})));
    CHECK_FALSE(sp.running());
    CHECK(sp.drain().finished == 2);
    CHECK(*t.threads == std::vector<std::thread::id>(2, std::this_thread::get_id()));
    CHECK(store.outgoing_queue().empty());
    sp.stop(); // idempotent, as for any spooler
}

TEST_CASE("an empty clock, an empty retry policy and single_threaded cost no space") {
    using bare = spool::spooler<spool::memory_store, one_at_a_time, spool::single_threaded>;
    using with_policies = spool::spooler<spool::memory_store, one_at_a_time, fixed_clock, flat_retry, spool::single_threaded>;
    STATIC_REQUIRE(sizeof(with_policies) <= sizeof(bare));
    // single_threaded drops the wake-up, the background thread and their settings.
    using threaded = spool::spooler<spool::memory_store, one_at_a_time>;
    STATIC_REQUIRE(sizeof(bare) + sizeof(std::mutex) + sizeof(std::condition_variable) + sizeof(std::thread) <= sizeof(threaded));
}
