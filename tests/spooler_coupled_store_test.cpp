// The spooler's outgoing side: tightly coupled stores.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/outgoing.hpp"

#include <spool/spool.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using spool_test::addresses;
using spool_test::is;
using spool_test::mail;
using spool_test::smtp;

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

// --- The coupled store's hand-off at submit: every kind of result ---------------
// The same applier as the spooler's (handoff_result.hpp) applies it; these are
// its branches as a coupled store meets them, seen through the store.

namespace {
struct scripted_local_store : spool::memory_store {
    using spool_concept = spool::coupled_store_tag;
    std::function<spool::transmit_result(spool::transmission<spool::message>&)> script;
    spool::address_types address_types() const { return {"LOCAL"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) { return script(tx); }
};

spool::message coupled_submit(spool::transmit_result (*result)(spool::transmission<spool::message>&),
                              const spool::manual_clock& clock) {
    scripted_local_store store;
    store.script = result;
    spool::spooler sp{store, clock};
    const auto id = sp.client().send(mail({local("ann"), local("bob")})).value();
    CHECK(store.outgoing_queue().size() == 1); // not finished at submit: still queued for the spooler
    return store.load(id).value();
}
} // namespace

TEST_CASE("a coupled store's busy, retry_after and site failure at submit defer its recipients") {
    spool::manual_clock clock;
    const auto now = clock.now();
    SECTION("busy: by the retry policy") {
        const auto m = coupled_submit([](auto&) { return spool::transmit_result::busy("store busy"); }, clock);
        for (const auto& r : m.recipients) {
            REQUIRE(is<spool::status::deferred>(r));
            const auto& d = std::get<spool::status::deferred>(r.status);
            CHECK(d.reason == "store busy");
            CHECK(d.attempts == 1);
            CHECK(d.next_attempt > now);
            CHECK_FALSE(r.responsibility);
        }
    }
    SECTION("retry_after: not before the delay it gave") {
        const auto m = coupled_submit([](auto&) { return spool::transmit_result::retry_after(std::chrono::seconds{600}, "offline"); }, clock);
        for (const auto& r : m.recipients) {
            REQUIRE(is<spool::status::deferred>(r));
            CHECK(std::get<spool::status::deferred>(r.status).next_attempt == now + std::chrono::seconds{600});
            CHECK(std::get<spool::status::deferred>(r.status).reason == "offline");
        }
    }
    SECTION("site failure: deferred with its diagnostic (a coupled store has no destination to mark down)") {
        const auto m = coupled_submit([](auto&) { return spool::transmit_result::site_failure("disk offline", "4.3.0"); }, clock);
        for (const auto& r : m.recipients) {
            REQUIRE(is<spool::status::deferred>(r));
            CHECK(std::get<spool::status::deferred>(r.status).diagnostic == "4.3.0");
        }
    }
    SECTION("a transmit that throws is busy") {
        const auto m = coupled_submit([](auto&) -> spool::transmit_result { throw std::runtime_error("boom"); }, clock);
        for (const auto& r : m.recipients) {
            REQUIRE(is<spool::status::deferred>(r));
            CHECK(std::get<spool::status::deferred>(r.status).reason == "transport threw: boom");
        }
    }
}

TEST_CASE("a coupled store's message failure, per-recipient outcomes and not_me at submit") {
    spool::manual_clock clock;
    const auto now = clock.now();
    SECTION("message_failed: every unreported recipient fails, and the spooler reports it") {
        scripted_local_store store;
        store.script = [](auto&) { return spool::transmit_result::message_failed("too large", "5.3.4"); };
        spool::spooler sp{store, clock};
        const auto id = sp.client().send(mail({local("ann")})).value();
        const auto m = store.load(id).value();
        REQUIRE(is<spool::status::failed>(m.recipients[0]));
        CHECK(std::get<spool::status::failed>(m.recipients[0].status).diagnostic == "5.3.4");
        CHECK(store.outgoing_queue().empty()); // finished at submit
        CHECK(sp.stats().recipients_failed == 1);
        CHECK(sp.stats().reports_generated == 1); // the non-delivery report
    }
    SECTION("per-recipient: one sent, one deferred to its own time") {
        const auto m = coupled_submit(
            [](spool::transmission<spool::message>& tx) {
                auto it = tx.recipients().begin();
                tx.sent(*it);
                tx.deferred(*++it, "mailbox busy", {}, std::chrono::seconds{42});
                return spool::transmit_result::done();
            },
            clock);
        CHECK(is<spool::status::sent>(m.recipients[0]));
        REQUIRE(is<spool::status::deferred>(m.recipients[1]));
        CHECK(std::get<spool::status::deferred>(m.recipients[1].status).next_attempt == now + std::chrono::seconds{42});
    }
    SECTION("not_me: everything stays for the spooler, whatever the transmission recorded") {
        scripted_local_store store;
        store.script = [](spool::transmission<spool::message>& tx) {
            tx.sent(*tx.recipients().begin());
            return spool::transmit_result::not_me();
        };
        spool::spooler sp{store, clock};
        const auto id = sp.client().send(mail({local("ann")})).value();
        const auto m = store.load(id).value();
        CHECK(is<spool::status::pending>(m.recipients[0]));
        CHECK_FALSE(m.recipients[0].responsibility);
        // The spooler offers it to the store again; declined there too, nothing else takes LOCAL.
        sp.drain();
        const auto after = store.load(id).value();
        REQUIRE(is<spool::status::failed>(after.recipients[0]));
        CHECK(std::get<spool::status::failed>(after.recipients[0].status).diagnostic == "5.4.4");
    }
}
