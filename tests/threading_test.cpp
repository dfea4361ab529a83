// The background thread: woken by submits, clean shutdown, and many clients
// submitting while it runs.

#include "catch.hpp"
#include "support/fixtures.hpp"

#include <spool/spool.hpp>

#include <atomic>
#include <functional>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using spool_test::mail;
using spool_test::smtp;

namespace {
// Waits for a condition the background thread brings about. The limit only
// keeps a broken build from hanging; it is not a timing requirement.
template <class F>
bool eventually(F done) {
    const auto limit = std::chrono::steady_clock::now() + 60s;
    while (!done()) {
        if (std::chrono::steady_clock::now() > limit) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}
} // namespace

TEST_CASE("start and stop are idempotent, and the destructor stops the thread") {
    spool::memory_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    CHECK_FALSE(sp.running());
    sp.start();
    sp.start();
    CHECK(sp.running());
    sp.stop();
    sp.stop();
    CHECK_FALSE(sp.running());
    sp.start(); // the destructor joins it
}

TEST_CASE("a submit wakes the background spooler, which sends the message") {
    spool::memory_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    sp.start();
    auto id = sp.client().send(mail({smtp("a@x")})).value();
    // The spooler sleeps up to a minute between passes when idle; only the wake-up makes this quick.
    REQUIRE(eventually([&] { return store.outgoing_queue().empty(); }));
    CHECK(transport.deliveries().size() == 1);
    CHECK(sp.client().contents(spool::folders::sent_items) == std::vector<spool::message_id>{id});
}

TEST_CASE_METHOD(spool_test::rig, "wake() makes the background spooler retry after the clock moved") {
    transport.offline(30s);
    sp.start();
    sp.client().send(mail({smtp("a@x")}));
    REQUIRE(eventually([&] { return sp.stats().recipients_deferred == 1; }));
    transport.online();
    clock.advance(30s);
    sp.wake();
    REQUIRE(eventually([&] { return transport.deliveries().size() == 1; }));
}

TEST_CASE_METHOD(spool_test::rig, "stopping leaves queued messages queued, for the next start") {
    transport.offline(60s);
    sp.start();
    sp.client().send(mail({smtp("a@x")}));
    REQUIRE(eventually([&] { return sp.stats().recipients_deferred == 1; }));
    sp.stop();
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(sp.locked_count() == 0);
    transport.online();
    clock.advance(60s);
    sp.start();
    REQUIRE(eventually([&] { return store.outgoing_queue().empty(); }));
    CHECK(transport.deliveries().size() == 1);
}

TEST_CASE("many threads submit while the spooler runs: every recipient is delivered exactly once") {
    spool::memory_store store;
    spool::memory_transport smtp_t{{"SMTP"}};
    spool::memory_transport fax_t{{"FAX"}};
    spool::spooler sp{store, smtp_t, fax_t};
    sp.start();

    constexpr int threads = 4;
    constexpr int per_thread = 1000;
    std::atomic<int> errors{0};
    std::vector<std::thread> submitters;
    for (int t = 0; t < threads; ++t)
        submitters.emplace_back([&, t] {
            auto client = sp.client();
            for (int i = 0; i < per_thread; ++i) {
                const std::string tag = std::to_string(t) + "-" + std::to_string(i);
                auto m = mail({smtp("a" + tag + "@x"), smtp("b" + tag + "@x"), spool_test::fax("+" + tag)});
                m.sent_mail = spool::disposition::delete_after_submit{};
                if (!client.send(m)) ++errors;
            }
        });
    for (auto& s : submitters) s.join();
    CHECK(errors == 0);

    const std::size_t expected = threads * per_thread;
    REQUIRE(eventually([&] { return store.outgoing_queue().empty(); }));
    sp.stop();

    std::map<std::string, int> seen;
    for (const auto& d : smtp_t.deliveries()) ++seen[d.address];
    for (const auto& d : fax_t.deliveries()) ++seen[d.address];
    CHECK(seen.size() == 3 * expected);
    int duplicates = 0;
    for (const auto& [address, n] : seen) duplicates += n > 1 ? 1 : 0;
    CHECK(duplicates == 0);
    CHECK(sp.locked_count() == 0);
    CHECK(sp.stats().messages_finished == expected);
    CHECK(store.contents(spool::folders::outbox).empty());
}

TEST_CASE("clients may abort and open while the spooler runs") {
    spool::memory_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    sp.start();
    auto client = sp.client();
    int aborted = 0, too_late = 0;
    for (int i = 0; i < 500; ++i) {
        auto id = client.send(mail({smtp("a" + std::to_string(i) + "@x")})).value();
        const auto ec = client.abort_submit(id);
        if (!ec) ++aborted;
        else if (ec == spool::errc::unable_to_abort || ec == spool::errc::not_in_queue) ++too_late;
        (void)client.open(id, spool::access::read_only);
    }
    REQUIRE(eventually([&] { return store.outgoing_queue().empty(); }));
    sp.stop();
    CHECK(aborted + too_late == 500);
    CHECK(transport.deliveries().size() == static_cast<std::size_t>(too_late));
    CHECK(sp.locked_count() == 0);
}

namespace {
// Counts hand-offs, and after the first one waits until the spooler it works
// for has been asked to stop; the ones after that would be the pass running on.
struct stop_watching_transport {
    using spool_concept = spool::transport_tag;
    std::atomic<int>* handed_off;
    std::atomic<int>* after_stop;
    std::function<bool()> stopping;

    spool::address_types address_types() const { return {"SMTP"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        if (stopping()) ++*after_stop;
        if (++*handed_off == 1) eventually(stopping);
        for (const auto& r : tx.recipients()) tx.sent(r);
        return spool::transmit_result::done();
    }
};
} // namespace

TEST_CASE("stop() ends a pass after the message in progress: no hand-off starts after it is asked for") {
    spool::memory_store store;
    std::atomic<int> handed_off{0}, after_stop{0};
    spool::spooler<spool::memory_store, stop_watching_transport>* self = nullptr;
    stop_watching_transport transport{&handed_off, &after_stop, [&] { return self->stopping(); }};
    spool::spooler sp{store, transport};
    self = &sp;
    for (int i = 0; i < 2000; ++i) REQUIRE(sp.client().send(mail({smtp(std::to_string(i) + "@x")})));
    sp.start();
    REQUIRE(eventually([&] { return handed_off.load() >= 1; }));
    sp.stop(); // the transport is inside its first hand-off, waiting for this
    CHECK(handed_off.load() == 1);
    CHECK(after_stop.load() == 0);
    CHECK(store.outgoing_queue().size() == 1999); // the first was written, the rest stay queued
    CHECK(sp.locked_count() == 0);
}
