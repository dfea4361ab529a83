// The spooler's outgoing side, routing: queue order, transport selection,
// per-recipient outcomes, delivery keys and the sent-mail disposition.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/outgoing.hpp"

#include <spool/spool.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using spool_test::addresses;
using spool_test::fax;
using spool_test::is;
using spool_test::mail;
using spool_test::scripted_transport;
using spool_test::send_all;
using spool_test::smtp;

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
