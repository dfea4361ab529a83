#pragma once

// The laws every Store must keep (docs/concepts/store.md), as checks you can
// run against your own store from any test framework:
//
//     auto failures = spool::testing::check_store([] { return my_store{...}; });
//     for (const auto& f : failures) std::cerr << f.check << ": " << f.problem << '\n';
//     assert(failures.empty());
//
// `make` returns a fresh, empty store each time it is called.

#include <spool/concepts.hpp>
#include <spool/error.hpp>
#include <spool/message.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace spool::testing {

struct conformance_failure {
    std::string check;
    std::string problem;
};

namespace detail {

template <class Store>
using message_of = typename Store::message_type;

// A message with something in every field the spooler writes.
template <class Message>
Message full_message() {
    using namespace std::chrono_literals;
    Message m;
    m.message_class = "IPM.Note.Conformance";
    m.recipients = {{"Ann", "ann@example.org", "SMTP", recipient_kind::to},
                    {"Bob", "bob@example.org", "SMTP", recipient_kind::cc},
                    {"Fax", "+15550100", "FAX", recipient_kind::bcc},
                    {"Cat", "cat@example.org", "SMTP", recipient_kind::to}};
    const time_point t{std::chrono::hours(24 * 365 * 50)};
    m.recipients[0].status = status::sent{t};
    m.recipients[0].responsibility = true;
    m.recipients[0].reported = true;
    m.recipients[1].status = status::deferred{t + 300s, "link down", 2};
    m.recipients[2].status = status::failed{"no fax tone", "5.4.4"};
    m.recipients[3].reports = report_requests{true, true};
    m.flags = message_flags::submitted | message_flags::unsent;
    m.submission = submit_flags::preprocess;
    m.client_submit_time = t;
    m.priority = message_priority::urgent;
    m.sender = {"Ann", "ann@example.org", "SMTP"};
    m.report_to = mailbox{"Postmaster", "postmaster@example.org", "SMTP"};
    m.sent_mail = disposition::move_to{folder_id{77}};
    m.reports = {true, false};
    m.deferred_delivery_time = t + 3600s;
    return m;
}

} // namespace detail

/// Runs every check on fresh stores from `make`; an empty result means the store conforms.
template <class Make>
std::vector<conformance_failure> check_store(Make make) {
    using store_type = std::invoke_result_t<Make&>;
    static_assert(Store<store_type>, "check_store: make() must return a spool::Store");
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    auto expect = [&](const char* check, bool ok, std::string problem) {
        if (!ok) failures.push_back({check, std::move(problem)});
    };
    const time_point t0{std::chrono::hours(24 * 365 * 50)};

    {
        auto store = make();
        const M m = detail::full_message<M>();
        auto id = store.create(folders::outbox, m);
        expect("create then load returns every field", id.has_value(), "create failed: " + id.error().message());
        if (id) {
            auto back = store.load(*id);
            M expected = m;
            expected.id = *id;
            expect("create then load returns every field", back.has_value() && *back == expected,
                   back ? "the loaded message differs from the one created" : back.error().message());
        }
    }
    {
        auto store = make();
        const message_id nobody{987654321};
        const M m = detail::full_message<M>();
        expect("unknown ids give not_found", store.load(nobody).error() == errc::not_found, "load");
        expect("unknown ids give not_found", store.save(nobody, m) == errc::not_found, "save");
        expect("unknown ids give not_found", store.enqueue(nobody, m) == errc::not_found, "enqueue");
        expect("unknown ids give not_found", store.abort_submit(nobody, m) == errc::not_found, "abort_submit");
        expect("unknown ids give not_found", store.finish(nobody, m) == errc::not_found, "finish");
    }
    {
        auto store = make();
        M m = detail::full_message<M>();
        auto id = store.create(folders::outbox, m).value();
        expect("abort or finish of a message not queued gives not_in_queue", store.abort_submit(id, m) == errc::not_in_queue, "abort_submit");
        expect("abort or finish of a message not queued gives not_in_queue", store.finish(id, m) == errc::not_in_queue, "finish");
        expect("enqueue queues once", !store.enqueue(id, m), "first enqueue failed");
        expect("enqueue queues once", store.enqueue(id, m) == errc::already_submitted, "second enqueue did not give already_submitted");
        auto q = store.outgoing_queue();
        expect("enqueue queues once", std::vector<queue_entry>(q.begin(), q.end()).size() == 1, "the queue does not hold one entry");
        m.payload = {};
        expect("abort returns the message and leaves the queue", !store.abort_submit(id, m), "abort failed");
        auto after = store.outgoing_queue();
        expect("abort returns the message and leaves the queue", after.begin() == after.end(), "still queued after abort");
        auto back = store.load(id);
        expect("abort returns the message and leaves the queue", back && back->payload == m.payload, "abort did not write the message");
    }
    {
        auto store = make();
        auto enqueue_at = [&](time_point t) {
            M m = detail::full_message<M>();
            m.client_submit_time = t;
            auto id = store.create(folders::outbox, m).value();
            (void)store.enqueue(id, m);
            return id;
        };
        const auto late = enqueue_at(t0 + std::chrono::seconds(10));
        const auto early = enqueue_at(t0 + std::chrono::seconds(1));
        const auto tie = enqueue_at(t0 + std::chrono::seconds(10));
        std::vector<message_id> expected{early, late, tie};
        if constexpr (spool::detail::store_creates_queued<store_type>) { // a tie too, made in one step
            M m = detail::full_message<M>();
            m.client_submit_time = t0 + std::chrono::seconds(10);
            expected.push_back(store.create_queued(folders::outbox, m).value());
        }
        std::vector<message_id> order;
        for (const queue_entry& e : store.outgoing_queue()) order.push_back(e.id);
        expect("the queue is in submit-time order, ties in submit order", order == expected, "wrong order");
        for (const queue_entry& e : store.outgoing_queue()) {
            expect("queue entries carry the submit time and flags", e.submission == submit_flags::preprocess, "submit flags");
            if (e.id == early) expect("queue entries carry the submit time and flags", e.client_submit_time == t0 + std::chrono::seconds(1), "time");
        }
    }
    {
        auto store = make();
        const folder_id archive{77};
        auto finish_with = [&](sent_mail_disposition d) {
            M m = detail::full_message<M>();
            m.sent_mail = d;
            auto id = store.create(folders::outbox, m).value();
            (void)store.enqueue(id, m);
            expect("finish leaves the queue", !store.finish(id, m), "finish failed");
            return id;
        };
        const auto moved = finish_with(disposition::move_to{archive});
        const auto left = finish_with(disposition::leave_in_place{});
        const auto deleted = finish_with(disposition::delete_after_submit{});
        auto q = store.outgoing_queue();
        expect("finish leaves the queue", q.begin() == q.end(), "messages still queued after finish");
        auto contents = [&](folder_id f) {
            std::vector<message_id> ids;
            for (message_id id : store.contents(f)) ids.push_back(id);
            return ids;
        };
        expect("finish applies the disposition", contents(archive) == std::vector<message_id>{moved}, "move_to");
        expect("finish applies the disposition", contents(folders::outbox) == std::vector<message_id>{left}, "leave_in_place");
        expect("finish applies the disposition", store.load(deleted).error() == errc::not_found, "delete_after_submit");
    }
    if constexpr (spool::detail::store_creates_queued<store_type>) {
        auto store = make();
        M m = detail::full_message<M>();
        m.client_submit_time = t0 + std::chrono::seconds(5);
        const auto before = store.create(folders::outbox, m).value();
        (void)store.enqueue(before, m);
        auto id = store.create_queued(folders::outbox, m);
        expect("create_queued creates a queued message", id.has_value(), id ? "" : "create_queued failed: " + id.error().message());
        if (id) {
            auto back = store.load(*id);
            M expected = m;
            expected.id = *id;
            expect("create_queued creates a queued message", back && *back == expected, "the loaded message differs");
            std::vector<message_id> queued;
            for (const queue_entry& e : store.outgoing_queue()) queued.push_back(e.id);
            expect("create_queued creates a queued message", std::count(queued.begin(), queued.end(), *id) == 1,
                   "not queued");
            std::vector<message_id> outbox;
            for (message_id c : store.contents(folders::outbox)) outbox.push_back(c);
            expect("create_queued creates a queued message", outbox == std::vector<message_id>{before, *id}, "not in the folder");
            expect("create_queued creates a queued message", store.enqueue(*id, m) == errc::already_submitted,
                   "enqueue after create_queued did not give already_submitted");
        }
    }
    {
        auto store = make();
        M m = detail::full_message<M>();
        m.submission = submit_flags::locked | submit_flags::preprocess;
        auto id = store.create(folders::outbox, m).value();
        auto back = store.load(id);
        expect("the spooler's lock is never stored", back && !has(back->submission, submit_flags::locked), "locked came back");
    }
    {
        auto store = make();
        constexpr int threads = 4, each = 25;
        std::atomic<int> errors{0};
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t)
            workers.emplace_back([&] {
                for (int i = 0; i < each; ++i) {
                    M m = detail::full_message<M>();
                    auto id = store.create(folders::outbox, m);
                    if (!id || store.enqueue(*id, m) || store.save(*id, m)) ++errors;
                }
            });
        for (auto& w : workers) w.join();
        std::size_t queued = 0;
        for (const queue_entry& e : store.outgoing_queue()) queued += e.id != message_id{} ? 1 : 0;
        expect("operations from several threads at once all take effect", errors == 0 && queued == threads * each,
               std::to_string(errors.load()) + " errors, " + std::to_string(queued) + " queued");
    }
    return failures;
}

} // namespace spool::testing
