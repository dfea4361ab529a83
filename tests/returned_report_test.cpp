// Reports mailed back about messages this spool sent: the envelope id's MAC,
// what read_returned_report finds in reports (postfix-*.eml were captured from
// a real Postfix by tests/fixtures/returned/capture-postfix.sh; handwritten-*
// were written by hand for what that run cannot make), or refuses to find,
// and what a spooler does with them.

#include "catch.hpp"

#include <spool/smtp/envelope_id.hpp>
#include <spool/smtp/report_reader.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

const std::string secret = "a spool's own secret, kept across restarts";

// A fixture with its @ENVID@ replaced.
std::string fixture(const std::string& name, const std::string& envid) {
    std::ifstream in(std::filesystem::path(SPOOL_TEST_FIXTURES_DIR) / "returned" / name, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), {}};
    REQUIRE_FALSE(text.empty());
    const auto at = text.find("@ENVID@");
    REQUIRE(at != std::string::npos);
    return text.replace(at, 7, envid);
}

std::string upper(std::string s) {
    for (char& c : s)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return s;
}

} // namespace

TEST_CASE("an envelope id carries a MAC of the message id under the spool's secret, and only it verifies") {
    const std::string envid = spool::smtp_envelope_id(spool::message_id{42}, secret);
    CHECK(envid.rfind("spool.42.", 0) == 0);
    CHECK(envid.size() == 9 + 32);
    CHECK(envid == spool::smtp_envelope_id(spool::message_id{42}, secret)); // the same every time, in every process
    CHECK(envid != spool::smtp_envelope_id(spool::message_id{43}, secret));
    CHECK(spool::verify_envelope_id(envid, secret) == spool::message_id{42});
    CHECK(spool::verify_envelope_id(upper(envid), secret) == spool::message_id{42}); // a relay that changed its case

    CHECK_FALSE(spool::verify_envelope_id(envid, "another spool's secret"));
    std::string other_id = envid;
    other_id.replace(6, 2, "43"); // another message's id with this one's MAC
    CHECK_FALSE(spool::verify_envelope_id(other_id, secret));
    std::string flipped = envid;
    flipped.back() = flipped.back() == '0' ? '1' : '0';
    CHECK_FALSE(spool::verify_envelope_id(flipped, secret));
    for (const char* bad : {"", "spool.", "spool.42", "spool.42.", "spool..abc", "spool.x.00", "spool.-1.00",
                            "spool.99999999999999999999999.00", "other.42.0123456789abcdef0123456789abcdef"})
        CHECK_FALSE(spool::verify_envelope_id(bad, secret));
}

TEST_CASE("without a secret the envelope id is the plain spool.<id>, and nothing verifies") {
    CHECK(spool::smtp_envelope_id(spool::message_id{42}, "") == "spool.42");
    CHECK_FALSE(spool::verify_envelope_id("spool.42", ""));
    CHECK_FALSE(spool::verify_envelope_id(spool::smtp_envelope_id(spool::message_id{42}, secret), ""));
}

TEST_CASE("a Postfix bounce about a message this spool sent is read: the original, each recipient's action, code and reply") {
    const auto report = spool::read_returned_report(
        fixture("postfix-failed.eml", spool::smtp_envelope_id(spool::message_id{42}, secret)), secret);
    REQUIRE(report);
    CHECK(report->original == spool::message_id{42});
    CHECK(report->reporting_mta == "mx.a.test");
    REQUIRE(report->recipients.size() == 1);
    const auto& gone = report->recipients[0];
    CHECK(gone.address == "gone@b.test");
    CHECK(gone.action == spool::dsn_action::failed);
    CHECK(gone.status == "5.1.1");
    CHECK(gone.diagnostic ==
          "550 5.1.1 <gone@b.test>: Recipient address rejected:    User unknown in local recipient table");
    CHECK(gone.remote_mta == "127.0.0.1");

    const auto relayed = spool::read_returned_report(
        fixture("postfix-relayed.eml", spool::smtp_envelope_id(spool::message_id{42}, secret)), secret);
    REQUIRE(relayed);
    REQUIRE(relayed->recipients.size() == 1);
    CHECK(relayed->recipients[0].address == "bob@b.test");
    CHECK(relayed->recipients[0].action == spool::dsn_action::relayed); // to a server without DSN
    CHECK(relayed->recipients[0].status == "2.0.0");
}

TEST_CASE("the Original-Recipient (the ORCPT the transport sent) names the recipient before the Final-Recipient") {
    const auto report = spool::read_returned_report(
        fixture("handwritten-failed-stranger.eml", spool::smtp_envelope_id(spool::message_id{42}, secret)), secret);
    REQUIRE(report);
    REQUIRE(report->recipients.size() == 2);
    CHECK(report->recipients[0].address == "Gone@b.test"); // Final-Recipient: gone@b.test
    CHECK(report->recipients[0].remote_mta == "mx.b.test");
}

TEST_CASE("delivery and delay reports are read too, whatever the case of their field names and types") {
    const auto report = spool::read_returned_report(
        fixture("handwritten-delivered-delayed.eml", spool::smtp_envelope_id(spool::message_id{7}, secret)), secret);
    REQUIRE(report);
    CHECK(report->original == spool::message_id{7});
    REQUIRE(report->recipients.size() == 2);
    CHECK(report->recipients[0].address == "bob@b.test");
    CHECK(report->recipients[0].action == spool::dsn_action::delivered);
    CHECK(report->recipients[0].status == "2.0.0");
    CHECK(report->recipients[1].action == spool::dsn_action::delayed);
    CHECK(report->recipients[1].diagnostic == "452 4.2.2 mailbox full");
}

TEST_CASE("a report whose envelope id does not verify, or that is not a delivery status report, is not read") {
    const std::string good = spool::smtp_envelope_id(spool::message_id{42}, secret);
    CHECK_FALSE(spool::read_returned_report(fixture("postfix-failed.eml", "spool.42"), secret));
    CHECK_FALSE(spool::read_returned_report(fixture("postfix-failed.eml", spool::smtp_envelope_id(spool::message_id{42}, "guessed")), secret));
    CHECK_FALSE(spool::read_returned_report(fixture("postfix-failed.eml", good), ""));
    std::string other_kind = fixture("postfix-failed.eml", good);
    other_kind.replace(other_kind.find("report-type=delivery-status"), 27, "report-type=disposition-notification");
    CHECK_FALSE(spool::read_returned_report(other_kind, secret));
    std::string no_envid = fixture("postfix-failed.eml", good);
    no_envid.replace(no_envid.find("Original-Envelope-Id"), 20, "X-Original-Envelope");
    CHECK_FALSE(spool::read_returned_report(no_envid, secret));
    CHECK_FALSE(spool::read_returned_report("Subject: hello\r\n\r\nnot a report\r\n", secret));
}

TEST_CASE("a report larger than the limit is not parsed") {
    const std::string text = fixture("postfix-failed.eml", spool::smtp_envelope_id(spool::message_id{42}, secret));
    CHECK(spool::read_returned_report(text, secret, text.size()));
    CHECK_FALSE(spool::read_returned_report(text, secret, text.size() - 1));
}

TEST_CASE("only the blocks that name a recipient of the original are kept for it") {
    const auto report = spool::read_returned_report(
        fixture("handwritten-failed-stranger.eml", spool::smtp_envelope_id(spool::message_id{42}, secret)), secret);
    REQUIRE(report);
    spool::message original;
    original.id = spool::message_id{42};
    original.recipients = {{"", "bob@b.test", "SMTP"}, {"", "gone@B.TEST", "SMTP"}};
    const auto matched = spool::recipients_of(*report, original);
    REQUIRE(matched.size() == 1); // stranger@b.test was never a recipient
    CHECK(matched[0].first == 1);
    CHECK(matched[0].second->address == "Gone@b.test");
}

TEST_CASE("a report cut short anywhere is refused or read, never read past its end") {
    const std::string text = fixture("postfix-failed.eml", spool::smtp_envelope_id(spool::message_id{42}, secret));
    int read = 0;
    for (std::size_t n = 0; n <= text.size(); ++n)
        if (const auto r = spool::read_returned_report(std::string_view(text).substr(0, n), secret)) {
            ++read;
            CHECK(r->original == spool::message_id{42});
        }
    CHECK(read > 0); // the whole one, at least
}

// --- Applied by a spooler -------------------------------------------------------

#if SPOOL_TEST_WITH_SQLITE
#include "support/fixtures.hpp"
#include "support/reports.hpp"
#include "support/temp_dir.hpp"

#include <memory>
#include <set>
#include <vector>

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

namespace {

bool recipient_failed(const spool::sqlite_store& store, spool::message_id id, const std::string& address) {
    const auto m = store.load(id);
    REQUIRE(m);
    const auto* r = m->find_recipient(address);
    return r && r->is_failed();
}

// An SMTP relay that took the report request over (NOTIFY accepted), as
// spool's SMTP transport reports it, for every recipient.
struct relay {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return {"SMTP"}; }
    template <class Message>
    spool::transmit_result transmit(spool::transmission<Message>& tx) {
        for (const auto& r : tx.recipients()) tx.relayed(r, true);
        return spool::transmit_result::done();
    }
};

// A spool on SQLite that sends through the relay, receives from `inbox`,
// reads returned reports under `secret` and keeps a suppression list.
struct late_bounce_rig {
    spool_test::temp_dir dir;
    spool::sqlite_store store{dir.file("spool.db")};
    spool::memory_transport inbox{spool::address_types{"INBOUND"}};
    spool::spooler<spool::sqlite_store, relay, spool::memory_transport, spool::smtp_report_reader, spool::suppression_policy> sp{
        store, relay{}, inbox, spool::smtp_report_reader{secret}, spool::suppression_policy{}};

    spool::message_id sent(spool::message m) {
        const auto id = sp.client().send(std::move(m));
        REQUIRE(id);
        sp.drain();
        return *id;
    }
    // A report in `name`'s layout about message `id` arrives, as mail does, and is received.
    void returned(const std::string& name, spool::message_id id, const std::string& key = secret) {
        spool::message mail;
        mail.payload.mime = fixture(name, spool::smtp_envelope_id(id, key));
        inbox.arrive(mail);
        sp.drain();
    }
    std::size_t non_delivery_reports() {
        std::size_t n = 0;
        for (const auto& r : spool_test::reports_in(store))
            if (r.report->kind == spool::report_kind::non_delivery) ++n;
        return n;
    }
    bool listed(const std::string& address) { return store.find_suppression(address, std::chrono::system_clock::now()).value().has_value(); }
    const spool::recipient& recipient(const spool::message& m, const std::string& address) {
        const auto* r = m.find_recipient(address);
        REQUIRE(r);
        return *r;
    }
};

} // namespace

TEST_CASE_METHOD(late_bounce_rig, "a bounce mailed back fails the relayed recipient, lists it and makes a non-delivery report, once") {
    const auto id = sent(spool_test::from_ann({spool_test::smtp("gone@b.test"), spool_test::smtp("bob@b.test")}));
    REQUIRE(store.load(id).value().recipients[0].is_sent());
    returned("postfix-failed.eml", id);

    const auto original = store.load(id).value();
    const auto& gone = recipient(original, "gone@b.test");
    REQUIRE(gone.is_failed());
    const auto& failure = std::get<spool::status::failed>(gone.status);
    CHECK(failure.diagnostic == "5.1.1");
    CHECK_THAT(failure.reason, ContainsSubstring("User unknown in local recipient table"));
    CHECK_THAT(failure.reason, ContainsSubstring("reported by mx.a.test"));
    CHECK(std::get<spool::status::sent>(recipient(original, "bob@b.test").status).action ==
          spool::delivery_action::relayed_with_reports);

    CHECK(listed("gone@b.test"));
    REQUIRE(non_delivery_reports() == 1);
    for (const auto& r : spool_test::reports_in(store))
        if (r.report->kind == spool::report_kind::non_delivery) {
            REQUIRE(r.report->entries.size() == 1);
            CHECK(r.report->entries[0].address == "gone@b.test");
            CHECK(r.report->entries[0].diagnostic == "5.1.1");
            CHECK(r.recipients.at(0).address == "ann@x");
        }
    // The bounce itself is kept, as any incoming mail is, for the user to read.
    bool kept = false;
    for (auto mid : store.contents(spool::folders::inbox))
        kept = kept || store.load(mid).value().payload.mime.find("Undelivered Mail Returned") != std::string::npos;
    CHECK(kept);

    returned("postfix-failed.eml", id); // the same bounce again
    CHECK(non_delivery_reports() == 1);
    CHECK(store.load(id).value() == original);
}

TEST_CASE_METHOD(late_bounce_rig, "a block about an address that was never a recipient of the message changes nothing") {
    const auto id = sent(spool_test::from_ann({spool_test::smtp("gone@b.test"), spool_test::smtp("bob@b.test")}));
    returned("handwritten-failed-stranger.eml", id);
    CHECK(recipient(store.load(id).value(), "gone@b.test").is_failed()); // named as Gone@b.test: the same address
    CHECK(listed("gone@b.test"));
    CHECK_FALSE(listed("stranger@b.test"));
    CHECK(non_delivery_reports() == 1);
}

TEST_CASE_METHOD(late_bounce_rig, "Postfix's report that it relayed the message to a server without DSN changes nothing") {
    const auto id = sent(spool_test::from_ann({spool_test::smtp("bob@b.test")}));
    const auto before = store.load(id).value();
    returned("postfix-relayed.eml", id);
    CHECK(store.load(id).value() == before);
}

TEST_CASE_METHOD(late_bounce_rig, "a delivery report mailed back turns a relayed recipient into a delivered one") {
    const auto id = sent(spool_test::from_ann({spool_test::smtp("bob@b.test"), spool_test::smtp("slow@b.test")}));
    returned("handwritten-delivered-delayed.eml", id);
    const auto original = store.load(id).value();
    CHECK(std::get<spool::status::sent>(recipient(original, "bob@b.test").status).action == spool::delivery_action::delivered);
    // A delay says nothing the spool must record: the next hop keeps trying.
    CHECK(std::get<spool::status::sent>(recipient(original, "slow@b.test").status).action ==
          spool::delivery_action::relayed_with_reports);
    CHECK(non_delivery_reports() == 0);
}

TEST_CASE_METHOD(late_bounce_rig, "a bounce whose envelope id does not verify changes nothing, and is kept as it came") {
    const auto id = sent(spool_test::from_ann({spool_test::smtp("gone@b.test")}));
    const auto before = store.load(id).value();
    returned("postfix-failed.eml", id, "a guessed secret");
    CHECK(store.load(id).value() == before);
    CHECK_FALSE(listed("gone@b.test"));
    CHECK(non_delivery_reports() == 0);
    CHECK(store.contents(spool::folders::inbox).size() == 1); // delivered to the inbox like other mail
}

TEST_CASE_METHOD(late_bounce_rig, "a bounce for a sender that suppressed non-delivery reports fails and lists the recipient, with no report") {
    auto m = spool_test::from_ann({spool_test::smtp("gone@b.test")});
    m.reports.non_delivery_suppressed = true;
    const auto id = sent(m);
    returned("postfix-failed.eml", id);
    CHECK(recipient(store.load(id).value(), "gone@b.test").is_failed());
    CHECK(listed("gone@b.test"));
    CHECK(non_delivery_reports() == 0);
}

TEST_CASE_METHOD(late_bounce_rig, "a bounce about a message that is gone feeds only the suppression list") {
    auto m = spool_test::from_ann({spool_test::smtp("gone@b.test")});
    m.sent_mail = spool::disposition::delete_after_submit{};
    const auto id = sent(m);
    REQUIRE_FALSE(store.load(id));
    returned("handwritten-failed-stranger.eml", id);
    // As the report's Original-Recipient writes it (the local part's case is
    // kept, docs/suppression.md): there is no recipient of the original to take it from.
    CHECK(listed("Gone@b.test"));
    CHECK(listed("stranger@b.test")); // nor to check the report against
    CHECK(non_delivery_reports() == 0);
}
#endif

#if SPOOL_TEST_WITH_SQLITE
namespace {
// A postprocessor composed after the reader: what it sees of each incoming message.
struct recorder {
    using spool_concept = spool::postprocessor_tag;
    std::shared_ptr<std::vector<std::string>> seen = std::make_shared<std::vector<std::string>>();
    spool::postprocess_result postprocess(spool::postprocessing<spool::message>& job) {
        seen->push_back(job.message().payload.mime);
        return spool::postprocess_result::ok();
    }
};

} // namespace

TEST_CASE("the postprocessors after the reader see every incoming message as it came, a recognised report too") {
    spool_test::temp_dir dir;
    spool::sqlite_store store{dir.file("spool.db")};
    spool::memory_transport inbox{spool::address_types{"INBOUND"}};
    recorder after;
    spool::spooler sp{store, relay{}, inbox, spool::smtp_report_reader{secret}, after};
    const auto id = sp.client().send(spool_test::from_ann({spool_test::smtp("gone@b.test")}));
    REQUIRE(id);
    sp.drain();
    const std::string recognised = fixture("postfix-failed.eml", spool::smtp_envelope_id(*id, secret));
    const std::string forged = fixture("postfix-failed.eml", spool::smtp_envelope_id(*id, "guessed"));
    for (const std::string& text : {recognised, forged}) {
        spool::message mail;
        mail.payload.mime = text;
        inbox.arrive(mail);
    }
    sp.drain();
    // The first mailed-back message, the non-delivery report it made (which
    // has no MIME text of its own), and the second.
    REQUIRE(after.seen->size() == 3);
    CHECK((*after.seen)[0] == recognised);
    CHECK((*after.seen)[1].empty());
    CHECK((*after.seen)[2] == forged);
    CHECK(recipient_failed(store, *id, "gone@b.test"));
}

TEST_CASE("a bounce about a message still queued for other recipients is applied, and its later passes keep it") {
    spool_test::temp_dir dir;
    spool::sqlite_store store{dir.file("spool.db")};
    spool::memory_transport inbox{spool::address_types{"INBOUND"}};
    spool::manual_clock clock;
    spool_test::greylisting relay_and_wait;
    relay_and_wait.relays = true;
    relay_and_wait.waiting->insert("later@b.test");
    spool::spooler sp{store, relay_and_wait, inbox, clock, spool::smtp_report_reader{secret}};
    const auto id = sp.client().send(spool_test::from_ann({spool_test::smtp("gone@b.test"), spool_test::smtp("later@b.test")}));
    REQUIRE(id);
    sp.drain();
    REQUIRE(store.outgoing_queue().size() == 1);

    spool::message mail;
    mail.payload.mime = fixture("postfix-failed.eml", spool::smtp_envelope_id(*id, secret));
    inbox.arrive(mail);
    sp.drain();
    CHECK(recipient_failed(store, *id, "gone@b.test"));

    relay_and_wait.waiting->clear();
    clock.advance(std::chrono::seconds{600});
    sp.drain();
    CHECK(store.outgoing_queue().empty());
    CHECK(recipient_failed(store, *id, "gone@b.test")); // the pass that finished it kept the failure
    std::size_t ndr_entries = 0;
    for (const auto& r : spool_test::reports_in(store))
        if (r.report->kind == spool::report_kind::non_delivery) ndr_entries += r.report->entries.size();
    CHECK(ndr_entries == 1);
}
#endif

#if SPOOL_TEST_WITH_SQLITE
TEST_CASE("on a queue shared by processes, a bounce about a message still queued is applied under a claim, let go after") {
    spool_test::temp_dir dir;
    spool::sqlite_options shared;
    shared.shared_queue = true;
    spool::sqlite_store store{dir.file("spool.db"), shared};
    spool::sqlite_store other{dir.file("spool.db"), shared}; // another process's spooler
    spool::memory_transport inbox{spool::address_types{"INBOUND"}};
    spool_test::greylisting relay_and_wait;
    relay_and_wait.relays = true;
    relay_and_wait.waiting->insert("later@b.test");
    spool::spooler sp{store, relay_and_wait, inbox, spool::smtp_report_reader{secret}, spool::suppression_policy{}};
    const auto id = sp.client().send(spool_test::from_ann({spool_test::smtp("gone@b.test"), spool_test::smtp("later@b.test")}));
    REQUIRE(id);
    sp.drain();
    REQUIRE(store.outgoing_queue().size() == 1);

    spool::message mail;
    mail.payload.mime = fixture("handwritten-failed-stranger.eml", spool::smtp_envelope_id(*id, secret));
    inbox.arrive(mail);
    sp.drain();
    CHECK(recipient_failed(store, *id, "gone@b.test"));
    CHECK(store.load(*id).value().find_recipient("later@b.test")->is_deferred());
    const auto now = std::chrono::system_clock::now();
    CHECK(store.find_suppression("gone@b.test", now).value().has_value());
    CHECK_FALSE(store.find_suppression("stranger@b.test", now).value().has_value()); // never a recipient
    CHECK(store.returned_backlog(10).value().empty());
    CHECK(other.claim(*id).value()); // the claim it changed the message under is let go
}
#endif

#if SPOOL_TEST_WITH_SQLITE
TEST_CASE("on a shared queue, a bounce about a message another process holds is kept, then applied over that process's outcome") {
    spool_test::temp_dir dir;
    spool::sqlite_options shared;
    shared.shared_queue = true;
    spool::sqlite_store store{dir.file("spool.db"), shared};
    spool::sqlite_store other{dir.file("spool.db"), shared}; // another process's spooler
    spool::memory_transport inbox{spool::address_types{"INBOUND"}};
    spool::manual_clock clock;
    spool_test::greylisting relay_and_wait;
    relay_and_wait.relays = true;
    relay_and_wait.waiting->insert("later@b.test");
    spool::spooler sp{store, relay_and_wait, inbox, clock, spool::smtp_report_reader{secret}, spool::suppression_policy{}};
    const auto id = sp.client().send(spool_test::from_ann({spool_test::smtp("gone@b.test"), spool_test::smtp("later@b.test")}));
    REQUIRE(id);
    sp.drain();
    REQUIRE(store.outgoing_queue().size() == 1);

    // The other process claims it for its retry and reads it.
    const auto claimed = other.claim_due(clock.now() + std::chrono::hours{1}, 10);
    REQUIRE(claimed.size() == 1);
    REQUIRE(claimed.front().id == *id);
    spool::message held = other.load(*id).value();
    const spool::message before = held;

    spool::message mail;
    mail.payload.mime = fixture("postfix-failed.eml", spool::smtp_envelope_id(*id, secret));
    inbox.arrive(mail);
    sp.drain();
    CHECK(store.load(*id).value() == before); // not written under the holder
    CHECK(store.find_suppression("gone@b.test", clock.now()).value().has_value());
    REQUIRE(store.returned_backlog(10).value().size() == 1);

    // Its hand-off relays the other recipient; it writes that as the holder, and lets go.
    auto* later = held.find_recipient("later@b.test");
    later->status = spool::status::sent{clock.now(), spool::delivery_action::relayed};
    REQUIRE_FALSE(other.save(*id, held));
    REQUIRE_FALSE(other.retain_leases({}));

    clock.advance(std::chrono::seconds{2});
    sp.drain();
    const spool::message after = store.load(*id).value();
    CHECK(after.find_recipient("gone@b.test")->is_failed());
    CHECK(after.find_recipient("later@b.test")->status == held.find_recipient("later@b.test")->status); // its outcome kept
    CHECK(store.returned_backlog(10).value().empty());
    std::size_t ndr_entries = 0;
    for (const auto& r : spool_test::reports_in(store))
        if (r.report->kind == spool::report_kind::non_delivery) ndr_entries += r.report->entries.size();
    CHECK(ndr_entries == 1);
}
#endif

#if SPOOL_TEST_WITH_SQLITE
TEST_CASE("a report the spool made itself is never applied as one mailed back, whatever a postprocessor says of it") {
    spool_test::temp_dir dir;
    spool::sqlite_store store{dir.file("spool.db")};
    spool::memory_transport inbox{spool::address_types{"INBOUND"}};
    spool_test::returned_report_reader reader; // takes every message for a report mailed back
    // What the store keeps for later whenever new mail is announced, the report made too.
    struct backlog_watcher {
        using spool_concept = spool::observer_tag;
        const spool::sqlite_store* store;
        std::shared_ptr<std::vector<std::size_t>> kept = std::make_shared<std::vector<std::size_t>>();
        void on_new_mail(const spool::new_mail_event&) { kept->push_back(store->returned_backlog(10).value().size()); }
    } watcher{&store};
    spool::spooler sp{store, relay{}, inbox, reader, watcher};
    const auto id = sp.client().send(spool_test::from_ann({spool_test::smtp("gone@b.test")}));
    REQUIRE(id);
    sp.drain();
    *reader.report = {*id, "mx.b.test", {{"gone@b.test", spool::dsn_action::failed, "5.1.1", "550 5.1.1 no such user", ""}}};

    inbox.arrive(spool::message{});
    sp.drain(); // its non-delivery report reaches the inbox through the same postprocessor
    CHECK(recipient_failed(store, *id, "gone@b.test"));
    CHECK(store.returned_backlog(10).value().empty());
    CHECK(*watcher.kept == std::vector<std::size_t>{0, 0}); // the report made, then the bounce: nothing kept
    std::size_t ndrs = 0;
    for (const auto& r : spool_test::reports_in(store)) ndrs += r.report->kind == spool::report_kind::non_delivery ? 1 : 0;
    CHECK(ndrs == 1);
    CHECK(sp.stats().store_errors == 0);
}
#endif

#if SPOOL_TEST_WITH_SQLITE
namespace {
// A SQLite store that refuses suppression entries while told to.
struct refusing_store : spool::sqlite_store {
    using spool::sqlite_store::sqlite_store;
    std::shared_ptr<bool> refuse = std::make_shared<bool>(false);
    std::error_code suppress(const spool::suppression_entry& e) {
        if (*refuse) return spool::errc::store_failure;
        return spool::sqlite_store::suppress(e);
    }
};
} // namespace

TEST_CASE("a bounce whose writes the store refuses records nothing, stays with its transport, and is applied on a later pass") {
    spool_test::temp_dir dir;
    refusing_store store{dir.file("spool.db")};
    spool::memory_transport inbox{spool::address_types{"INBOUND"}};
    spool::spooler sp{store, relay{}, inbox, spool::smtp_report_reader{secret}, spool::suppression_policy{}};
    const auto id = sp.client().send(spool_test::from_ann({spool_test::smtp("gone@b.test")}));
    REQUIRE(id);
    sp.drain();
    const auto before = store.load(*id).value();
    const auto inbox_before = store.contents(spool::folders::inbox).size();

    spool::message mail;
    mail.payload.mime = fixture("postfix-failed.eml", spool::smtp_envelope_id(*id, secret));
    inbox.arrive(mail);
    *store.refuse = true;
    sp.drain();
    CHECK(store.load(*id).value() == before);
    CHECK(store.contents(spool::folders::inbox).size() == inbox_before); // neither the report nor the bounce
    CHECK(sp.stats().store_errors >= 1);

    *store.refuse = false;
    sp.drain(); // the transport kept it: taken again
    CHECK(recipient_failed(store, *id, "gone@b.test"));
    std::size_t ndrs = 0;
    for (const auto& r : spool_test::reports_in(store)) ndrs += r.report->kind == spool::report_kind::non_delivery ? 1 : 0;
    CHECK(ndrs == 1);
}
#endif

#if SPOOL_TEST_WITH_SQLITE
namespace {
struct watcher {
    using spool_concept = spool::observer_tag;
    std::shared_ptr<std::vector<std::string>> seen = std::make_shared<std::vector<std::string>>();
    void on_recipient_status(const spool::recipient_status_event& e) {
        if (e.recipient.is_failed()) seen->push_back("failed " + e.recipient.address);
    }
    void on_suppression(const spool::suppression_event& e) { seen->push_back("listed " + e.address); }
    void on_new_mail(const spool::new_mail_event& e) { seen->push_back("new mail " + e.message_class); }
};
} // namespace

TEST_CASE("observers hear of the recipient a returned report failed, the address it listed and the report it made") {
    spool_test::temp_dir dir;
    spool::sqlite_store store{dir.file("spool.db")};
    spool::memory_transport inbox{spool::address_types{"INBOUND"}};
    watcher w;
    spool::spooler sp{store, relay{}, inbox, spool::smtp_report_reader{secret}, spool::suppression_policy{}, w};
    const auto id = sp.client().send(spool_test::from_ann({spool_test::smtp("gone@b.test")}));
    REQUIRE(id);
    sp.drain();
    w.seen->clear();
    spool::message mail;
    mail.payload.mime = fixture("postfix-failed.eml", spool::smtp_envelope_id(*id, secret));
    inbox.arrive(mail);
    sp.drain();
    CHECK(*w.seen == std::vector<std::string>{"failed gone@b.test", "listed gone@b.test", "new mail Report.IPM.Note.NDR",
                                              "new mail IPM.Note"});
    CHECK(sp.stats().reports_generated == 1);
}
#endif
