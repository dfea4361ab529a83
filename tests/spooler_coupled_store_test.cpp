// The spooler's outgoing side: tightly coupled stores.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/outgoing.hpp"

#include <spool/spool.hpp>

#include <chrono>
#include <memory>
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
