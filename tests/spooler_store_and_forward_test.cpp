// The spooler's outgoing side, store and forward: unavailable and busy
// transports, retries, the maximum lifetime, restarts.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/outgoing.hpp"

#include <spool/spool.hpp>

#include <range/v3/view/filter.hpp>
#include <range/v3/view/reverse.hpp>

#include <chrono>
#include <ranges>
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
