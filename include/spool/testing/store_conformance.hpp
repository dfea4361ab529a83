#pragma once

// The laws every Store must keep (docs/concepts/store.md), as checks you can
// run against your own store from any test framework:
//
//     auto failures = spool::testing::check_store([] { return my_store{...}; });
//     for (const auto& f : failures) std::cerr << f.check << ": " << f.problem << '\n';
//     assert(failures.empty());
//
// `make` returns a fresh, empty store each time it is called. check_store runs
// every check; each law also has a check of its own (check_law_1_... to
// check_law_6_...), and each failure's `check` starts with the law it breaks
// ("law 6: ..."), so a failing store is told which law to read.

#include <spool/administration.hpp>
#include <spool/concepts.hpp>
#include <spool/detail/policy_set.hpp>
#include <spool/detail/requirements.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/error.hpp>
#include <spool/message.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace spool::testing {

struct conformance_failure {
    std::string check;   ///< which law or requirement, e.g. "law 6: load returns what was written"
    std::string problem; ///< what was found
};

namespace detail {

inline const time_point t0{std::chrono::hours(24 * 365 * 50)};

// A message with something in every field the spooler writes; `variant`
// changes every one of them, so that a store that keeps an earlier write, or
// writes back a default, is told apart.
template <class Message>
Message full_message(int variant = 0) {
    using namespace std::chrono_literals;
    const std::string v = std::to_string(variant);
    const time_point t = t0 + std::chrono::seconds(variant);
    Message m;
    m.message_class = "IPM.Note.Conformance" + v;
    m.recipients = {{"Ann" + v, "ann@example.org", "SMTP", recipient_kind::to},
                    {"Bob" + v, "bob@example.org", "SMTP", recipient_kind::cc},
                    {"Fax" + v, "+15550100", "FAX", recipient_kind::bcc},
                    {"Cat" + v, "cat@example.org", "SMTP", recipient_kind::to}};
    m.recipients[0].status = status::sent{t};
    m.recipients[0].responsibility = true;
    m.recipients[0].reported = true;
    m.recipients[1].status = status::deferred{t + 300s, "link down " + v, 2u + static_cast<unsigned>(variant), "4.4.1"};
    m.recipients[1].responsibility = variant % 2 == 1;
    m.recipients[2].status = status::failed{"no fax tone " + v, "5.4.4"};
    m.recipients[2].responsibility = true;
    m.recipients[2].reported = variant % 2 == 0;
    m.recipients[3].reports = report_requests{true, variant % 2 == 0};
    m.flags = message_flags::submitted | message_flags::unsent;
    m.submission = submit_flags::preprocess;
    m.client_submit_time = t;
    m.priority = variant % 2 ? message_priority::non_urgent : message_priority::urgent;
    m.sender = {"Ann" + v, "ann@example.org", "SMTP"};
    m.report_to = mailbox{"Postmaster" + v, "postmaster@example.org", "SMTP"};
    m.sent_mail = disposition::move_to{folder_id{77}};
    m.reports = {true, variant % 2 == 1};
    m.deferred_delivery_time = t + 3600s;
    return m;
}

template <class Range>
auto to_vector(const Range& r) {
    return std::vector<std::remove_cvref_t<decltype(*std::begin(r))>>(std::begin(r), std::end(r));
}

template <class Entries>
std::vector<message_id> ids_of(const Entries& entries) {
    std::vector<message_id> ids;
    for (const queue_entry& e : entries) ids.push_back(e.id);
    return ids;
}

inline std::vector<message_id> queued_ids(const auto& store) {
    std::vector<message_id> ids;
    for (const queue_entry& e : store.outgoing_queue()) ids.push_back(e.id);
    return ids;
}

// Collects failures under one check's name.
class findings {
public:
    explicit findings(std::vector<conformance_failure>& out) : out_(out) {}
    void expect(const char* check, bool ok, std::string problem) {
        if (!ok) out_.push_back({check, std::move(problem)});
    }

private:
    std::vector<conformance_failure>& out_;
};

template <class Make>
using store_of = std::invoke_result_t<Make&>;

// Message `variant` of a queue check, created and queued in `store`: its
// open recipients due now, or deferred until an hour after t0, submitted
// `variant` seconds after t0. `shape` may change it first.
template <class Store, class Shape>
auto queued_for_check(Store& store, int variant, bool due, Shape&& shape) {
    using M = typename Store::message_type;
    M m = full_message<M>(variant);
    for (recipient& r : m.recipients)
        if (!r.responsibility && !r.settled())
            r.status = due ? recipient_status{status::pending{}}
                           : recipient_status{status::deferred{t0 + std::chrono::hours{1}, "later", 1, {}}};
    m.client_submit_time = t0 + std::chrono::seconds(variant);
    shape(m);
    m.id = store.create(folders::outbox, m).value();
    (void)store.enqueue(m.id, m);
    return m;
}
template <class Store>
message_id queued_for_check(Store& store, int variant, bool due) {
    return queued_for_check(store, variant, due, [](auto&) {}).id;
}

} // namespace detail

/// Law 1: one step, all or nothing. An operation that fails leaves the message
/// and the queue exactly as they were.
template <class Make>
std::vector<conformance_failure> check_law_1_all_or_nothing(Make make) {
    using M = typename detail::store_of<Make>::message_type;
    std::vector<conformance_failure> failures;
    detail::findings f(failures);
    constexpr const char* check = "law 1: an operation that fails changes nothing";
    auto store = make();
    M queued = detail::full_message<M>(1);
    const auto id = store.create(folders::outbox, queued).value();
    queued.id = id;
    (void)store.enqueue(id, queued);
    const M other = detail::full_message<M>(2);
    (void)store.enqueue(id, other); // fails: already queued
    auto back = store.load(id);
    f.expect(check, back && *back == queued, "a refused enqueue wrote the message");
    f.expect(check, detail::queued_ids(store) == std::vector<message_id>{id}, "a refused enqueue changed the queue");

    M draft = detail::full_message<M>(3);
    const auto draft_id = store.create(folders::outbox, draft).value();
    draft.id = draft_id;
    (void)store.abort_submit(draft_id, other); // fails: not queued
    (void)store.finish(draft_id, other);       // fails: not queued
    back = store.load(draft_id);
    f.expect(check, back && *back == draft, "a refused abort_submit or finish wrote the message");
    f.expect(check, detail::queued_ids(store) == std::vector<message_id>{id}, "a refused abort_submit or finish changed the queue");
    return failures;
}

/// Law 2: conditional transitions give their error codes.
template <class Make>
std::vector<conformance_failure> check_law_2_conditional_transitions(Make make) {
    using M = typename detail::store_of<Make>::message_type;
    std::vector<conformance_failure> failures;
    detail::findings f(failures);
    {
        auto store = make();
        constexpr const char* check = "law 2: operations on an unknown id give not_found";
        const message_id nobody{987654321};
        const M m = detail::full_message<M>();
        f.expect(check, store.load(nobody).error() == errc::not_found, "load");
        f.expect(check, store.save(nobody, m) == errc::not_found, "save");
        f.expect(check, store.enqueue(nobody, m) == errc::not_found, "enqueue");
        f.expect(check, store.abort_submit(nobody, m) == errc::not_found, "abort_submit");
        f.expect(check, store.finish(nobody, m) == errc::not_found, "finish");
    }
    {
        auto store = make();
        M m = detail::full_message<M>();
        const auto id = store.create(folders::outbox, m).value();
        constexpr const char* not_queued = "law 2: abort or finish of a message not queued gives not_in_queue";
        f.expect(not_queued, store.abort_submit(id, m) == errc::not_in_queue, "abort_submit");
        f.expect(not_queued, store.finish(id, m) == errc::not_in_queue, "finish");
        constexpr const char* once = "law 2: enqueue queues once";
        f.expect(once, !store.enqueue(id, m), "the first enqueue failed");
        f.expect(once, store.enqueue(id, m) == errc::already_submitted, "a second enqueue did not give already_submitted");
        f.expect(once, detail::queued_ids(store).size() == 1, "the queue does not hold one entry");
        f.expect("law 2: abort takes the message off the queue", !store.abort_submit(id, m), "abort failed");
        f.expect("law 2: abort takes the message off the queue", detail::queued_ids(store).empty(), "still queued after abort");
    }
    return failures;
}

/// Law 3: the queue is in ascending client submit time, ties in submit order,
/// and its entries carry the submit time and flags.
template <class Make>
std::vector<conformance_failure> check_law_3_queue_order(Make make) {
    using M = typename detail::store_of<Make>::message_type;
    std::vector<conformance_failure> failures;
    detail::findings f(failures);
    auto store = make();
    auto enqueue_at = [&](time_point t) {
        M m = detail::full_message<M>();
        m.client_submit_time = t;
        auto id = store.create(folders::outbox, m).value();
        (void)store.enqueue(id, m);
        return id;
    };
    const auto late = enqueue_at(detail::t0 + std::chrono::seconds(10));
    const auto early = enqueue_at(detail::t0 + std::chrono::seconds(1));
    const auto tie = enqueue_at(detail::t0 + std::chrono::seconds(10));
    std::vector<message_id> expected{early, late, tie};
    if constexpr (spool::QueuedCreateStore<detail::store_of<Make>>) { // a tie too, made in one step
        M m = detail::full_message<M>();
        m.client_submit_time = detail::t0 + std::chrono::seconds(10);
        expected.push_back(store.create_queued(folders::outbox, m).value());
    }
    f.expect("law 3: the queue is in submit-time order, ties in submit order", detail::queued_ids(store) == expected,
             "wrong order");
    constexpr const char* carries = "law 3: queue entries carry the submit time and flags";
    for (const queue_entry& e : store.outgoing_queue()) {
        f.expect(carries, e.submission == submit_flags::preprocess, "submit flags");
        if (e.id == early) f.expect(carries, e.client_submit_time == detail::t0 + std::chrono::seconds(1), "time");
    }
    return failures;
}

/// Law 4: the spooler's lock is never stored.
template <class Make>
std::vector<conformance_failure> check_law_4_no_lock_on_disk(Make make) {
    using M = typename detail::store_of<Make>::message_type;
    std::vector<conformance_failure> failures;
    detail::findings f(failures);
    constexpr const char* check = "law 4: the spooler's lock is never stored";
    auto store = make();
    M m = detail::full_message<M>();
    m.submission = submit_flags::locked | submit_flags::preprocess;
    const auto id = store.create(folders::outbox, m).value();
    auto back = store.load(id);
    f.expect(check, back && !has(back->submission, submit_flags::locked), "create kept it");
    (void)store.save(id, m);
    back = store.load(id);
    f.expect(check, back && !has(back->submission, submit_flags::locked), "save kept it");
    (void)store.enqueue(id, m);
    for (const queue_entry& e : store.outgoing_queue())
        f.expect(check, !has(e.submission, submit_flags::locked), "the queue entry has it");
    return failures;
}

/// Law 5: every operation may be called from several threads at once. The
/// threads start together and interleave creates, enqueues, saves, loads and
/// queue listings; every operation must succeed and take effect. A store with
/// no locking at all is caught by this in most runs, and always under
/// ThreadSanitizer (which sees the races themselves).
template <class Make>
std::vector<conformance_failure> check_law_5_thread_safety(Make make) {
    using M = typename detail::store_of<Make>::message_type;
    std::vector<conformance_failure> failures;
    detail::findings f(failures);
    constexpr const char* check = "law 5: operations from several threads at once all take effect";
    auto store = make();
    constexpr int threads = 8, each = 100;
    std::atomic<int> errors{0}, ready{0};
    std::vector<std::vector<message_id>> made(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            ++ready;
            while (ready.load() < threads) std::this_thread::yield(); // all at once
            for (int i = 0; i < each; ++i) {
                M m = detail::full_message<M>(t * each + i);
                auto id = store.create(folders::outbox, m);
                if (!id || store.enqueue(*id, m) || store.save(*id, m)) {
                    ++errors;
                    continue;
                }
                made[t].push_back(*id);
                // Its own message, not another thread's (whether every field
                // came back whole is law 6's question).
                auto back = store.load(*id);
                if (!back || back->message_class != m.message_class) ++errors;
                if (i % 10 == 0) (void)store.outgoing_queue();
            }
        });
    for (auto& w : workers) w.join();
    std::set<message_id> distinct;
    for (const auto& ids : made) distinct.insert(ids.begin(), ids.end());
    const auto queued = detail::queued_ids(store);
    const std::set<message_id> queued_set(queued.begin(), queued.end());
    f.expect(check, errors == 0, std::to_string(errors.load()) + " operations failed or loaded something else");
    f.expect(check, distinct.size() == threads * each, std::to_string(distinct.size()) + " distinct ids for " +
                                                           std::to_string(threads * each) + " messages");
    f.expect(check, queued.size() == threads * each && queued_set == distinct,
             std::to_string(queued.size()) + " queue entries for " + std::to_string(threads * each) + " messages");
    return failures;
}

/// Law 6: load returns what was written, every field (each recipient's status,
/// responsibility, report marks and next attempt included), after every kind
/// of write: create, save, enqueue, create_queued, abort_submit and finish.
template <class Make>
std::vector<conformance_failure> check_law_6_load_returns_what_was_written(Make make) {
    using store_type = detail::store_of<Make>;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    detail::findings f(failures);
    auto store = make();
    auto expect_loaded = [&](const char* after, message_id id, M written) {
        written.id = id;
        written.submission = written.submission & ~submit_flags::locked;
        auto back = store.load(id);
        f.expect("law 6: load returns what was written", back.has_value() && *back == written,
                 std::string("after ") + after + ": " + (back ? "the loaded message differs" : back.error().message()));
    };
    int variant = 0;
    const M created = detail::full_message<M>(++variant);
    const auto id = store.create(folders::outbox, created).value();
    expect_loaded("create", id, created);
    const M saved = detail::full_message<M>(++variant);
    (void)store.save(id, saved);
    expect_loaded("save", id, saved);
    const M enqueued = detail::full_message<M>(++variant);
    (void)store.enqueue(id, enqueued);
    expect_loaded("enqueue", id, enqueued);
    const M saved_queued = detail::full_message<M>(++variant);
    (void)store.save(id, saved_queued);
    expect_loaded("save of a queued message", id, saved_queued);
    M draft = detail::full_message<M>(++variant);
    draft.flags = message_flags::unsent;
    (void)store.abort_submit(id, draft);
    expect_loaded("abort_submit", id, draft);
    (void)store.enqueue(id, enqueued);
    M left = detail::full_message<M>(++variant);
    left.sent_mail = disposition::leave_in_place{};
    (void)store.finish(id, left);
    expect_loaded("finish (leave in place)", id, left);
    M moved = detail::full_message<M>(++variant);
    const auto second = store.create(folders::outbox, moved).value();
    (void)store.enqueue(second, moved);
    (void)store.finish(second, moved);
    expect_loaded("finish (move)", second, moved);
    if constexpr (spool::QueuedCreateStore<store_type>) {
        const M one_step = detail::full_message<M>(++variant);
        if (auto third = store.create_queued(folders::outbox, one_step)) expect_loaded("create_queued", *third, one_step);
    }
    return failures;
}

/// finish() applies the sent-mail disposition and takes the message off the queue.
template <class Make>
std::vector<conformance_failure> check_finish(Make make) {
    using M = typename detail::store_of<Make>::message_type;
    std::vector<conformance_failure> failures;
    detail::findings f(failures);
    auto store = make();
    const folder_id archive{77};
    auto finish_with = [&](sent_mail_disposition d) {
        M m = detail::full_message<M>();
        m.sent_mail = d;
        auto id = store.create(folders::outbox, m).value();
        (void)store.enqueue(id, m);
        f.expect("finish: takes the message off the queue", !store.finish(id, m), "finish failed");
        return id;
    };
    const auto moved = finish_with(disposition::move_to{archive});
    const auto left = finish_with(disposition::leave_in_place{});
    const auto deleted = finish_with(disposition::delete_after_submit{});
    f.expect("finish: takes the message off the queue", detail::queued_ids(store).empty(), "messages still queued");
    constexpr const char* applies = "finish: applies the disposition";
    f.expect(applies, detail::to_vector(store.contents(archive)) == std::vector<message_id>{moved}, "move_to");
    f.expect(applies, detail::to_vector(store.contents(folders::outbox)) == std::vector<message_id>{left}, "leave_in_place");
    f.expect(applies, store.load(deleted).error() == errc::not_found, "delete_after_submit");
    return failures;
}

/// create_queued(), where the store has it, is create() and enqueue() in one step.
template <class Make>
std::vector<conformance_failure> check_create_queued(Make make) {
    using store_type = detail::store_of<Make>;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::QueuedCreateStore<store_type>) {
        detail::findings f(failures);
        constexpr const char* check = "create_queued: creates a queued message";
        auto store = make();
        M m = detail::full_message<M>();
        m.client_submit_time = detail::t0 + std::chrono::seconds(5);
        const auto before = store.create(folders::outbox, m).value();
        (void)store.enqueue(before, m);
        auto id = store.create_queued(folders::outbox, m);
        f.expect(check, id.has_value(), id ? "" : "create_queued failed: " + id.error().message());
        if (id) {
            const auto queued = detail::queued_ids(store);
            f.expect(check, std::count(queued.begin(), queued.end(), *id) == 1, "not queued");
            f.expect(check, detail::to_vector(store.contents(folders::outbox)) == std::vector<message_id>{before, *id},
                     "not in the folder");
            f.expect(check, store.enqueue(*id, m) == errc::already_submitted,
                     "enqueue after create_queued did not give already_submitted");
        }
    }
    return failures;
}

/// create_queued() of many, where the store has it (BulkQueuedCreateStore).
/// K1: the messages are created and queued, with new distinct ids in their
/// order, each loads as given, and equal submit times keep their order in the
/// queue. K2: an empty span creates nothing. K3 (with batch()): inside a
/// batch, each create_queued() has its id at once and a load in the batch
/// finds the message; a batch that throws after a bulk create leaves no trace.
template <class Make>
std::vector<conformance_failure> check_bulk_create_queued(Make make) {
    using store_type = detail::store_of<Make>;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::BulkQueuedCreateStore<store_type>) {
        detail::findings f(failures);
        auto store = make();
        const auto queue_and_folder = [&] { return std::pair{detail::queued_ids(store), detail::to_vector(store.contents(folders::outbox))}; };
        std::vector<M> three;
        for (int i = 0; i < 3; ++i) {
            three.push_back(detail::full_message<M>(i));
            three.back().client_submit_time = detail::t0; // one submit time: the span's order decides
        }
        const message_id before = store.create_queued(folders::outbox, three.front()).value();

        constexpr const char* k1 = "bulk create_queued K1: all created and queued, in their order";
        auto ids = store.create_queued(folders::outbox, std::span<const M>(three));
        f.expect(k1, ids.has_value(), ids ? "" : "create_queued of three failed: " + ids.error().message());
        if (ids) {
            const std::vector<message_id> got = *ids;
            f.expect(k1, got.size() == 3, "not three ids for three messages");
            std::vector<message_id> sorted = got;
            std::sort(sorted.begin(), sorted.end());
            f.expect(k1, std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end() && !std::count(got.begin(), got.end(), before),
                     "the ids are not new and distinct");
            for (std::size_t i = 0; i < got.size() && i < 3; ++i) {
                auto loaded = store.load(got[i]);
                f.expect(k1, loaded && loaded->message_class == three[i].message_class, "a message does not load as it was given");
            }
            std::vector<message_id> expected{before};
            expected.insert(expected.end(), got.begin(), got.end());
            f.expect(k1, detail::queued_ids(store) == expected, "the queue does not hold them after the earlier one, in their order");
            auto in_folder = detail::to_vector(store.contents(folders::outbox));
            std::sort(in_folder.begin(), in_folder.end());
            std::sort(expected.begin(), expected.end());
            f.expect(k1, in_folder == expected, "they are not in the folder");
        }

        const auto unchanged = queue_and_folder();
        auto none = store.create_queued(folders::outbox, std::span<const M>());
        f.expect("bulk create_queued K2: an empty span creates nothing", none && none->empty() && queue_and_folder() == unchanged,
                 "an empty span returned ids, an error, or changed the queue");

        if constexpr (spool::BatchingStore<store_type>) {
            constexpr const char* k3 = "bulk create_queued K3: inside a batch, ids at once; a batch that throws leaves no trace";
            std::vector<message_id> in_batch;
            bool found = true;
            const std::error_code ec = store.batch([&] {
                for (const M& m : three) {
                    auto id = store.create_queued(folders::outbox, m);
                    if (!id) return;
                    in_batch.push_back(*id);
                    found = found && store.load(*id).has_value();
                }
            });
            f.expect(k3, !ec && in_batch.size() == 3 && found, "a create_queued in a batch had no id, or a load in the batch did not find it");
            f.expect(k3, !ec && detail::queued_ids(store).size() == unchanged.first.size() + 3, "the batch's messages are not queued after it");
            const auto before_throw = queue_and_folder();
            struct planted {};
            try {
                (void)store.batch([&] {
                    (void)store.create_queued(folders::outbox, std::span<const M>(three));
                    throw planted{};
                });
            } catch (const planted&) {
            }
            f.expect(k3, queue_and_folder() == before_throw, "a bulk create stayed although the batch threw");
        }
    }
    return failures;
}

/// finish() of many, where the store has it (BulkFinishStore). F1: each
/// message is applied or refused as finish() alone would be, its error at its
/// place: deleted, moved, left where it is, not_in_queue for a draft,
/// not_found for an unknown id. F2: an empty span does nothing.
template <class Make>
std::vector<conformance_failure> check_bulk_finish(Make make) {
    using store_type = detail::store_of<Make>;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::BulkFinishStore<store_type>) {
        detail::findings f(failures);
        constexpr const char* f1 = "bulk finish F1: each as finish() alone";
        auto store = make();
        M deleted = detail::queued_for_check(store, 0, true, [](M& m) { m.sent_mail = disposition::delete_after_submit{}; });
        M moved = detail::queued_for_check(store, 1, true, [](M& m) { m.sent_mail = disposition::move_to{folder_id{77}}; });
        M left = detail::queued_for_check(store, 2, true, [](M& m) { m.sent_mail = disposition::leave_in_place{}; });
        M draft = detail::full_message<M>(3);
        draft.id = store.create(folders::outbox, draft).value();
        const message_id unknown{987654321};
        left.message_class = "IPM.Note.Finished";
        const std::vector<finishing<M>> all{{deleted.id, &deleted}, {moved.id, &moved}, {left.id, &left}, {draft.id, &draft}, {unknown, &draft}};
        const auto errors = store.finish(std::span<const finishing<M>>(all));
        f.expect(f1, errors.size() == 5, "not one error per message");
        if (errors.size() == 5) {
            f.expect(f1, !errors[0] && !errors[1] && !errors[2], "a queued message was not finished: " + errors[0].message() + ", " +
                                                                     errors[1].message() + ", " + errors[2].message());
            f.expect(f1, errors[3] == errc::not_in_queue, "a draft gave " + errors[3].message() + ", not not_in_queue");
            f.expect(f1, errors[4] == errc::not_found, "an unknown id gave " + errors[4].message() + ", not not_found");
        }
        f.expect(f1, detail::queued_ids(store).empty(), "a finished message is still queued");
        f.expect(f1, !store.load(deleted.id).has_value(), "the message to delete is still there");
        const auto in_77 = detail::to_vector(store.contents(folder_id{77}));
        f.expect(f1, std::count(in_77.begin(), in_77.end(), moved.id) == 1, "the message to move is not in its folder");
        auto after = store.load(left.id);
        f.expect(f1, after && after->message_class == "IPM.Note.Finished", "the message left in its folder was not written as given");
        const auto errors_none = store.finish(std::span<const finishing<M>>());
        f.expect("bulk finish F2: an empty span does nothing", errors_none.empty(), "an empty span gave errors");
    }
    return failures;
}

/// due_queue(), where the store has it (the due-message capability), lists
/// exactly the queued messages whose next attempt, as last written, is due,
/// in submit-time order, at most `limit`; a save moves a message in or out.
template <class Make>
std::vector<conformance_failure> check_due_queue(Make make) {
    using store_type = detail::store_of<Make>;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::DueListingStore<store_type>) {
        using namespace std::chrono_literals;
        detail::findings f(failures);
        auto store = make();
        // Submitted in this order; the first waits an hour, the others are due now.
        std::vector<message_id> ids;
        for (int i = 0; i < 4; ++i) {
            M m = detail::full_message<M>(i);
            for (recipient& r : m.recipients)
                if (!r.responsibility && !r.settled())
                    r.status = i == 0 ? recipient_status{status::deferred{detail::t0 + 1h, "later", 1, {}}}
                                      : recipient_status{status::pending{}};
            m.client_submit_time = detail::t0 + std::chrono::seconds(i);
            const auto id = store.create(folders::outbox, m).value();
            (void)store.enqueue(id, m);
            ids.push_back(id);
        }
        const std::vector<message_id> due_now{ids[1], ids[2], ids[3]};
        constexpr const char* lists = "due queue: lists the due messages, in submit-time order";
        f.expect(lists, detail::ids_of(store.due_queue(detail::t0 + 300s, 100)) == due_now, "not the three due now, in order");
        f.expect(lists, detail::ids_of(store.due_queue(detail::t0 + 2h, 100)) == ids, "not all four an hour later");
        f.expect("due queue: at most `limit`", detail::ids_of(store.due_queue(detail::t0 + 2h, 2)) == std::vector{ids[0], ids[1]},
                 "not the first two");
        // A save that defers the open recipients takes it out; one that makes it due puts it back.
        M waiting = store.load(ids[2]).value();
        for (recipient& r : waiting.recipients)
            if (!r.responsibility && !r.settled()) r.status = status::deferred{detail::t0 + 3h, "later", 1, {}};
        (void)store.save(ids[2], waiting);
        f.expect("due queue: follows save", detail::ids_of(store.due_queue(detail::t0 + 2h, 100)) == std::vector{ids[0], ids[1], ids[3]},
                 "a message saved as waiting is still listed");
        (void)store.finish(ids[1], store.load(ids[1]).value());
        f.expect("due queue: follows finish", detail::ids_of(store.due_queue(detail::t0 + 4h, 100)) == std::vector{ids[0], ids[2], ids[3]},
                 "a finished message is still listed");
    }
    return failures;
}

/// The shared queue's laws (docs/concepts/store.md, "A shared queue"), where
/// the store has the capability. `make_pair()` returns two store objects on
/// one fresh, empty queue, as two processes would open it, both opened with
/// the lease `lease` (short, as the check waits for leases to expire: a
/// few hundred milliseconds). Stores without the capability pass at once.
template <class MakePair>
std::vector<conformance_failure> check_shared_queue(MakePair make_pair, std::chrono::milliseconds lease) {
    using store_type = typename std::invoke_result_t<MakePair&>::first_type;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::SharedQueueStore<store_type>) {
        using namespace std::chrono_literals;
        detail::findings f(failures);
        auto stores = make_pair();
        auto& a = stores.first;
        auto& b = stores.second;
        auto queued = [&](int i, bool due) {
            return detail::queued_for_check(a, i, due, [](M& m) { m.sent_mail = disposition::leave_in_place{}; }).id;
        };
        const message_id waiting = queued(0, false), first = queued(1, true), second = queued(2, true), third = queued(3, true);
        const time_point now = detail::t0 + 300s;

        constexpr const char* q1 = "shared queue Q1: a claim takes the due, unleased messages in queue order, at most `limit`";
        const auto claimed_at = std::chrono::steady_clock::now();
        f.expect(q1, detail::ids_of(a.claim_due(now, 2)) == std::vector{first, second}, "not the first two due");
        f.expect(q1, detail::ids_of(b.claim_due(now, 10)) == std::vector{third}, "another claimer did not get only the one left");
        f.expect(q1, detail::ids_of(b.claim_due(detail::t0 + 2h, 10)) == std::vector{waiting}, "a message not due was claimed, or not once due");

        constexpr const char* q5 = "shared queue Q5: others see a lease";
        f.expect(q5, b.leased_elsewhere(first) && !a.leased_elsewhere(first), "leased_elsewhere is wrong for the holder or the other");
        f.expect(q5, b.abort_submit(first, a.load(first).value()) == errc::unable_to_abort, "another process aborted a leased message");

        constexpr const char* q6 = "shared queue Q6: the holder writes while it holds the lease";
        M written = a.load(first).value();
        written.recipients[3].status = status::deferred{detail::t0 + 400s, "try later", 1, {}};
        f.expect(q6, !a.save(first, written), "the holder's save was refused");
        M taken_back = b.load(third).value();
        taken_back.flags = taken_back.flags & ~message_flags::submitted;
        f.expect(q6, !b.abort_submit(third, taken_back), "the holder could not take back a message it claimed");
        f.expect(q6, std::ranges::count(detail::queued_ids(a), third) == 0, "a message taken back by its holder stayed queued");

        constexpr const char* q4 = "shared queue Q4: retain_leases releases the rest, and renews what it keeps";
        f.expect(q4, !a.retain_leases({first}), "retain_leases failed");
        f.expect(q4, detail::ids_of(b.claim_due(detail::t0 + 2h, 10)) == std::vector{second}, "a released message was not claimable at once");
        // Kept and renewed, as a spooler does at the end of each pass, until
        // past the first lease's end: nobody else can claim it.
        while (std::chrono::steady_clock::now() < claimed_at + lease + 100ms) {
            std::this_thread::sleep_for(lease / 10);
            (void)a.retain_leases({first});
        }
        // (b's own leases have expired by now: it may claim those again, not `first`.)
        auto has = [&](const auto& entries, message_id id) { return std::ranges::count(detail::ids_of(entries), id) == 1; };
        f.expect(q4, !has(b.claim_due(detail::t0 + 2h, 10), first), "a renewed lease was taken");

        constexpr const char* q2 = "shared queue Q2: a lease expires by itself, and the message is claimable again";
        std::this_thread::sleep_for(lease + 100ms);
        f.expect(q2, has(b.claim_due(detail::t0 + 2h, 10), first), "an expired lease was not claimable");

        constexpr const char* q3 = "shared queue Q3: a stale holder's writes are refused (lease_lost) and change nothing, also after a renewal found the lease taken";
        M late = written;
        late.recipients[3].status = status::sent{detail::t0 + 500s};
        f.expect(q3, a.save(first, late) == errc::lease_lost, "a save with a stale token was not refused with lease_lost");
        // The stale holder still has the message in hand, so its spooler's
        // account keeps it and a renewal finds it taken: the claim must stay
        // fenced until its outcome is written, not be forgotten.
        f.expect(q3, !a.retain_leases({first}), "retain_leases failed");
        f.expect(q3, a.save(first, late) == errc::lease_lost, "after a renewal found the lease taken, a save was not refused with lease_lost");
        f.expect(q3, a.finish(first, late) == errc::lease_lost, "a finish with a stale token was not refused with lease_lost");
        f.expect(q3, a.load(first).value() == written, "a refused write changed the message");
        f.expect(q3, detail::queued_ids(a).size() == 3, "a refused finish took the message off the queue");
        M current = b.load(first).value();
        f.expect(q3, !b.finish(first, current), "the new holder's finish was refused");
        f.expect(q3, detail::queued_ids(a).size() == 2, "the new holder's finish did not take it off the queue");
        // A stale holder whose message has left the queue since (its new
        // holder finished it, deleted) is refused the same way.
        std::this_thread::sleep_for(lease + 100ms); // b's claims expire
        f.expect(q3, has(a.claim_due(detail::t0 + 2h, 10), second), "an expired lease was not claimable");
        M deleted = a.load(second).value();
        deleted.sent_mail = disposition::delete_after_submit{};
        f.expect(q3, !a.finish(second, deleted), "the new holder's finish was refused");
        f.expect(q3, b.save(second, deleted) == errc::lease_lost,
                 "a stale holder's save of a message that has left the queue was not refused with lease_lost");
        f.expect(q3, !has(a.due_queue(detail::t0 + 2h, 10), second), "a refused save put a finished message back in the queue");
    }
    return failures;
}

/// The laws of claiming one named message (docs/concepts/store.md, "A
/// shared queue"), C1–C3, on two store objects over one queue from
/// `make_pair`, where the store can (MessageClaimStore). It waits for a lease
/// to expire: give it a short `lease`.
///   C1 claim(id) leases a message no live lease holds to this object, and
///      then nobody else gets it, by claim_due or claim(id);
///   C2 it fences: a claim taken after a lease expired refuses the earlier
///      holder's writes (lease_lost), and the new holder's succeed; a claim
///      refused (false) while a lease holds changes nothing of the holder's;
///   C3 release_claim makes it claimable at once; a message not queued is
///      not_in_queue, an unknown one not_found.
template <class MakePair>
std::vector<conformance_failure> check_message_claim(MakePair make_pair, std::chrono::milliseconds lease) {
    using store_type = typename std::invoke_result_t<MakePair&>::first_type;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::MessageClaimStore<store_type>) {
        using namespace std::chrono_literals;
        detail::findings f(failures);
        auto stores = make_pair();
        auto& a = stores.first;
        auto& b = stores.second;
        auto queued = [&](int i) {
            return detail::queued_for_check(a, i, true, [](M& m) { m.sent_mail = disposition::leave_in_place{}; }).id;
        };
        const message_id first = queued(1), second = queued(2);
        const time_point later = detail::t0 + 2h;

        constexpr const char* c1 = "message claim C1: claim(id) leases an unleased message to this object, and nobody else gets it";
        const auto claimed = a.claim(first);
        f.expect(c1, claimed && *claimed, "an unleased queued message was not claimed");
        f.expect(c1, b.leased_elsewhere(first) && !a.leased_elsewhere(first), "leased_elsewhere does not show the claim");
        f.expect(c1, detail::ids_of(b.claim_due(later, 10)) == std::vector{second}, "claim_due took a message claimed by id");
        const auto again = b.claim(first), own = a.claim(first);
        f.expect(c1, again && !*again, "another object claimed a message leased by id");
        f.expect(c1, own && !*own, "claim(id) of a message this object holds was not false");

        constexpr const char* c2 = "message claim C2: a claim by id fences, and one refused changes nothing";
        M held = b.load(second).value();
        held.recipients[3].status = status::deferred{detail::t0 + 400s, "try later", 1, {}};
        const auto refused = a.claim(second);
        f.expect(c2, refused && !*refused, "claim(id) of a message another object holds was not false");
        f.expect(c2, !b.save(second, held), "the holder's save was refused after another's claim(id) was");
        std::this_thread::sleep_for(lease + 100ms); // every lease so far expires
        const auto taken = a.claim(second);
        f.expect(c2, taken && *taken, "claim(id) of a message whose lease expired was not true");
        M stale = held;
        stale.recipients[3].status = status::sent{detail::t0 + 500s};
        f.expect(c2, b.save(second, stale) == errc::lease_lost, "the earlier holder's save was not refused with lease_lost");
        f.expect(c2, b.finish(second, stale) == errc::lease_lost, "the earlier holder's finish was not refused with lease_lost");
        f.expect(c2, a.load(second).value() == held, "a refused write changed the message");
        M current = held;
        current.recipients[3].status = status::failed{"returned", "5.1.1"};
        f.expect(c2, !a.save(second, current), "the new holder's save was refused");

        constexpr const char* c3 = "message claim C3: release_claim makes it claimable at once; not queued, unknown";
        M done = a.load(first).value();
        f.expect(c3, !a.finish(first, done), "the claim's holder could not finish it");
        f.expect(c3, !a.release_claim(second), "release_claim failed");
        f.expect(c3, detail::ids_of(b.claim_due(later, 10)) == std::vector{second}, "a released claim was not claimable at once");
        f.expect(c3, !a.release_claim(second), "release_claim of a claim no longer held failed");
        const auto gone = a.claim(first), unknown = a.claim(message_id{987654});
        f.expect(c3, !gone && gone.error() == errc::not_in_queue, "claim(id) of a message not queued is not not_in_queue");
        f.expect(c3, !unknown && unknown.error() == errc::not_found, "claim(id) of an unknown id is not not_found");
    }
    return failures;
}

/// The laws of the action log (docs/web.md, "The action log"), A1–A3, on two
/// store objects over one store from `make_pair`, where the store keeps it
/// (ActionLogStore):
///   A1 an entry logged reads back as written, from the other object too,
///      with a key above every earlier entry's, any byte in its texts;
///   A2 the log is newest first, below `before` (0: from the newest), at most
///      `limit`, and its pages together give every entry once;
///   A3 forget_actions removes exactly the entries logged before its time,
///      and says how many.
template <class MakePair>
std::vector<conformance_failure> check_action_log(MakePair make_pair) {
    using store_type = typename std::invoke_result_t<MakePair&>::first_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::ActionLogStore<store_type>) {
        using namespace std::chrono_literals;
        detail::findings f(failures);
        auto stores = make_pair();
        auto& a = stores.first;
        auto& b = stores.second;
        std::vector<logged_action> written;
        for (int i = 0; i < 7; ++i)
            written.push_back({0, detail::t0 + std::chrono::seconds{i}, i == 3 ? std::string(std::string_view("b\xc3\x28" "d \0user", 10)) : "olga (web)",
                               i % 2 ? "hold" : "delete_with_report", "matching state=held&domain=x.test, up to " + std::to_string(100 + i),
                               static_cast<std::uint64_t>(i), 1, static_cast<std::uint64_t>(10 * i)});

        constexpr const char* a1 = "action log A1: an entry reads back as written, from the other object, with a rising key";
        for (const auto& w : written) f.expect(a1, !(&w == &written[3] ? b : a).log_action(w), "log_action failed");
        const auto all = b.action_log(0, 100);
        f.expect(a1, all && all->size() == written.size(), "the log does not have every entry logged");
        if (all && all->size() == written.size()) {
            for (std::size_t i = 0; i < written.size(); ++i) {
                logged_action expected = written[written.size() - 1 - i];
                expected.key = (*all)[i].key;
                f.expect(a1, (*all)[i] == expected, "an entry does not read back as it was written");
            }
            for (std::size_t i = 1; i < all->size(); ++i)
                f.expect(a1, (*all)[i - 1].key > (*all)[i].key, "a later entry has no higher key than an earlier one");
        }

        constexpr const char* a2 = "action log A2: newest first, below `before`, at most `limit`, every entry once";
        std::vector<std::int64_t> seen;
        std::int64_t before = 0;
        for (int pages = 0; pages < 10; ++pages) {
            const auto page = a.action_log(before, 3);
            if (!page) {
                f.expect(a2, false, "action_log failed");
                break;
            }
            f.expect(a2, page->size() <= 3, "a page is longer than its limit");
            if (page->empty()) break;
            for (const auto& e : *page) {
                f.expect(a2, before == 0 || e.key < before, "a page has an entry not below `before`");
                seen.push_back(e.key);
            }
            before = page->back().key;
        }
        std::vector<std::int64_t> keys;
        if (all)
            for (const auto& e : *all) keys.push_back(e.key);
        f.expect(a2, seen == keys, "the pages together are not every entry once, newest first");

        constexpr const char* a3 = "action log A3: forget_actions removes exactly the entries logged before its time";
        const auto removed = b.forget_actions(detail::t0 + 3s);
        f.expect(a3, removed && *removed == 3, "forget_actions did not say it removed the 3 entries before its time");
        const auto left = a.action_log(0, 100);
        bool kept_the_rest = left && left->size() == 4;
        if (left)
            for (const auto& e : *left) kept_the_rest = kept_the_rest && e.at >= detail::t0 + 3s;
        f.expect(a3, kept_the_rest, "the log does not keep exactly the entries logged at or after the time");
        const auto again = a.forget_actions(detail::t0 + 3s);
        f.expect(a3, again && *again == 0, "forgetting again removed more");
    }
    return failures;
}

/// The laws of the returned reports kept for later (docs/returned-reports.md),
/// R1–R2, on two store objects over one store from `make_pair`, where the
/// store keeps them (ReportBacklogStore):
///   R1 a kept report reads back as it was kept, from the other object too,
///      oldest first, at most `limit`, any byte in its texts;
///   R2 forget_returned removes that one only; forgetting it again is no error.
template <class MakePair>
std::vector<conformance_failure> check_report_backlog(MakePair make_pair) {
    using store_type = typename std::invoke_result_t<MakePair&>::first_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::ReportBacklogStore<store_type>) {
        detail::findings f(failures);
        auto stores = make_pair();
        auto& a = stores.first;
        auto& b = stores.second;
        const returned_report first{message_id{7}, "mx.example.org",
                                    {{"ann@example.org", dsn_action::failed, "5.1.1", "550 5.1.1 no such user: 12:3\r\n", "mx.b"},
                                     {"bob@example.org", dsn_action::delivered, "2.0.0", "", ""}}};
        const returned_report second{message_id{8}, std::string("odd\0\xff bytes", 11), {{"", dsn_action::expanded, "", "", ""}}};
        const returned_report third{message_id{7}, "", {}};

        constexpr const char* r1 = "report backlog R1: kept reports read back as kept, oldest first, at most `limit`";
        f.expect(r1, !a.keep_returned(first) && !a.keep_returned(second) && !b.keep_returned(third), "keep_returned failed");
        const auto all = b.returned_backlog(10), two = a.returned_backlog(2);
        const bool read = all && all->size() == 3 && two && two->size() == 2;
        f.expect(r1, read, "the backlog did not list three, or two at a limit of two");
        if (read) {
            f.expect(r1, (*all)[0].report == first && (*all)[1].report == second && (*all)[2].report == third,
                     "the reports do not read back as kept, oldest first");
            f.expect(r1, (*two)[0].key == (*all)[0].key && (*two)[1].key == (*all)[1].key, "the limit did not keep the oldest");

            constexpr const char* r2 = "report backlog R2: forget_returned removes that one only, and again is no error";
            f.expect(r2, !b.forget_returned((*all)[1].key) && !a.forget_returned((*all)[1].key), "forget_returned failed");
            const auto left = a.returned_backlog(10);
            f.expect(r2, left && left->size() == 2 && (*left)[0].report == first && (*left)[1].report == third,
                     "not exactly the others are left");
        }
    }
    return failures;
}

/// The laws of waiting for a destination (docs/concepts/store.md, "Waiting
/// for a destination"), W1–W5, on a fresh store from `make`, where the store
/// can hold messages back (`hold_back`, `release_held_back`). Where it also
/// shares its queue, the messages are claimed first, as a spooler's are.
template <class Make>
std::vector<conformance_failure> check_hold_back(Make make) {
    using store_type = detail::store_of<Make>;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::HoldBackStore<store_type>) {
        using namespace std::chrono_literals;
        detail::findings f(failures);
        auto store = make();
        const time_point now = detail::t0 + 300s, probe = detail::t0 + 1h;
        auto queued = [&](int i) { return detail::queued_for_check(store, i, true); };
        constexpr bool administered = AdministeredStore<store_type>;
        const message_id a = queued(1), b = queued(2), c = queued(3), other = queued(5);
        std::vector<message_id> for_down{a, b};
        [[maybe_unused]] message_id held{};
        if constexpr (administered) {
            held = queued(4);
            (void)store.hold(held, now);
            for_down.push_back(held);
        }
        // As a spooler does: claimed before, and let go after (the end of its pass).
        auto claim_all = [&] {
            if constexpr (spool::SharedQueueStore<store_type>) (void)store.claim_due(detail::t0 + 24h, 100);
        };
        auto let_go = [&] {
            if constexpr (spool::SharedQueueStore<store_type>) (void)store.retain_leases({});
        };
        auto due_at = [&](time_point at) { return detail::ids_of(store.due_queue(at, 100)); };
        claim_all();

        constexpr const char* w1 = "waiting W1: a message held back for a destination is not due before `until`, and is due from then";
        f.expect(w1, !store.hold_back(for_down, "down.example", probe), "hold_back failed");
        f.expect(w1, !store.hold_back({other}, "other.example", probe), "hold_back failed");
        let_go();
        f.expect(w1, due_at(probe - 1s) == std::vector{c}, "a message held back is due before its destination's probe");
        f.expect(w1, due_at(probe) == std::vector{a, b, c, other}, "a message held back is not due at its destination's probe");
        if constexpr (administered) {
            const auto shown = store.inspect(a, now);
            f.expect(w1, shown && shown->state == queue_state::waiting && shown->waiting_for == "down.example" && shown->next_attempt == probe,
                     "inspect does not show it waiting for the destination until the probe");
            f.expect(w1, store.count_queue(now).waiting == 3, "count_queue does not count the three waiting");
            constexpr const char* w2 = "waiting W2: a hold wins over a hold-back, and stays";
            f.expect(w2, store.inspect(held, now)->state == queue_state::held, "a held message held back is not shown held");
        }

        constexpr const char* w3 = "waiting W3: release_held_back makes that destination's messages due at once, and only those";
        f.expect(w3, !store.release_held_back("down.example"), "release_held_back failed");
        f.expect(w3, due_at(now) == std::vector{a, b, c}, "not exactly the released and the due are due");
        if constexpr (administered) {
            f.expect(w3, store.inspect(a, now)->waiting_for.empty(), "a released message still shows its destination");
            f.expect(w3, store.inspect(held, now)->state == queue_state::held, "a held message was released by its destination");
        }

        constexpr const char* w4 = "waiting W4: a save ends the wait; an administrator's release or request makes it due at once";
        claim_all();
        (void)store.hold_back({a, b}, "down.example", probe);
        let_go();
        M saved = store.load(a).value();
        f.expect(w4, !store.save(a, saved), "save failed");
        f.expect(w4, due_at(now) == std::vector{a, c}, "a message saved due still waits for its destination");
        if constexpr (administered) {
            f.expect(w4, store.release(b, now).has_value(), "release failed");
            f.expect(w4, store.inspect(b, now)->state == queue_state::due, "a message released still waits for its destination");
            f.expect(w4, store.request(other, admin_request::flush).has_value(), "a flush request failed");
            f.expect(w4, due_at(now) == std::vector{a, b, c, other}, "a flushed message still waits for its destination");
        }

        constexpr const char* w5 = "waiting W5: a finish takes a waiting message off the queue";
        claim_all();
        (void)store.hold_back({c}, "down.example", probe);
        f.expect(w5, !store.finish(c, store.load(c).value()), "finish of a waiting message failed");
        f.expect(w5, due_at(probe) == std::vector{a, b, other}, "a finished message is still queued");
    }
    return failures;
}

/// The laws of an AdministeredStore (docs/concepts/store.md, "Administration"),
/// H1–H7, on a fresh store from `make`. Nothing is checked for a store that
/// is not one.
template <class Make>
std::vector<conformance_failure> check_administration(Make make) {
    using store_type = detail::store_of<Make>;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    if constexpr (AdministeredStore<store_type>) {
        using namespace std::chrono_literals;
        detail::findings f(failures);
        auto store = make();
        const time_point now = detail::t0 + 300s; // every message below was submitted before it
        auto queued = [&](int i, bool due, std::string domain) {
            return detail::queued_for_check(store, i, due, [&](M& m) {
                for (recipient& r : m.recipients)
                    if (!r.responsibility && !r.settled() && r.address_type == "SMTP") r.address = "someone@" + domain;
            });
        };
        const M deferred = queued(1, false, "later.example"), due = queued(2, true, "now.example"), other = queued(3, true, "Other.Example");
        auto due_ids = [&](time_point at) {
            std::vector<message_id> ids;
            for (const queue_entry& e : store.due_queue(at, 100)) ids.push_back(e.id);
            return ids;
        };
        auto due_at = [&](time_point at, message_id id) {
            const auto ids = due_ids(at);
            return std::ranges::find(ids, id) != ids.end();
        };
        auto entry_of = [&](message_id id) -> std::optional<queue_entry> {
            for (const queue_entry& e : store.outgoing_queue())
                if (e.id == id) return e;
            return std::nullopt;
        };

        constexpr const char* h1 = "administration H1: a held message is not due, whatever its next attempt, and a save keeps the hold";
        f.expect(h1, store.hold(due.id, now).value() == admin_outcome::applied, "hold was not applied");
        f.expect(h1, store.hold(due.id, now + 1s).has_value(), "holding a held message failed");
        f.expect(h1, due_ids(detail::t0 + 24h) == std::vector{deferred.id, other.id}, "a held message is due");
        f.expect(h1, !store.save(due.id, due), "save of a held message failed");
        f.expect(h1, due_ids(detail::t0 + 24h) == std::vector{deferred.id, other.id}, "a save ended the hold");
        const auto shown = store.inspect(due.id, now);
        f.expect(h1, shown && shown->held && shown->state == queue_state::held && shown->held_since == now,
                 "inspect does not show the hold, or not since when it was first held");

        constexpr const char* h2 = "administration H2: release makes the message due at once, and the time held is kept in held_for";
        f.expect(h2, store.release(due.id, now + 5s).value() == admin_outcome::applied, "release was not applied");
        f.expect(h2, due_ids(now) == std::vector{due.id, other.id}, "the released message is not due");
        const auto entry = entry_of(due.id);
        f.expect(h2, entry && entry->held_for == 5s, "held_for is not the 5 s the message was held");
        f.expect(h2, store.release(due.id, now + 9s).has_value() && entry_of(due.id)->held_for == 5s,
                 "releasing a message not held changed it");

        constexpr const char* h3 = "administration H3: a flush makes a message due now, with its request, and the spooler's save clears it";
        f.expect(h3, store.request(deferred.id, admin_request::flush).value() == admin_outcome::requested, "flush was not requested");
        auto flushed = entry_of(deferred.id);
        f.expect(h3, flushed && flushed->request == admin_request::flush, "the queue entry does not carry the flush");
        f.expect(h3, due_at(now, deferred.id), "the flushed message is not due");
        (void)store.save(deferred.id, deferred);
        flushed = entry_of(deferred.id);
        f.expect(h3, flushed && flushed->request == admin_request::none, "a save did not clear the flush");
        f.expect(h3, !due_at(now, deferred.id), "after the save, the message is due before its next attempt");

        constexpr const char* h4 = "administration H4: expire ends a hold and is due now; a save keeps it, and a weaker request does not replace it";
        (void)store.hold(deferred.id, now);
        f.expect(h4, store.request(deferred.id, admin_request::expire).value() == admin_outcome::requested, "expire was not requested");
        (void)store.request(deferred.id, admin_request::flush);
        (void)store.save(deferred.id, deferred);
        const auto expiring = entry_of(deferred.id);
        f.expect(h4, expiring && expiring->request == admin_request::expire, "the expire request was lost or replaced");
        f.expect(h4, due_at(now, deferred.id), "the message to expire is not due (or still held)");

        constexpr const char* h5 = "administration H5: remove deletes a message no hand-off holds; ids are not reused";
        f.expect(h5, store.request(other.id, admin_request::remove).value() == admin_outcome::applied, "remove was not applied at once");
        f.expect(h5, store.load(other.id).error() == errc::not_found, "the removed message can still be loaded");
        f.expect(h5, !entry_of(other.id), "the removed message is still queued");
        const auto next = store.create(folders::outbox, detail::full_message<M>(9)).value();
        f.expect(h5, static_cast<std::uint64_t>(next) > static_cast<std::uint64_t>(other.id), "a new message got an id not above the removed one's");

        constexpr const char* h6 = "administration H6: operations on an unknown id give not_found, on a message not queued not_in_queue, and change nothing";
        const message_id nobody{987654321};
        f.expect(h6, store.hold(nobody, now).error() == errc::not_found, "hold");
        f.expect(h6, store.release(nobody, now).error() == errc::not_found, "release");
        f.expect(h6, store.request(nobody, admin_request::expire).error() == errc::not_found, "request");
        f.expect(h6, store.request(nobody, admin_request::remove).error() == errc::not_found, "remove");
        f.expect(h6, store.inspect(nobody, now).error() == errc::not_found, "inspect");
        f.expect(h6, store.hold(next, now).error() == errc::not_in_queue, "hold of a draft");
        f.expect(h6, store.request(next, admin_request::remove).error() == errc::not_in_queue, "remove of a draft");
        f.expect(h6, store.load(next).has_value(), "a refused remove deleted the draft");
        f.expect(h6, store.inspect(next, now).error() == errc::not_in_queue, "inspect of a draft");

        constexpr const char* h7 = "administration H7: listings page in id order, filter by state, domain and age, and counts agree";
        std::vector<message_id> paged;
        for (message_id after{}; ;) {
            const auto page = store.list_queue({}, now, after, 1);
            if (page.empty()) break;
            paged.push_back(page.front().id);
            after = page.front().id;
        }
        f.expect(h7, paged == std::vector{deferred.id, due.id}, "paging one at a time does not give every queued message once, in id order");
        auto listed = [&](queue_filter filter) {
            std::vector<message_id> ids;
            for (const auto& q : store.list_queue(filter, now, message_id{}, 100)) ids.push_back(q.id);
            return ids;
        };
        auto in_state = [](queue_state st) {
            queue_filter filter;
            filter.state = st;
            return filter;
        };
        auto at_domain = [](std::string domain) {
            queue_filter filter;
            filter.domain = std::move(domain);
            return filter;
        };
        queue_filter old_enough;
        old_enough.older_than = 299s;
        f.expect(h7, listed(in_state(queue_state::due)) == std::vector{deferred.id, due.id}, "state filter: both are due");
        (void)store.hold(due.id, now);
        f.expect(h7, listed(in_state(queue_state::held)) == std::vector{due.id}, "state filter: held");
        f.expect(h7, listed(at_domain("NOW.example")) == std::vector{due.id}, "domain filter (without case)");
        f.expect(h7, listed(at_domain("example.org")).empty(), "domain filter matched a settled recipient's domain");
        f.expect(h7, listed(old_enough) == std::vector{deferred.id}, "age filter");
        const queue_counts counts = store.count_queue(now);
        f.expect(h7, counts == queue_counts{2, 1, 0, 1, 0, 1}, "counts are not 2 queued: 1 due, 1 held, 1 with a request");
        const auto first = store.list_queue({}, now, message_id{}, 1);
        f.expect(h7, first.size() == 1 && first.front().message && first.front().message->recipients == deferred.recipients &&
                         first.front().size > 0 && first.front().submit_time == deferred.client_submit_time,
                 "a listed message does not carry its decoded recipients, size and submit time");
    }
    return failures;
}

/// The batch laws (docs/concepts/store.md, "Capabilities"), where the store
/// is a BatchingStore. B1: what f wrote is there when batch() succeeds. B2:
/// when f throws, none of what it wrote is, and the exception passes on. B3: a
/// batch inside f is part of the outer one, undone with it.
/// The suppression list's laws (SuppressionListStore, docs/suppression.md),
/// on two store objects on the same data, as two processes would be:
///   S1 an entry suppressed is found, as it was written, by its key, from
///      the other object too;
///   S2 an entry that has expired is neither found, listed nor counted;
///   S3 suppressing an address again replaces its entry (one per key);
///   S4 unsuppress removes it, and errc::not_found for one not listed;
///   S5 a listing is in key order, after `after`, at most `limit`, and its
///      pages together give every live entry once.
/// A store without the capability passes trivially.
template <class MakePair>
std::vector<conformance_failure> check_suppression_list(MakePair make_pair) {
    using store_type = typename std::invoke_result_t<MakePair&>::first_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::SuppressionListStore<store_type>) {
        using namespace std::chrono_literals;
        detail::findings f(failures);
        auto stores = make_pair();
        auto& a = stores.first;
        auto& b = stores.second;
        const time_point now = detail::t0 + 300s;
        const suppression_entry ann{"Ann@example.org", "550 5.1.1 no such user", "5.1.1", detail::t0, std::nullopt, message_id{7}};
        const suppression_entry bob{"bob@example.org", "", "", detail::t0, detail::t0 + 600s, message_id{}};

        constexpr const char* s1 = "suppression S1: an entry suppressed is found as written, from the other store object too";
        f.expect(s1, !a.suppress(ann) && !a.suppress(bob), "suppress failed");
        const auto found = b.find_suppression("Ann@example.org", now);
        f.expect(s1, found && *found && **found == ann, "the other object does not find the entry as it was written");
        const auto other_case = b.find_suppression("ann@example.org", now);
        f.expect(s1, other_case && !*other_case, "a key that differs in case found the entry: keys compare exactly");
        const auto bobs = a.find_suppression("bob@example.org", now);
        f.expect(s1, bobs && *bobs && **bobs == bob, "an entry with an expiry is not found as written before it expires");

        constexpr const char* s2 = "suppression S2: an entry that has expired is neither found, listed nor counted";
        const time_point later = detail::t0 + 600s;
        const auto expired = b.find_suppression("bob@example.org", later);
        f.expect(s2, expired && !*expired, "an expired entry is found");
        const auto listed = b.list_suppressions("", 10, later);
        f.expect(s2, listed && listed->size() == 1 && listed->front().address == ann.address, "an expired entry is listed");
        const auto counted = b.count_suppressions(later), counted_before = b.count_suppressions(now);
        f.expect(s2, counted && *counted == 1 && counted_before && *counted_before == 2, "the counts do not leave out the expired entry");

        constexpr const char* s3 = "suppression S3: suppressing an address again replaces its entry";
        suppression_entry again = ann;
        again.reason = "added by an operator";
        again.diagnostic = "";
        again.source = message_id{};
        again.expires = detail::t0 + 24h;
        f.expect(s3, !b.suppress(again), "suppress of a listed address failed");
        const auto replaced = a.find_suppression(ann.address, now);
        f.expect(s3, replaced && *replaced && **replaced == again, "the entry was not replaced");
        const auto one = a.count_suppressions(now);
        f.expect(s3, one && *one == 2, "suppressing again added a second entry");

        constexpr const char* s4 = "suppression S4: unsuppress removes an entry; one not listed is not_found";
        f.expect(s4, !b.unsuppress(ann.address), "unsuppress of a listed address failed");
        const auto gone = a.find_suppression(ann.address, now);
        f.expect(s4, gone && !*gone, "the entry is still found after unsuppress");
        f.expect(s4, a.unsuppress(ann.address) == errc::not_found, "unsuppress of an address not listed is not not_found");

        constexpr const char* s5 = "suppression S5: listings are in key order, after `after`, at most `limit`, every entry once";
        std::vector<std::string> keys;
        for (int i = 0; i < 7; ++i) keys.push_back("user" + std::to_string(9 - i) + "@example.net");
        for (const auto& k : keys) (void)a.suppress({k, "550", "5.1.1", detail::t0, std::nullopt, message_id{}});
        std::vector<std::string> seen;
        std::string after;
        for (int pages = 0; pages < 10; ++pages) {
            const auto page = b.list_suppressions(after, 3, now);
            if (!page) {
                f.expect(s5, false, "list_suppressions failed");
                break;
            }
            f.expect(s5, page->size() <= 3, "a page is longer than its limit");
            if (page->empty()) break;
            for (const auto& e : *page) seen.push_back(e.address);
            after = page->back().address;
        }
        std::vector<std::string> expected = keys;
        expected.push_back(bob.address);
        std::sort(expected.begin(), expected.end());
        f.expect(s5, seen == expected, "the pages together are not every live entry once, in key order");
    }
    return failures;
}

template <class Make>
std::vector<conformance_failure> check_batch(Make make) {
    using store_type = detail::store_of<Make>;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::BatchingStore<store_type>) {
        detail::findings f(failures);
        auto store = make();
        const auto queue_and_folder = [&] { return std::pair{detail::queued_ids(store), detail::to_vector(store.contents(folders::outbox))}; };
        auto write_two = [&](std::vector<message_id>& ids) {
            for (int i = 0; i < 2; ++i) {
                M m = detail::full_message<M>(i);
                m.client_submit_time = detail::t0 + std::chrono::seconds(i);
                const auto id = store.create(folders::outbox, m);
                if (!id) return;
                (void)store.enqueue(*id, m);
                ids.push_back(*id);
            }
        };
        std::vector<message_id> written;
        const std::error_code ec = store.batch([&] { write_two(written); });
        f.expect("batch B1: what f wrote is there", !ec, "batch() failed: " + ec.message());
        f.expect("batch B1: what f wrote is there", written.size() == 2 && detail::queued_ids(store) == written,
                 "the two messages created and queued in the batch are not queued");
        const auto before = queue_and_folder();
        struct planted {};
        bool passed_on = false;
        try {
            (void)store.batch([&] {
                std::vector<message_id> ids;
                write_two(ids);
                throw planted{};
            });
        } catch (const planted&) {
            passed_on = true;
        }
        f.expect("batch B2: f threw, nothing it wrote is there", passed_on, "the exception f threw did not pass on");
        f.expect("batch B2: f threw, nothing it wrote is there", queue_and_folder() == before,
                 "the queue or the outbox changed although f threw");
        try {
            (void)store.batch([&] {
                (void)store.batch([&] {
                    std::vector<message_id> ids;
                    write_two(ids);
                });
                throw planted{};
            });
        } catch (const planted&) {
        }
        f.expect("batch B3: a nested batch is part of the outer one", queue_and_folder() == before,
                 "what a nested batch wrote stayed although the outer batch's f threw");
    }
    return failures;
}

/// The spooler lock's laws, where the store is a SingleSpoolerStore.
/// `make_pair()` returns two store objects on one fresh store, as two
/// processes would open it. L1: one lock_spooler() holds while a second
/// throws std::system_error with errc::spool_in_use; L2: once the first lock
/// is gone, a second spooler may take it.
template <class MakePair>
std::vector<conformance_failure> check_spooler_lock(MakePair make_pair) {
    using store_type = typename std::invoke_result_t<MakePair&>::first_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::SingleSpoolerStore<store_type>) {
        detail::findings f(failures);
        auto stores = make_pair();
        const auto second_refused = [&]() -> std::optional<std::error_code> {
            try {
                auto lock = stores.second.lock_spooler();
                return std::nullopt;
            } catch (const std::system_error& e) {
                return e.code();
            }
        };
        {
            auto held = stores.first.lock_spooler();
            const auto refused = second_refused();
            f.expect("spooler lock L1: one spooler at a time", refused.has_value(), "a second spooler took the lock while the first held it");
            f.expect("spooler lock L1: one spooler at a time", !refused || *refused == errc::spool_in_use,
                     "the second spooler was refused with " + (refused ? refused->message() : std::string{}) + ", not spool_in_use");
        }
        f.expect("spooler lock L2: released with the first", !second_refused().has_value(),
                 "the lock was still held after the first spooler let it go");
    }
    return failures;
}

/// The cross-process wake's law, where the store is a CrossProcessWakeStore.
/// `make_pair()` returns two store objects on one fresh store, as two
/// processes would open it. X1: after the second submits a message,
/// written_elsewhere() on the first turns true (the check asks until it
/// does, for at most `within`, as an idle spooler would).
template <class MakePair>
std::vector<conformance_failure> check_cross_process_wake(MakePair make_pair, std::chrono::milliseconds within = std::chrono::seconds{10}) {
    using store_type = typename std::invoke_result_t<MakePair&>::first_type;
    using M = typename store_type::message_type;
    std::vector<conformance_failure> failures;
    if constexpr (spool::CrossProcessWakeStore<store_type>) {
        detail::findings f(failures);
        auto stores = make_pair();
        for (int i = 0; i < 100 && stores.first.written_elsewhere(); ++i) {
        } // what happened before is no news
        M m = detail::full_message<M>();
        const auto id = stores.second.create(folders::outbox, m);
        f.expect("cross-process wake X1: another's write is seen", id && !stores.second.enqueue(*id, m), "the second store could not submit");
        bool seen = false;
        for (const auto until = std::chrono::steady_clock::now() + within; !seen && std::chrono::steady_clock::now() < until;)
            if (!(seen = stores.first.written_elsewhere())) std::this_thread::sleep_for(std::chrono::milliseconds{5});
        f.expect("cross-process wake X1: another's write is seen", seen,
                 "written_elsewhere() stayed false after another store object on the same data submitted");
    }
    return failures;
}

/// Every check above, on fresh stores from `make`; an empty result means the store conforms.
template <class Make>
std::vector<conformance_failure> check_store(Make make) {
    using store_type = detail::store_of<Make>;
    static_assert(enable_store<store_type>,
                  "spool::testing::check_store: make() must return a store: one with `using spool_concept = spool::store_tag;`");
    std::vector<conformance_failure> failures;
    if constexpr (!Store<store_type>) {
        // The operations before the laws: the one the store lacks is named,
        // with the declaration it needs, and nothing else is compiled.
        spool::detail::diagnose_store<store_type>();
    } else {
        for (auto* check : {&check_law_1_all_or_nothing<Make>, &check_law_2_conditional_transitions<Make>,
                            &check_law_3_queue_order<Make>, &check_law_4_no_lock_on_disk<Make>,
                            &check_law_5_thread_safety<Make>, &check_law_6_load_returns_what_was_written<Make>,
                            &check_finish<Make>, &check_create_queued<Make>, &check_bulk_create_queued<Make>,
                            &check_bulk_finish<Make>, &check_due_queue<Make>, &check_batch<Make>}) {
            auto found = (*check)(make);
            failures.insert(failures.end(), found.begin(), found.end());
        }
    }
    return failures;
}

} // namespace spool::testing
