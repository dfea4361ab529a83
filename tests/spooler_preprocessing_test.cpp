// The spooler's outgoing side: preprocessors.

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
using spool_test::addresses;
using spool_test::fax;
using spool_test::is;
using spool_test::mail;
using spool_test::smtp;

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
