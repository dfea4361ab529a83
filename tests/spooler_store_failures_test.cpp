// The spooler's outgoing side against a failing store, and shared commits.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/outgoing.hpp"

#include <spool/spool.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using spool_test::is;
using spool_test::mail;
using spool_test::smtp;

// --- A failing store ------------------------------------------------------------

namespace {
/// A store whose durable steps can be made to fail, as a full disk would.
struct flaky_store : spool::memory_store {
    std::shared_ptr<bool> failing = std::make_shared<bool>(false);
    std::error_code enqueue(spool::message_id id, const spool::message& m) {
        return *failing ? spool::errc::store_failure : spool::memory_store::enqueue(id, m);
    }
    spool::result<spool::message_id> create_queued(spool::folder_id f, const spool::message& m) {
        if (*failing) return spool::errc::store_failure;
        return spool::memory_store::create_queued(f, m);
    }
    std::shared_ptr<bool> throwing_finish = std::make_shared<bool>(false);
    std::error_code finish(spool::message_id id, const spool::message& m) {
        if (*throwing_finish) throw std::runtime_error("disk gone");
        return *failing ? spool::errc::store_failure : spool::memory_store::finish(id, m);
    }
    std::error_code save(spool::message_id id, const spool::message& m) {
        return *failing ? spool::errc::store_failure : spool::memory_store::save(id, m);
    }
    std::shared_ptr<bool> throwing = std::make_shared<bool>(false);
    spool::result<spool::message> load(spool::message_id id) const {
        if (*throwing) throw std::runtime_error("disk gone");
        return spool::memory_store::load(id);
    }
};

/// One message queued in a flaky store, with a clock the test moves past the
/// pause a failed write earns.
struct flaky_rig {
    flaky_store store;
    spool::memory_transport transport;
    spool::manual_clock clock;
    spool::spooler<flaky_store, spool::memory_transport, spool::manual_clock> sp{store, transport, clock};
    spool::message_id id = sp.client().send(mail({smtp("a@x")})).value();
};
} // namespace

TEST_CASE("a store whose load throws leaves the message queued and unlocked") {
    flaky_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    sp.client().send(mail({smtp("a@x")}));
    *store.throwing = true;
    CHECK_THROWS_WITH(sp.drain(), "disk gone"); // drain() runs on the caller's thread, so the caller sees it
    CHECK(sp.locked_count() == 0);
    CHECK(store.outgoing_queue().size() == 1);
    *store.throwing = false;
    CHECK(sp.drain().finished == 1);
    CHECK(transport.deliveries().size() == 1);
}

TEST_CASE_METHOD(flaky_rig, "a store whose finish throws passes the exception on, and the message stays queued, unlocked and is sent later") {
    *store.throwing_finish = true;
    CHECK_THROWS_WITH(sp.drain(), "disk gone");
    CHECK(sp.locked_count() == 0);
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(sp.stats().messages_finished == 0);

    // The outcome was not recorded, so a later pass starts from what the
    // store has: after the pause a failed write earns, it sends again under
    // the same key, and finishes this time.
    *store.throwing_finish = false;
    clock.advance(1s);
    CHECK(sp.drain().finished == 1);
    auto ds = transport.deliveries();
    REQUIRE(ds.size() == 2);
    CHECK(ds[0].delivery_key == ds[1].delivery_key);
    CHECK(store.outgoing_queue().empty());
    CHECK(spool::has(store.load(id).value().flags, spool::message_flags::read));
    CHECK(sp.stats().messages_finished == 1);
}

TEST_CASE("a store that cannot queue makes submit fail, and the draft stays a draft") {
    flaky_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto client = sp.client();
    auto id = client.create(mail({smtp("a@x")})).value();
    *store.failing = true;
    CHECK(client.submit(id) == spool::errc::store_failure);
    *store.failing = false;
    CHECK_FALSE(client.open(id, spool::access::modify).value().submitted());
    REQUIRE_FALSE(client.submit(id));
    sp.drain();
    CHECK(transport.deliveries().size() == 1);

    *store.failing = true; // send() queues in one step: it fails whole, leaving nothing behind
    const auto outbox = client.contents(spool::folders::outbox).size();
    CHECK(client.send(mail({smtp("b@x")})).error() == spool::errc::store_failure);
    CHECK(client.contents(spool::folders::outbox).size() == outbox);
    CHECK(store.outgoing_queue().empty());
}

TEST_CASE_METHOD(flaky_rig, "a store that fails a step keeps the message queued, and the spooler retries and redelivers with the same key") {
    *store.failing = true;
    auto report = sp.drain(); // ends: the failed message waits before it is tried again
    CHECK(report.store_errors == 1);
    CHECK(sp.stats().store_errors == 1);
    CHECK(sp.stats().last_store_error == spool::errc::store_failure);
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(sp.locked_count() == 0);

    *store.failing = false;
    clock.advance(1s);
    CHECK(sp.drain().finished == 1);
    // "sent" was never recorded, so the recipient is sent again (at-least-once),
    // under the same delivery key so that an idempotent transport can drop it.
    auto ds = transport.deliveries();
    REQUIRE(ds.size() == 2);
    CHECK(ds[0].delivery_key == ds[1].delivery_key);
    CHECK(spool::has(store.load(id).value().flags, spool::message_flags::read));
}

// --- Sharing commits ------------------------------------------------------------

namespace {
/// A memory store that can batch, and tells what happened inside batches.
struct batching_store : spool::memory_store {
    struct record {
        int batches = 0;
        int finishes_in_batch = 0;
        int finishes_outside = 0;
        bool in_batch = false;
        bool announced_in_batch = false;
        bool fail_next_batch = false;
    };
    std::shared_ptr<record> log = std::make_shared<record>();

    template <class F>
    std::error_code batch(F&& f) {
        ++log->batches;
        if (log->fail_next_batch) {
            // As if the commit failed: none of it happened (the memory store
            // cannot roll back, so it is not done at all).
            log->fail_next_batch = false;
            return spool::errc::store_failure;
        }
        log->in_batch = true;
        f();
        log->in_batch = false;
        return {};
    }
    std::error_code finish(spool::message_id id, const spool::message& m) {
        ++(log->in_batch ? log->finishes_in_batch : log->finishes_outside);
        return spool::memory_store::finish(id, m);
    }
};
struct watcher {
    using spool_concept = spool::observer_tag;
    std::shared_ptr<batching_store::record> log;
    void on_message_finished(const spool::message_finished_event&) {
        if (log->in_batch) log->announced_in_batch = true;
    }
};
} // namespace

TEST_CASE("one pass writes many outcomes in one commit, and announces them only after it") {
    batching_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport, watcher{store.log}};
    for (int i = 0; i < 10; ++i) sp.client().send(mail({smtp(std::to_string(i) + "@x")}));
    CHECK(sp.run_once().finished == 10);
    CHECK(store.log->batches == 1);
    CHECK(store.log->finishes_in_batch == 10);
    CHECK_FALSE(store.log->announced_in_batch);
    CHECK(sp.stats().messages_finished == 10);
}

TEST_CASE("group_commits limits how many outcomes share a commit, and 1 writes each alone") {
    batching_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    sp.group_commits(4);
    for (int i = 0; i < 10; ++i) sp.client().send(mail({smtp(std::to_string(i) + "@x")}));
    sp.run_once();
    CHECK(store.log->batches == 3); // 4 + 4 + 2
    sp.group_commits(1);
    for (int i = 0; i < 3; ++i) sp.client().send(mail({smtp("x" + std::to_string(i) + "@x")}));
    sp.run_once();
    CHECK(store.log->batches == 3);
    CHECK(store.log->finishes_outside == 3);
}

TEST_CASE("when a shared commit fails, its messages stay queued, nothing is announced, and the outcomes are written after the pause") {
    batching_store store;
    spool::memory_transport transport;
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock, watcher{store.log}};
    for (int i = 0; i < 3; ++i) sp.client().send(mail({smtp(std::to_string(i) + "@x")}));
    store.log->fail_next_batch = true;
    const auto report = sp.run_once();
    CHECK(report.finished == 0);
    CHECK(report.store_errors == 1); // one commit failed
    CHECK(sp.stats().messages_finished == 0);
    CHECK(store.outgoing_queue().size() == 3);
    // The outcomes are kept, their messages locked, and written after the
    // pause the failure earned: nothing is handed off again.
    CHECK(sp.locked_count() == 3);
    clock.advance(1s);
    sp.run_once();
    CHECK(sp.stats().messages_finished == 3);
    CHECK(sp.locked_count() == 0);
    CHECK(store.outgoing_queue().empty());
    CHECK(transport.deliveries().size() == 3);
}
