// The client side: submit (validation, stamping, expansion, de-duplication,
// the preprocessing decision, queueing), access rules and abort.

#include "catch.hpp"
#include "support/fixtures.hpp"

#include <spool/spool.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using spool_test::fax;
using spool_test::mail;
using spool_test::smtp;

namespace {

/// An address book with personal distribution lists (MAPI address type MAPIPDL).
struct address_book {
    using spool_concept = spool::expander_tag;
    std::map<std::string, std::vector<spool::recipient>> lists;

    std::optional<std::vector<spool::recipient>> expand(const spool::recipient& r) const {
        if (r.address_type != "MAPIPDL") return std::nullopt;
        auto it = lists.find(r.address);
        return it == lists.end() ? std::vector<spool::recipient>{} : it->second;
    }
};

spool::recipient list(std::string name, spool::recipient_kind kind = spool::recipient_kind::to) {
    return {name, name, "MAPIPDL", kind};
}

/// The in-memory store without create_queued, so that send() takes its two-step way.
struct two_step_store {
    using spool_concept = spool::store_tag;
    using message_type = spool::message;
    spool::memory_store inner;
    auto create(spool::folder_id f, const spool::message& m) { return inner.create(f, m); }
    auto load(spool::message_id id) const { return inner.load(id); }
    auto save(spool::message_id id, const spool::message& m) { return inner.save(id, m); }
    auto enqueue(spool::message_id id, const spool::message& m) { return inner.enqueue(id, m); }
    auto abort_submit(spool::message_id id, const spool::message& m) { return inner.abort_submit(id, m); }
    auto finish(spool::message_id id, const spool::message& m) { return inner.finish(id, m); }
    auto outgoing_queue() const { return inner.outgoing_queue(); }
    auto contents(spool::folder_id f) const { return inner.contents(f); }
};

template <class Store>
void send_keeps_an_invalid_message_as_given() {
    Store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto client = sp.client();
    // A duplicate too: submit would merge it, so the draft shows whether submit's changes leaked into it.
    const auto given = mail({smtp("ann@x"), smtp("ANN@x", spool::recipient_kind::cc), {"Nobody", "", "SMTP"}});
    CHECK(client.send(given).error() == spool::errc::unresolved_recipient);
    const auto outbox = client.contents(spool::folders::outbox);
    REQUIRE(outbox.size() == 1);
    const auto draft = client.open(outbox[0], spool::access::modify).value();
    CHECK_FALSE(draft.submitted());
    CHECK_FALSE(draft.client_submit_time.has_value());
    CHECK(draft.recipients == given.recipients);
    CHECK(store.outgoing_queue().empty());

    const auto id = client.send(mail({smtp("bob@x"), smtp("BOB@x")})).value();
    const auto queued = client.open(id).value();
    CHECK(queued.submitted());
    CHECK(queued.recipients.size() == 1);
    CHECK(sp.drain().finished == 1);
    CHECK(transport.deliveries().size() == 1);
}

template <class Store>
void send_all_queues_all_in_order_or_none() {
    Store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto client = sp.client();
    std::vector<spool::message> ms;
    for (int i = 0; i < 4; ++i) ms.push_back(mail({smtp("to" + std::to_string(i) + "@x"), smtp("TO" + std::to_string(i) + "@x")}));
    auto refused = ms;
    refused[2].recipients = {{"Nobody", "", "SMTP"}};
    CHECK(client.send_all(refused).error() == spool::errc::unresolved_recipient);
    CHECK(client.contents(spool::folders::outbox).empty()); // no drafts either
    CHECK(store.outgoing_queue().empty());

    const auto ids = client.send_all(ms).value();
    REQUIRE(ids.size() == 4);
    std::vector<spool::message_id> queued;
    for (const auto& e : store.outgoing_queue()) queued.push_back(e.id);
    CHECK(queued == ids);
    for (auto id : ids) {
        const auto m = client.open(id).value();
        CHECK(m.submitted());
        CHECK(m.recipients.size() == 1); // made submitted as send() does: the duplicate merged
    }
    CHECK(client.send_all({}).value().empty());
    CHECK(sp.drain().finished == 4);
    CHECK(transport.deliveries().size() == 4);
}

} // namespace

TEST_CASE("send_all queues every message in its order, or none when one is refused, with or without a bulk store") {
    STATIC_REQUIRE_FALSE(spool::BulkQueuedCreateStore<spool::memory_store>);
    SECTION("a store with create_queued, one by one") { send_all_queues_all_in_order_or_none<spool::memory_store>(); }
    SECTION("a store without it") { send_all_queues_all_in_order_or_none<two_step_store>(); }
}

TEST_CASE_METHOD(spool_test::rig, "submit refuses a message without recipients, and leaves the draft as it was") {
    auto id = client.create(mail({})).value();
    CHECK(client.submit(id) == spool::errc::no_recipients);
    auto draft = client.open(id, spool::access::modify).value();
    CHECK_FALSE(draft.submitted());
    CHECK(store.outgoing_queue().empty());
}

TEST_CASE("send stores a message it cannot submit as the draft it was given, with or without a one-step store") {
    SECTION("a store with create_queued") { send_keeps_an_invalid_message_as_given<spool::memory_store>(); }
    SECTION("a store without it") { send_keeps_an_invalid_message_as_given<two_step_store>(); }
}

TEST_CASE_METHOD(spool_test::rig, "submit refuses an unresolved recipient") {
    auto id = client.create(mail({smtp("a@x"), {"Someone", "", "SMTP"}})).value();
    CHECK(client.submit(id) == spool::errc::unresolved_recipient);
    auto id2 = client.create(mail({{"Someone", "someone@x", ""}})).value();
    CHECK(client.submit(id2) == spool::errc::unresolved_recipient);
    CHECK(store.outgoing_queue().empty());
}

TEST_CASE_METHOD(spool_test::rig, "submit refuses a control character in an address or a header field, and queues nothing, but takes a fold as it is") {
    const auto refused = [&](const spool::message& m, spool::errc why) {
        const auto id = client.create(m).value();
        CHECK(client.submit(id) == why);
        CHECK_FALSE(client.open(id, spool::access::modify).value().submitted());
        CHECK(client.send(m).error() == why);
        CHECK(client.send_all({mail({smtp("fine@x")}), m}).error() == why);
    };
    const auto edited = [](auto change) {
        auto m = mail({smtp("ann@x"), smtp("bob@x")});
        change(m);
        return m;
    };
    using spool::errc;
    refused(edited([](auto& m) { m.recipients[1].address = "bob@x>\r\nRCPT TO:<eve@y"; }), errc::invalid_address);
    refused(edited([](auto& m) { m.sender.address = "me@x\n"; }), errc::invalid_address);
    refused(edited([](auto& m) { m.report_to = spool::mailbox{"", std::string("r@x\0", 4), "SMTP"}; }), errc::invalid_address);
    refused(edited([](auto& m) { m.sender.display_name = "Me\r\nBcc: eve@y"; }), errc::invalid_header_value);
    refused(edited([](auto& m) { m.recipients[0].display_name = std::string("Ann\0", 4); }), errc::invalid_header_value);
    refused(edited([](auto& m) { m.payload.subject = "Hello\nBcc: eve@y"; }), errc::invalid_header_value);
    refused(edited([](auto& m) { m.payload.headers = {{"Message-ID", "<1@x>\r\nBcc: eve@y"}}; }), errc::invalid_header_value);
    refused(edited([](auto& m) { m.payload.headers = {{"X-Bare-CR", "one\rtwo"}}; }), errc::invalid_header_value);
    refused(edited([](auto& m) { m.payload.headers = {{"X-Ends-In-A-Fold", "one\r\n "}}; }), errc::invalid_header_value);
    refused(edited([](auto& m) { m.payload.headers = {{"Not a name:", "value"}}; }), errc::invalid_header_value);
    CHECK(store.outgoing_queue().empty());

    // A value folded as RFC 5322 allows, and a tab, are taken byte for byte.
    const auto folded = edited([](auto& m) {
        m.payload.subject = "a\tsubject";
        m.payload.headers = {{"X-Folded", "one\r\n two\r\n\tthree"}};
    });
    const auto id = client.send(folded).value();
    const auto queued = client.open(id).value();
    CHECK(queued.payload.headers == folded.payload.headers);
    CHECK(queued.payload.subject == folded.payload.subject);
    CHECK(store.outgoing_queue().size() == 1);
}

TEST_CASE_METHOD(spool_test::rig, "submit takes the sender's own MIME message, and refuses one it could not send as it is") {
    const std::string mime = "From: Ann <ann@x>\r\nTo: bob@x\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"
                             "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n"
                             "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--b--\r\n";
    const auto with = [&](std::string text, auto change) {
        auto m = mail({smtp("bob@x")});
        m.payload = {};
        m.payload.mime = std::move(text);
        change(m);
        return m;
    };
    const auto as_is = [](auto&) {};
    const auto id = client.send(with(mime, as_is)).value();
    CHECK(client.open(id).value().payload.mime == mime);

    const auto refused = [&](const spool::message& m) {
        const auto draft = client.create(m).value();
        CHECK(client.submit(draft) == spool::errc::invalid_mime);
        CHECK(client.send(m).error() == spool::errc::invalid_mime);
    };
    refused(with("no header section at all\r\n", as_is));
    refused(with("\r\nbody only\r\n", as_is));
    refused(with(" folded: before any field\r\n\r\nx", as_is));
    refused(with("Subject: one\rtwo\r\n\r\nx", as_is));
    refused(with("Bad Name: x\r\n\r\nx", as_is));
    refused(with("X-Long: " + std::string(995, 'a') + "\r\n\r\nx", as_is));
    refused(with("Subject: ok\r\n\r\n" + std::string(999, 'b') + "\r\n", as_is));
    refused(with(mime, [](auto& m) { m.payload.subject = "two subjects"; }));
    refused(with(mime, [](auto& m) { m.payload.body = "two bodies"; }));
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(std::error_code(spool::errc::invalid_mime).message().find("998") != std::string::npos);
}

TEST_CASE_METHOD(spool_test::rig, "submit refuses a message that is already submitted") {
    auto id = client.create(mail({smtp("a@x")})).value();
    REQUIRE_FALSE(client.submit(id));
    CHECK(client.submit(id) == spool::errc::already_submitted);
    CHECK(store.outgoing_queue().size() == 1);
}

TEST_CASE_METHOD(spool_test::rig, "submit of an unknown message gives not_found") {
    CHECK(client.submit(spool::message_id{999}) == spool::errc::not_found);
}

TEST_CASE_METHOD(spool_test::rig, "submit marks the message submitted and unsent, resets responsibility, stamps the time, and queues it") {
    auto m = mail({smtp("a@x"), smtp("b@x")});
    m.recipients[0].responsibility = true; // a client cannot pre-settle a recipient
    m.message_class = "";
    auto id = client.create(m).value();
    const auto now = clock.now();
    REQUIRE_FALSE(client.submit(id));

    auto queued = client.open(id, spool::access::read_only).value();
    CHECK(queued.submitted());
    CHECK(spool::has(queued.flags, spool::message_flags::unsent));
    CHECK(queued.client_submit_time == now);
    CHECK(queued.message_class == "IPM");
    CHECK(queued.submission == spool::submit_flags::none);
    for (const auto& r : queued.recipients) {
        CHECK_FALSE(r.responsibility);
        CHECK(spool_test::is<spool::status::pending>(r));
    }
    auto q = store.outgoing_queue();
    REQUIRE(q.size() == 1);
    CHECK(q[0].id == id);
    CHECK(q[0].client_submit_time == now);
    CHECK(transport.calls() == 0); // submit returns at once; the spooler sends
}

TEST_CASE("submit expands distribution lists through the composed expander, nested and cyclic") {
    spool::memory_store store;
    spool::memory_transport transport;
    address_book book;
    book.lists["team"] = {smtp("ann@x"), list("leads"), smtp("bob@x")};
    book.lists["leads"] = {smtp("cat@x"), list("team")}; // a cycle back to team
    spool::spooler sp{store, transport, book};
    auto client = sp.client();

    auto id = client.create(mail({list("team", spool::recipient_kind::cc), smtp("dan@x")})).value();
    REQUIRE_FALSE(client.submit(id));
    auto queued = client.open(id).value();
    std::vector<std::string> addresses;
    for (const auto& r : queued.recipients) addresses.push_back(r.address);
    CHECK(addresses == std::vector<std::string>{"ann@x", "cat@x", "bob@x", "dan@x"});
    CHECK(queued.recipients[0].kind == spool::recipient_kind::cc); // members keep the list's kind
}

TEST_CASE("a list that expands to nobody leaves no recipients") {
    spool::memory_store store;
    spool::memory_transport transport;
    address_book book;
    spool::spooler sp{store, transport, book};
    auto id = sp.client().create(mail({list("empty")})).value();
    CHECK(sp.client().submit(id) == spool::errc::no_recipients);
}

TEST_CASE("a store that can expand lists is used when no expander is composed") {
    struct expanding_store : spool::memory_store {
        std::optional<std::vector<spool::recipient>> expand(const spool::recipient& r) {
            if (r.address_type != "MAPIPDL") return std::nullopt;
            return std::vector<spool::recipient>{smtp("x@x"), smtp("y@x")};
        }
    };
    expanding_store store;
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto id = sp.client().send(mail({list("all")})).value();
    CHECK(sp.client().open(id).value().recipients.size() == 2);
}

TEST_CASE_METHOD(spool_test::rig, "duplicate recipients are removed so that no address is transmitted twice") {
    auto id = client.send(mail({smtp("ann@x", spool::recipient_kind::bcc), smtp("bob@x"), smtp("ANN@x", spool::recipient_kind::bcc),
                                  smtp("ann@x", spool::recipient_kind::cc), fax("ann@x")}))
                  .value();
    auto queued = client.open(id).value();
    REQUIRE(queued.recipients.size() == 3); // ann by SMTP, bob, and ann's fax number is another address
    CHECK(queued.recipients[0].address == "ann@x");
    CHECK(queued.recipients[0].kind == spool::recipient_kind::cc); // the most visible kind wins
    sp.drain();
    CHECK(transport.deliveries().size() == 3);
}

TEST_CASE("submit sets the preprocess flag only when a composed preprocessor applies") {
    auto log = std::make_shared<std::vector<std::string>>();
    spool::memory_store store;
    spool::memory_transport transport;
    spool_test::logging_preprocessor fax_cover{"fax-cover", {"FAX"}, log};
    spool::spooler sp{store, transport, fax_cover};
    auto client = sp.client();

    auto plain = client.send(mail({smtp("a@x")})).value();
    auto faxed = client.send(mail({smtp("a@x"), fax("+15550100")})).value();
    CHECK(client.open(plain).value().submission == spool::submit_flags::none);
    CHECK(client.open(faxed).value().submission == spool::submit_flags::preprocess);
    auto q = store.outgoing_queue();
    REQUIRE(q.size() == 2);
    CHECK(q[1].submission == spool::submit_flags::preprocess);
}

// --- Access rules ------------------------------------------------------------

TEST_CASE_METHOD(spool_test::rig, "a draft can be opened for modification and saved") {
    auto id = client.create(mail({smtp("a@x")}, "first")).value();
    auto draft = client.open(id, spool::access::modify).value();
    draft.payload.subject = "second";
    REQUIRE_FALSE(client.save(id, draft));
    CHECK(client.open(id).value().payload.subject == "second");
}

TEST_CASE_METHOD(spool_test::rig, "a queued message opens read-only, and refuses modification") {
    auto id = client.send(mail({smtp("a@x")})).value();
    CHECK(client.open(id, spool::access::modify).error() == spool::errc::submitted);
    CHECK(client.open(id, spool::access::read_only));
    CHECK(client.open(id, spool::access::best));
    auto copy = client.open(id).value();
    copy.payload.subject = "changed";
    CHECK(client.save(id, copy) == spool::errc::submitted);
    CHECK(client.open(id).value().payload.subject == "hello");
}

TEST_CASE("a message locked by the spooler cannot be opened, saved or aborted") {
    spool::memory_store store;
    std::error_code open_error, abort_error, save_error;
    std::optional<spool::spooler<spool::memory_store, spool_test::scripted_transport>::client_type> client;
    spool_test::scripted_transport probe{spool::address_types::any(), [&](auto& tx) {
                                             // The spooler holds the message while it transmits.
                                             const auto id = tx.message().id;
                                             open_error = client->open(id, spool::access::read_only).error();
                                             abort_error = client->abort_submit(id);
                                             save_error = client->save(id, tx.message());
                                             for (const auto& r : tx.recipients()) tx.sent(r);
                                             return spool::transmit_result::done();
                                         }};
    spool::spooler sp{store, probe};
    client = sp.client();
    auto id = client->send(mail({smtp("a@x")})).value();
    sp.drain();
    CHECK(open_error == spool::errc::no_access);
    CHECK(abort_error == spool::errc::unable_to_abort);
    CHECK(save_error == spool::errc::no_access);
    CHECK(client->open(id)); // unlocked again once finished
}

TEST_CASE_METHOD(spool_test::rig, "abort submit while unlocked returns the message to an editable draft") {
    auto id = client.send(mail({smtp("a@x")})).value();
    REQUIRE_FALSE(client.abort_submit(id));
    CHECK(store.outgoing_queue().empty());
    auto draft = client.open(id, spool::access::modify).value();
    CHECK_FALSE(draft.submitted());
    draft.payload.subject = "edited";
    REQUIRE_FALSE(client.save(id, draft));
    sp.drain();
    CHECK(transport.deliveries().empty());
    // and it can be submitted again
    REQUIRE_FALSE(client.submit(id));
    sp.drain();
    REQUIRE(transport.deliveries().size() == 1);
    CHECK(transport.deliveries()[0].subject == "edited");
}

TEST_CASE_METHOD(spool_test::rig, "abort submit of a finished or never-submitted message gives not_in_queue") {
    auto draft = client.create(mail({smtp("a@x")})).value();
    CHECK(client.abort_submit(draft) == spool::errc::not_in_queue);
    client.save(draft, mail({smtp("a@x")})); // still a draft
    auto sent = client.send(mail({smtp("b@x")})).value();
    sp.drain();
    CHECK(client.abort_submit(sent) == spool::errc::not_in_queue);
    CHECK(client.abort_submit(spool::message_id{12345}) == spool::errc::not_found);
}

TEST_CASE_METHOD(spool_test::rig, "a message waiting for a retry is unlocked, so it can be aborted") {
    transport.offline(60s);
    auto id = client.send(mail({smtp("a@x")})).value();
    sp.drain();
    CHECK(sp.locked_count() == 0);
    CHECK_FALSE(client.abort_submit(id));
    transport.online();
    clock.advance(61s);
    sp.drain();
    CHECK(transport.deliveries().empty());
}

template <class C>
concept can_reach_store = requires(C c) { c.store(); };
template <class C>
concept can_finish = requires(C c, spool::message_id id, spool::message m) { c.finish(id, m); };
template <class C>
concept can_read_queue = requires(C c) { c.outgoing_queue(); };
template <class C>
concept can_enqueue = requires(C c, spool::message_id id, spool::message m) { c.enqueue(id, m); };

TEST_CASE("operations reserved for the spooler are not part of the client API") {
    using client = decltype(std::declval<spool_test::rig&>().client);
    STATIC_REQUIRE_FALSE(can_reach_store<client>);
    STATIC_REQUIRE_FALSE(can_finish<client>);
    STATIC_REQUIRE_FALSE(can_read_queue<client>);
    STATIC_REQUIRE_FALSE(can_enqueue<client>);
    // The spooler and the store have them: the client is what stands between.
    STATIC_REQUIRE(can_reach_store<spool_test::rig::spooler_type&>);
    STATIC_REQUIRE(can_finish<spool::memory_store&>);
    STATIC_REQUIRE(can_read_queue<spool::memory_store&>);
}

TEST_CASE("a partly sent message, aborted and fixed, goes only to the recipients not yet sent when submitted as a resend") {
    spool::memory_store store;
    spool::memory_transport mail_out{{"SMTP"}};
    spool::memory_transport faxes{{"FAX"}};
    faxes.offline(60s);
    spool::manual_clock clock;
    spool::spooler sp{store, mail_out, faxes, clock};
    auto client = sp.client();
    const auto id = client.send(mail({smtp("ann@x"), spool_test::fax("+1 555 0100 wrong"), smtp("cy@x")})).value();
    sp.drain();
    REQUIRE(mail_out.deliveries().size() == 2); // ann and cy; the fax waits
    REQUIRE_FALSE(client.abort_submit(id));
    faxes.online();
    clock.advance(61s); // past the delay the fax transport asked for

    auto draft = client.open(id, spool::access::modify).value();
    for (auto& r : draft.recipients)
        if (r.address_type == "FAX") r.address = r.display_name = "+15550100";
    SECTION("with message_flags::resend: only the recipient not yet sent") {
        draft.flags |= spool::message_flags::resend;
        REQUIRE_FALSE(client.save(id, draft));
        REQUIRE_FALSE(client.submit(id));
        sp.drain();
        CHECK(mail_out.deliveries().size() == 2);
        REQUIRE(faxes.deliveries().size() == 1);
        CHECK(faxes.deliveries()[0].address == "+15550100");
        const auto done = store.load(id).value();
        CHECK(std::all_of(done.recipients.begin(), done.recipients.end(), [](const auto& r) { return r.is_sent(); }));
    }
    SECTION("without it: a new submission, to every recipient, as MAPI's client submit") {
        REQUIRE_FALSE(client.save(id, draft));
        REQUIRE_FALSE(client.submit(id));
        sp.drain();
        CHECK(mail_out.deliveries().size() == 4);
        CHECK(faxes.deliveries().size() == 1);
    }
}
