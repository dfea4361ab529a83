// The spooler's outgoing side: queue order, transport selection, sent-mail
// disposition, preprocessors, tightly coupled stores, store and forward.

#include "catch.hpp"
#include "support/fixtures.hpp"

#include <spool/spool.hpp>

#include <range/v3/view/filter.hpp>
#include <range/v3/view/reverse.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using spool_test::fax;
using spool_test::is;
using spool_test::mail;
using spool_test::smtp;
using spool_test::scripted_transport;

namespace {

std::vector<std::string> addresses(const std::vector<spool::memory_transport::delivery>& ds) {
    std::vector<std::string> out;
    for (const auto& d : ds) out.push_back(d.address);
    return out;
}

spool::transmit_result send_all(spool::transmission<spool::message>& tx) {
    for (const auto& r : tx.recipients()) tx.sent(r);
    return spool::transmit_result::done();
}

} // namespace

// --- Order, selection, finishing ---------------------------------------------

TEST_CASE_METHOD(spool_test::rig, "queued messages are sent in submit-time order") {
    for (std::string a : {"1@x", "2@x", "3@x"}) {
        REQUIRE(client.send(mail({smtp(a)})));
        clock.advance(1s);
    }
    auto report = sp.run_once();
    CHECK(report.finished == 3);
    CHECK(addresses(transport.deliveries()) == std::vector<std::string>{"1@x", "2@x", "3@x"});
}

TEST_CASE("each recipient goes to the first transport whose address types match exactly, catch-all last") {
    spool::memory_store store;
    spool::memory_transport catch_all;                 // composed first, but a catch-all
    spool::memory_transport smtp_a{{"SMTP"}};
    spool::memory_transport smtp_b{{"SMTP", "X400"}}; // second in order for SMTP
    spool::memory_transport faxes{{"FAX"}};
    spool::spooler sp{store, catch_all, smtp_a, smtp_b, faxes};
    sp.client().send(mail({smtp("a@x"), fax("+1"), {"Z", "z@x", "X400"}, {"Q", "q", "PAGER"}}));
    sp.drain();
    CHECK(addresses(smtp_a.deliveries()) == std::vector<std::string>{"a@x"});
    CHECK(addresses(smtp_b.deliveries()) == std::vector<std::string>{"z@x"});
    CHECK(addresses(faxes.deliveries()) == std::vector<std::string>{"+1"});
    CHECK(addresses(catch_all.deliveries()) == std::vector<std::string>{"q"});
}

TEST_CASE("a declined recipient goes to the next matching transport") {
    spool::memory_store store;
    spool::memory_transport first{{"SMTP"}};
    spool::memory_transport second{{"SMTP"}};
    first.decline("b@x");
    spool::spooler sp{store, first, second};
    sp.client().send(mail({smtp("a@x"), smtp("b@x")}));
    sp.drain();
    CHECK(addresses(first.deliveries()) == std::vector<std::string>{"a@x"});
    CHECK(addresses(second.deliveries()) == std::vector<std::string>{"b@x"});
}

TEST_CASE("not_me passes the whole message on, and its reports are ignored") {
    spool::memory_store store;
    scripted_transport picky{{"SMTP"}, [](auto& tx) {
                                 for (const auto& r : tx.recipients()) tx.failed(r, "ignored");
                                 return spool::transmit_result::not_me();
                             }};
    spool::memory_transport fallback{{"SMTP"}};
    spool::spooler sp{store, picky, fallback};
    auto id = sp.client().send(mail({smtp("a@x")})).value();
    sp.drain();
    CHECK(picky.calls() == 1);
    CHECK(fallback.deliveries().size() == 1);
    CHECK(is<spool::status::sent>(store.load(id).value().recipients[0]));
}

TEST_CASE("recipients no transport takes fail with non-delivery status, and the others are sent") {
    spool::memory_store store;
    spool::memory_transport transport{{"SMTP"}};
    transport.decline("declined@x");
    spool::spooler sp{store, transport};
    auto id = sp.client().send(mail({smtp("a@x"), fax("+1"), smtp("declined@x")})).value();
    sp.drain();
    auto m = store.load(id).value();
    CHECK(is<spool::status::sent>(m.recipients[0]));
    REQUIRE(is<spool::status::failed>(m.recipients[1]));
    CHECK_THAT(std::get<spool::status::failed>(m.recipients[1].status).reason, ContainsSubstring("'FAX'"));
    CHECK(std::get<spool::status::failed>(m.recipients[1].status).diagnostic == "5.4.4");
    CHECK(is<spool::status::failed>(m.recipients[2]));
    for (const auto& r : m.recipients) CHECK(r.responsibility);
}

TEST_CASE("a transport's per-recipient failure is kept with its reason and diagnostic") {
    spool::memory_store store;
    spool::memory_transport transport;
    transport.reject("gone@x");
    spool::spooler sp{store, transport};
    auto id = sp.client().send(mail({smtp("gone@x"), smtp("ok@x")})).value();
    sp.drain();
    auto m = store.load(id).value();
    REQUIRE(is<spool::status::failed>(m.recipients[0]));
    CHECK(std::get<spool::status::failed>(m.recipients[0].status).diagnostic == "5.1.1");
    CHECK(is<spool::status::sent>(m.recipients[1]));
    CHECK(sp.stats().recipients_failed == 1);
    CHECK(sp.stats().recipients_sent == 1);
}

TEST_CASE_METHOD(spool_test::rig, "a sent recipient records the time, and a finished message leaves the queue, no longer submitted") {
    auto id = sp.client().send(mail({smtp("a@x")})).value();
    clock.advance(5s);
    sp.drain();
    auto m = store.load(id).value();
    CHECK(std::get<spool::status::sent>(m.recipients[0].status).at == clock.now());
    CHECK_FALSE(m.submitted());
    CHECK_FALSE(spool::has(m.flags, spool::message_flags::unsent));
    CHECK(spool::has(m.flags, spool::message_flags::read));
    CHECK(store.outgoing_queue().empty());
    CHECK(sp.locked_count() == 0);
}

TEST_CASE("sent-mail disposition: move to sent items, move to a user folder, leave, or delete") {
    spool::memory_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto client = sp.client();
    const spool::folder_id archive{77};

    auto moved = mail({smtp("a@x")});
    auto archived = mail({smtp("a@x")});
    archived.sent_mail = spool::disposition::move_to{archive};
    auto left = mail({smtp("a@x")});
    left.sent_mail = spool::disposition::leave_in_place{};
    auto deleted = mail({smtp("a@x")});
    deleted.sent_mail = spool::disposition::delete_after_submit{};

    auto moved_id = client.send(moved).value();
    auto archived_id = client.send(archived).value();
    auto left_id = client.send(left).value();
    auto deleted_id = client.send(deleted).value();
    sp.drain();

    CHECK(client.contents(spool::folders::sent_items) == std::vector<spool::message_id>{moved_id});
    CHECK(client.contents(archive) == std::vector<spool::message_id>{archived_id});
    CHECK(client.contents(spool::folders::outbox) == std::vector<spool::message_id>{left_id});
    CHECK(client.open(deleted_id).error() == spool::errc::not_found);
    CHECK(transport.deliveries().size() == 4);
}

TEST_CASE("a message that reached nobody is not deleted after submit, whatever its disposition") {
    spool::memory_store store;
    spool::memory_transport transport{{"SMTP"}};
    transport.reject("gone@x");
    spool::spooler sp{store, transport};
    auto m = mail({smtp("gone@x"), fax("+1")});
    m.sent_mail = spool::disposition::delete_after_submit{};
    auto id = sp.client().send(m).value();
    sp.drain();
    auto kept = sp.client().open(id);
    REQUIRE(kept);
    CHECK(is<spool::status::failed>(kept->recipients[0]));
    CHECK(std::holds_alternative<spool::disposition::leave_in_place>(kept->sent_mail));
    CHECK(sp.client().contents(spool::folders::outbox) == std::vector<spool::message_id>{id});
    CHECK(store.outgoing_queue().empty());
}

TEST_CASE_METHOD(spool_test::rig, "the deferred delivery time is carried to the transport, and the spooler does not hold the message") {
    auto m = mail({smtp("a@x")});
    m.deferred_delivery_time = clock.now() + 24h;
    sp.client().send(m);
    sp.drain();
    REQUIRE(transport.deliveries().size() == 1);
    CHECK(transport.deliveries()[0].deferred_delivery_time == clock.now() + 24h);
}

TEST_CASE("transports see the message locked by the spooler, and the store never keeps the lock") {
    spool::memory_store store;
    spool::submit_flags seen{};
    scripted_transport probe{spool::address_types::any(), [&](auto& tx) {
                                 seen = tx.message().submission;
                                 return spool::transmit_result::busy();
                             }};
    spool::spooler sp{store, probe};
    auto id = sp.client().send(mail({smtp("a@x")})).value();
    sp.drain();
    CHECK(spool::has(seen, spool::submit_flags::locked));
    CHECK_FALSE(spool::has(store.load(id).value().submission, spool::submit_flags::locked));
}

TEST_CASE("each transmission carries a stable delivery key per recipient") {
    spool::memory_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto id = sp.client().send(mail({smtp("a@x")})).value();
    sp.drain();
    REQUIRE(transport.deliveries().size() == 1);
    CHECK(transport.deliveries()[0].delivery_key ==
          std::to_string(static_cast<std::uint64_t>(id)) + "/SMTP:a@x");
}

TEST_CASE("a transport reporting a recipient it was not given is a bug, reported as such") {
    spool::memory_store store;
    spool::recipient stranger = smtp("stranger@x");
    std::string what;
    scripted_transport rogue{spool::address_types::any(), [&](auto& tx) {
                                 try {
                                     tx.sent(stranger);
                                 } catch (const std::invalid_argument& e) {
                                     what = e.what();
                                 }
                                 return send_all(tx);
                             }};
    spool::spooler sp{store, rogue};
    sp.client().send(mail({smtp("a@x")}));
    sp.drain();
    CHECK_THAT(what, ContainsSubstring("was not assigned to this transport"));
}

// --- Preprocessors ------------------------------------------------------------

TEST_CASE("preprocessors run in composed order, once, only when registered for a recipient's type") {
    auto log = std::make_shared<std::vector<std::string>>();
    spool::memory_store store;
    spool::memory_transport transport;
    spool_test::logging_preprocessor all{"all", spool::address_types::any(), log};
    spool_test::logging_preprocessor faxes{"fax", {"FAX"}, log};
    spool_test::logging_preprocessor x400{"x400", {"X400"}, log};
    spool::spooler sp{store, all, transport, faxes, x400};
    sp.client().send(mail({smtp("a@x"), fax("+1")}));
    sp.drain();
    CHECK(*log == std::vector<std::string>{"all", "fax"});
    log->clear();
    sp.client().send(mail({smtp("a@x")}));
    sp.drain();
    CHECK(*log == std::vector<std::string>{"all"});
}

TEST_CASE("a preprocessor runs while the message is locked, and may modify it") {
    auto log = std::make_shared<std::vector<std::string>>();
    spool::memory_store store;
    spool::memory_transport transport;
    std::optional<
        spool::spooler<spool::memory_store, spool_test::logging_preprocessor, spool::memory_transport>::client_type>
        client;
    std::error_code open_during;
    spool_test::logging_preprocessor stamp{"stamp", spool::address_types::any(), log, [&](auto& job) {
                                               open_during = client->open(job.message().id).error();
                                               job.message().payload.subject += " [checked]";
                                               return spool::preprocess_result::ok();
                                           }};
    spool::spooler sp{store, stamp, transport};
    client = sp.client();
    auto id = client->send(mail({smtp("a@x")}, "report")).value();
    sp.drain();
    CHECK(open_during == spool::errc::no_access);
    REQUIRE(transport.deliveries().size() == 1);
    CHECK(transport.deliveries()[0].subject == "report [checked]");
    CHECK(store.load(id).value().submission == spool::submit_flags::none);
}

TEST_CASE("recipients a preprocessor reports undeliverable fail, and the rest are sent") {
    auto log = std::make_shared<std::vector<std::string>>();
    spool::memory_store store;
    spool::memory_transport transport;
    spool_test::logging_preprocessor checker{"check", spool::address_types::any(), log, [](auto& job) {
                                                 for (const auto& r : job.message().recipients)
                                                     if (r.address == "blocked@x")
                                                         job.undeliverable(r, "blocked by policy", "5.7.1");
                                                 return spool::preprocess_result::ok();
                                             }};
    spool::spooler sp{store, checker, transport};
    auto id = sp.client().send(mail({smtp("blocked@x"), smtp("a@x")})).value();
    sp.drain();
    auto m = store.load(id).value();
    REQUIRE(is<spool::status::failed>(m.recipients[0]));
    CHECK(std::get<spool::status::failed>(m.recipients[0].status).reason == "blocked by policy");
    CHECK(std::get<spool::status::failed>(m.recipients[0].status).diagnostic == "5.7.1");
    CHECK(addresses(transport.deliveries()) == std::vector<std::string>{"a@x"});
}

TEST_CASE("a failing preprocessor keeps the message, fails its recipients with the reason, and is counted") {
    auto log = std::make_shared<std::vector<std::string>>();
    spool::memory_store store;
    spool::memory_transport transport;
    spool_test::logging_preprocessor broken{"broken", spool::address_types::any(), log,
                                            [](auto&) { return spool::preprocess_result::fail("renderer down"); }};
    spool_test::logging_preprocessor later{"later", spool::address_types::any(), log};
    spool::spooler sp{store, broken, later, transport};
    auto m = mail({smtp("a@x")});
    m.sent_mail = spool::disposition::leave_in_place{};
    auto id = sp.client().send(m).value();
    sp.drain();
    auto kept = store.load(id).value();
    REQUIRE(is<spool::status::failed>(kept.recipients[0]));
    CHECK_THAT(std::get<spool::status::failed>(kept.recipients[0].status).reason, ContainsSubstring("renderer down"));
    CHECK(transport.deliveries().empty());
    CHECK(*log == std::vector<std::string>{"broken"}); // later preprocessors do not run
    CHECK(sp.stats().preprocessing_failures == 1);
}

TEST_CASE("a preprocessor that throws counts as a failure, not a crash") {
    auto log = std::make_shared<std::vector<std::string>>();
    spool::memory_store store;
    spool::memory_transport transport;
    spool_test::logging_preprocessor thrower{"thrower", spool::address_types::any(), log,
                                             [](auto&) -> spool::preprocess_result { throw std::runtime_error("boom"); }};
    spool::spooler sp{store, thrower, transport};
    auto id = sp.client().send(mail({smtp("a@x")})).value();
    sp.drain();
    auto m = store.load(id).value();
    REQUIRE(is<spool::status::failed>(m.recipients[0]));
    CHECK_THAT(std::get<spool::status::failed>(m.recipients[0].status).reason, ContainsSubstring("boom"));
}

// --- Tightly coupled store -----------------------------------------------------

namespace {
/// A store with its own transport for "LOCAL" addresses, like a mail server's
/// store that delivers to its own mailboxes (MAPI: tightly coupled).
struct local_store : spool::memory_store {
    using spool_concept = spool::coupled_store_tag;
    std::shared_ptr<std::vector<std::string>> delivered = std::make_shared<std::vector<std::string>>();

    spool::address_types address_types() const { return {"LOCAL"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) {
            delivered->push_back(r.address);
            tx.sent(r);
        }
        return spool::transmit_result::done();
    }
};
spool::recipient local(std::string a) { return {a, a, "LOCAL"}; }
} // namespace

TEST_CASE("a tightly coupled store is detected at compile time, and a plain store is not") {
    STATIC_REQUIRE(spool::CoupledStore<local_store>);
    STATIC_REQUIRE_FALSE(spool::CoupledStore<spool::memory_store>);
    STATIC_REQUIRE(spool::spooler<local_store, spool::memory_transport>::coupled);
    STATIC_REQUIRE_FALSE(spool::spooler<spool::memory_store, spool::memory_transport>::coupled);
}

namespace {
// A plain store (no coupled tag) with transport-like members whose bodies
// cannot compile: if spool instantiated its coupled path for this store, the
// build would stop here.
struct poisoned_store : spool::memory_store {
    spool::address_types address_types() const { return {"SMTP"}; }
    template <class M>
    spool::transmit_result transmit(spool::transmission<M>&) {
        static_assert(sizeof(M) == 0, "the coupled path was instantiated for a store that is not coupled");
        return spool::transmit_result::done();
    }
};
} // namespace

TEST_CASE("for a store that is not coupled, the coupled path is not instantiated") {
    STATIC_REQUIRE_FALSE(spool::spooler<poisoned_store, spool::memory_transport>::coupled);
    poisoned_store store;
    spool::memory_transport transport{{"SMTP"}};
    spool::spooler sp{store, transport};
    sp.client().send(mail({smtp("a@x")}));
    CHECK(store.outgoing_queue().size() == 1); // the store did not deliver at submit
    sp.drain();
    CHECK(transport.deliveries().size() == 1);
}

TEST_CASE("a coupled store that handles every recipient finishes the message inline, with no queue trip") {
    local_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto id = sp.client().send(mail({local("ann"), local("bob")})).value();
    // No spooler pass has run: the submit itself delivered and finished it.
    CHECK(*store.delivered == std::vector<std::string>{"ann", "bob"});
    CHECK(store.outgoing_queue().empty());
    CHECK(sp.client().contents(spool::folders::sent_items) == std::vector<spool::message_id>{id});
    CHECK(sp.run_once().examined == 0);
    auto m = store.load(id).value();
    CHECK(m.recipients[0].responsibility);
    CHECK_FALSE(m.submitted());
    // Counted like a message the spooler finished.
    CHECK(sp.stats().messages_finished == 1);
    CHECK(sp.stats().recipients_sent == 2);
}

TEST_CASE("a coupled store marks what it handled, and the spooler sends the rest") {
    local_store store;
    spool::memory_transport transport{{"SMTP"}};
    spool::spooler sp{store, transport};
    auto id = sp.client().send(mail({local("ann"), smtp("bob@x")})).value();
    auto queued = store.load(id).value();
    CHECK(queued.recipients[0].responsibility);
    CHECK(is<spool::status::sent>(queued.recipients[0]));
    CHECK_FALSE(queued.recipients[1].responsibility);
    CHECK(store.outgoing_queue().size() == 1);
    sp.drain();
    CHECK(addresses(transport.deliveries()) == std::vector<std::string>{"bob@x"});
    CHECK(*store.delivered == std::vector<std::string>{"ann"}); // not transmitted twice
    CHECK(store.outgoing_queue().empty());
    CHECK(sp.stats().recipients_sent == 2); // one at submit, one by the spooler: each counted once
    CHECK(sp.stats().messages_finished == 1);
}

TEST_CASE("a coupled store's message that needs preprocessing goes through the spooler") {
    auto log = std::make_shared<std::vector<std::string>>();
    local_store store;
    spool_test::logging_preprocessor pre{"pre", spool::address_types::any(), log};
    spool::spooler sp{store, pre};
    sp.client().send(mail({local("ann")}));
    CHECK(store.delivered->empty());
    CHECK(store.outgoing_queue().size() == 1);
    sp.drain();
    CHECK(*log == std::vector<std::string>{"pre"});
    CHECK(*store.delivered == std::vector<std::string>{"ann"});
}

// --- Store and forward ---------------------------------------------------------

TEST_CASE_METHOD(spool_test::rig, "an unavailable messaging system keeps the message, and it is forwarded when due") {
    transport.offline(120s);
    auto id = sp.client().send(mail({smtp("a@x")})).value();

    auto first = sp.drain();
    CHECK(first.deferred == 1);
    CHECK(first.next_due == clock.now() + 120s);
    auto waiting = store.load(id).value();
    REQUIRE(is<spool::status::deferred>(waiting.recipients[0]));
    const auto& d = std::get<spool::status::deferred>(waiting.recipients[0].status);
    CHECK(d.next_attempt == clock.now() + 120s);
    CHECK(d.reason == "messaging system offline");
    CHECK(d.attempts == 1);
    CHECK(waiting.submitted());

    transport.online();
    clock.advance(60s);
    CHECK(sp.drain().processed == 0); // not due yet: the transport is not asked again
    CHECK(transport.calls() == 1);
    clock.advance(60s);
    CHECK(sp.drain().finished == 1);
    CHECK(transport.deliveries().size() == 1);
}

TEST_CASE("a message waiting on one transport does not hold back messages for another") {
    spool::memory_store store;
    spool::memory_transport smtp_t{{"SMTP"}};
    spool::memory_transport fax_t{{"FAX"}};
    spool::manual_clock clock;
    spool::spooler sp{store, smtp_t, fax_t, clock};
    smtp_t.offline(300s);
    auto client = sp.client();
    client.send(mail({smtp("a@x")}));
    clock.advance(1s);
    client.send(mail({fax("+1")}));
    clock.advance(1s);
    auto mixed = client.send(mail({smtp("b@x"), fax("+2")})).value();
    sp.drain();
    CHECK(addresses(fax_t.deliveries()) == std::vector<std::string>{"+1", "+2"});
    auto m = store.load(mixed).value();
    CHECK(is<spool::status::deferred>(m.recipients[0]));
    CHECK(is<spool::status::sent>(m.recipients[1]));
    // An unavailable transport is not called again for later messages before its time.
    CHECK(smtp_t.calls() == 1);
}

TEST_CASE("busy retries after the retry policy's backoff, growing with each attempt") {
    spool::memory_store store;
    spool::manual_clock clock;
    int busy_answers = 2;
    scripted_transport transport{spool::address_types::any(), [&](auto& tx) {
                                     if (busy_answers-- > 0) return spool::transmit_result::busy();
                                     return send_all(tx);
                                 }};
    spool::exponential_backoff retry{10s, 100s, 1h};
    spool::spooler sp{store, transport, clock, retry};
    auto id = sp.client().send(mail({smtp("a@x")})).value();
    sp.drain();
    CHECK(std::get<spool::status::deferred>(store.load(id).value().recipients[0].status).next_attempt ==
          clock.now() + 10s);
    clock.advance(10s);
    sp.drain();
    auto d = std::get<spool::status::deferred>(store.load(id).value().recipients[0].status);
    CHECK(d.next_attempt == clock.now() + 20s);
    CHECK(d.attempts == 2);
    clock.advance(20s);
    sp.drain();
    CHECK(is<spool::status::sent>(store.load(id).value().recipients[0]));
    CHECK(transport.calls() == 3);
}

TEST_CASE("a transport's recipients are a sized random-access range for std and range-v3 alike") {
    using assigned = decltype(std::declval<const spool::transmission<spool::message>&>().recipients());
    STATIC_REQUIRE(std::ranges::random_access_range<assigned>);
    STATIC_REQUIRE(std::ranges::sized_range<assigned>);
    STATIC_REQUIRE(std::ranges::view<assigned>); // so std's adaptors take it by value
    STATIC_REQUIRE(ranges::random_access_range<assigned>);
    STATIC_REQUIRE(ranges::view_<assigned>);
    STATIC_REQUIRE(ranges::sized_range<assigned>);

    spool::memory_store store;
    std::vector<std::string> seen_backwards;
    std::size_t assigned_count = 0;
    // Only SMTP recipients are assigned; the transport settles those whose
    // address starts with "ok" and declines the rest, using views on them.
    scripted_transport transport{{"SMTP"}, [&](auto& tx) {
                                     assigned_count = tx.recipients().size();
                                     for (const auto& r : tx.recipients() | ranges::views::reverse)
                                         seen_backwards.push_back(r.address);
                                     auto ok = [](const spool::recipient& r) { return r.address.starts_with("ok"); };
                                     for (const auto& r : tx.recipients() | ranges::views::filter(ok)) tx.sent(r);
                                     CHECK(std::ranges::count_if(tx.recipients(), ok) == 2);
                                     CHECK(tx.recipients().begin()[1].address == "no@x");
                                     return spool::transmit_result::done();
                                 }};
    spool::spooler sp{store, transport};
    auto id = sp.client().send(mail({smtp("ok1@x"), fax("+1"), smtp("no@x"), smtp("ok2@x")})).value();
    sp.drain();
    CHECK(assigned_count == 3);
    CHECK(seen_backwards == std::vector<std::string>{"ok2@x", "no@x", "ok1@x"});
    auto m = store.load(id).value();
    CHECK(is<spool::status::sent>(m.recipients[0]));
    CHECK(is<spool::status::sent>(m.recipients[3]));
    CHECK(is<spool::status::failed>(m.recipients[1])); // no FAX transport
    CHECK(is<spool::status::failed>(m.recipients[2])); // declined, and nobody else takes SMTP
}

TEST_CASE("what a transport reported before answering retry_after is kept") {
    spool::memory_store store;
    spool::manual_clock clock;
    bool first = true;
    scripted_transport transport{spool::address_types::any(), [&](auto& tx) {
                                     if (!first) return send_all(tx);
                                     first = false;
                                     tx.sent(*tx.recipients().begin()); // the link dropped after one
                                     return spool::transmit_result::retry_after(30s, "connection lost");
                                 }};
    spool::spooler sp{store, transport, clock};
    auto id = sp.client().send(mail({smtp("a@x"), smtp("b@x")})).value();
    sp.drain();
    auto m = store.load(id).value();
    CHECK(is<spool::status::sent>(m.recipients[0]));
    REQUIRE(is<spool::status::deferred>(m.recipients[1]));
    CHECK(std::get<spool::status::deferred>(m.recipients[1].status).reason == "connection lost");
    clock.advance(30s);
    sp.drain();
    m = store.load(id).value();
    CHECK(is<spool::status::sent>(m.recipients[1]));
    CHECK(store.outgoing_queue().empty());
}

TEST_CASE("a transport that throws is retried later, like busy") {
    spool::memory_store store;
    spool::manual_clock clock;
    bool thrown = false;
    scripted_transport transport{spool::address_types::any(), [&](auto& tx) {
                                     if (!thrown) {
                                         thrown = true;
                                         throw std::runtime_error("socket closed");
                                     }
                                     return send_all(tx);
                                 }};
    spool::spooler sp{store, transport, clock};
    auto id = sp.client().send(mail({smtp("a@x")})).value();
    sp.drain();
    auto d = std::get<spool::status::deferred>(store.load(id).value().recipients[0].status);
    CHECK_THAT(d.reason, ContainsSubstring("socket closed"));
    clock.advance(d.next_attempt - clock.now());
    sp.drain();
    CHECK(is<spool::status::sent>(store.load(id).value().recipients[0]));
}

TEST_CASE("recipients still waiting after the maximum lifetime fail with a clear reason") {
    spool::memory_store store;
    spool::memory_transport transport;
    spool::manual_clock clock;
    spool::exponential_backoff retry{60s, 600s, 1h};
    spool::spooler sp{store, transport, clock, retry};
    transport.offline(40min);
    auto id = sp.client().send(mail({smtp("a@x")})).value();
    sp.drain();
    clock.advance(40min);
    sp.drain();
    // The next attempt would fall past the lifetime: it is brought forward to the deadline.
    auto d = std::get<spool::status::deferred>(store.load(id).value().recipients[0].status);
    CHECK(d.next_attempt == clock.now() + 20min);
    clock.advance(20min);
    sp.drain();
    auto m = store.load(id).value();
    REQUIRE(is<spool::status::failed>(m.recipients[0]));
    const auto& f = std::get<spool::status::failed>(m.recipients[0].status);
    CHECK_THAT(f.reason, ContainsSubstring("maximum lifetime of 3600 s"));
    CHECK_THAT(f.reason, ContainsSubstring("messaging system offline"));
    CHECK(f.diagnostic == "5.4.7");
    CHECK(store.outgoing_queue().empty());
    CHECK(transport.calls() == 2);
}

TEST_CASE("a new spooler on the same store picks up queued and waiting messages") {
    spool::memory_store store;
    spool::memory_transport transport;
    spool::manual_clock clock;
    spool::message_id id{};
    {
        spool::spooler sp{store, transport, clock};
        transport.offline(60s);
        id = sp.client().send(mail({smtp("a@x")})).value();
        sp.drain();
    }
    transport.online();
    spool::spooler restarted{store, transport, clock};
    CHECK(restarted.drain().processed == 0); // the next attempt time was kept in the store
    clock.advance(60s);
    CHECK(restarted.drain().finished == 1);
    CHECK(transport.deliveries().size() == 1);
    CHECK_FALSE(store.load(id).value().submitted());
}

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
        log->in_batch = true;
        f();
        log->in_batch = false;
        if (log->fail_next_batch) {
            log->fail_next_batch = false;
            return spool::errc::store_failure; // as if the commit failed (the memory store cannot roll back)
        }
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

TEST_CASE("when a shared commit fails, its messages stay queued and nothing is announced") {
    batching_store store;
    spool::memory_transport transport;
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock, watcher{store.log}};
    for (int i = 0; i < 3; ++i) sp.client().send(mail({smtp(std::to_string(i) + "@x")}));
    store.log->fail_next_batch = true;
    const auto report = sp.run_once();
    CHECK(report.finished == 0);
    CHECK(report.store_errors == 3);
    CHECK(sp.stats().messages_finished == 0);
    CHECK(sp.locked_count() == 0);
}
