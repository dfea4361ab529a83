// Delivery and non-delivery reports, their RFC 3464 rendering, outbound hooks,
// and the notifications a client can subscribe to.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/reports.hpp"

#include <spool/spool.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using spool_test::fax;
using spool_test::is;
using spool_test::mail;
using spool_test::smtp;
using spool_test::from_ann;
using spool_test::reports_in;

namespace {

std::size_t entries(const std::vector<spool::message>& reports, spool::report_kind kind) {
    std::size_t n = 0;
    for (const auto& r : reports)
        if (r.report->kind == kind) n += r.report->entries.size();
    return n;
}

struct event_log {
    using spool_concept = spool::observer_tag;
    std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();
    void on_new_mail(const spool::new_mail_event& e) { lines->push_back("new mail " + e.message_class); }
    void on_message_finished(const spool::message_finished_event& e) {
        lines->push_back("finished sent=" + std::to_string(e.sent) + " failed=" + std::to_string(e.failed));
    }
    void on_recipient_status(const spool::recipient_status_event& e) {
        const char* what = is<spool::status::sent>(e.recipient)       ? "sent"
                           : is<spool::status::deferred>(e.recipient) ? "deferred"
                                                                       : "failed";
        lines->push_back(e.recipient.address + " " + what);
    }
    void on_queue_changed(const spool::queue_changed_event& e) {
        lines->push_back(e.what == spool::queue_changed_event::change::added ? "queued" : "dequeued");
    }
};

// Types from a library the user cannot edit: they take their roles from outside, by enable_*.
struct status_bar {
    std::shared_ptr<std::vector<std::string>> seen = std::make_shared<std::vector<std::string>>();
    void on_message_finished(const spool::message_finished_event&) { seen->push_back("finished"); }
};
struct archive_index {
    std::shared_ptr<std::vector<std::string>> seen = std::make_shared<std::vector<std::string>>();
    void finishing(spool::message& m) { seen->push_back("archived " + m.payload.subject); }
};
struct virus_scanner {
    std::shared_ptr<std::vector<std::string>> seen = std::make_shared<std::vector<std::string>>();
    spool::postprocess_result postprocess(spool::postprocessing<spool::message>& job) {
        seen->push_back("scanned " + job.message().payload.subject);
        return spool::postprocess_result::ok();
    }
};

} // namespace

template <>
inline constexpr bool spool::enable_observer<status_bar> = true;
template <>
inline constexpr bool spool::enable_outbound_hook<archive_index> = true;
template <>
inline constexpr bool spool::enable_postprocessor<virus_scanner> = true;

TEST_CASE_METHOD(spool_test::rig, "a delivery report when asked, a non-delivery report unless suppressed") {
    transport.reject("gone@x");
    auto asked = from_ann({smtp("bob@x"), smtp("gone@x")});
    asked.reports.delivery = true;
    client.send(asked);
    auto quiet = from_ann({smtp("cat@x"), smtp("gone@x")});
    quiet.reports.non_delivery_suppressed = true;
    client.send(quiet);
    sp.drain();

    const auto reports = reports_in(store);
    REQUIRE(reports.size() == 2); // one DR and one NDR for the first message, none for the second
    const auto& dr = reports[0];
    CHECK(dr.message_class == "Report.IPM.Note.DR");
    REQUIRE(dr.report->entries.size() == 1);
    CHECK(dr.report->entries[0].address == "bob@x");
    CHECK(dr.report->entries[0].delivered_at == clock.now());
    CHECK(dr.report->original.empty()); // a delivery report does not carry the original
    const auto& ndr = reports[1];
    CHECK(ndr.message_class == "Report.IPM.Note.NDR");
    REQUIRE(ndr.report->entries.size() == 1);
    CHECK(ndr.report->entries[0].reason == "mailbox unavailable");
    CHECK(ndr.report->entries[0].diagnostic == "5.1.1");
    CHECK(sp.stats().reports_generated == 2);
}

TEST_CASE_METHOD(spool_test::rig, "a finished message sent again is reported and counted again: submit clears the marks") {
    auto m = from_ann({smtp("bob@x")});
    m.reports.delivery = true;
    client.send(m);
    sp.drain();
    const auto sent = store.contents(spool::folders::sent_items);
    REQUIRE(sent.size() == 1);
    auto again = store.load(sent[0]).value();
    REQUIRE(again.recipients[0].reported); // the first pass decided on bob's report
    REQUIRE(client.send(again));
    sp.drain();

    const auto reports = reports_in(store);
    REQUIRE(reports.size() == 2);
    CHECK(entries(reports, spool::report_kind::delivery) == 2);
    CHECK(sp.stats().recipients_sent == 2);
    CHECK(sp.stats().messages_finished == 2);
}

namespace {
/// A memory store that can batch, refuses reports while told to, and logs its
/// writes, marking those made inside a batch.
struct report_store : spool::memory_store {
    struct record {
        bool in_batch = false;
        bool refuse_reports = false;
        std::vector<std::string> writes;
    };
    std::shared_ptr<record> log = std::make_shared<record>();

    template <class F>
    std::error_code batch(F&& f) {
        log->in_batch = true;
        f();
        log->in_batch = false;
        log->writes.push_back("commit");
        return {};
    }
    spool::result<spool::message_id> create(spool::folder_id f, const spool::message& m) {
        if (m.report && log->refuse_reports) return spool::errc::store_failure;
        log->writes.push_back(std::string(m.report ? "report" : "create") + (log->in_batch ? " in batch" : ""));
        return spool::memory_store::create(f, m);
    }
    std::error_code finish(spool::message_id id, const spool::message& m) {
        log->writes.push_back(std::string("finish") + (log->in_batch ? " in batch" : ""));
        return spool::memory_store::finish(id, m);
    }
};

/// A message queued whose one recipient the transport rejects: a
/// non-delivery report is due when the spooler drains.
struct rejected_report_rig {
    report_store store;
    spool::memory_transport transport;
    spool::manual_clock clock;
    spool::spooler<report_store, spool::memory_transport, spool::manual_clock> sp{store, transport, clock};
    rejected_report_rig() {
        transport.reject("gone@x");
        sp.client().send(from_ann({smtp("gone@x")}));
    }
};
} // namespace

TEST_CASE_METHOD(rejected_report_rig, "a report is written in the same commit as the outcome that calls for it") {
    store.log->writes.clear();
    sp.drain();
    // One message alone is still one commit for both: a crash cannot record
    // the outcome, and with it the reported marks, without the report.
    CHECK(store.log->writes == std::vector<std::string>{"report in batch", "finish in batch", "commit"});
    CHECK(reports_in(store).size() == 1);
}

TEST_CASE_METHOD(rejected_report_rig, "a report the store refuses keeps the message queued, and it is reported on a later pass") {
    store.log->refuse_reports = true;
    const auto first = sp.drain();
    CHECK(first.store_errors == 1);
    CHECK(first.finished == 0);
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(reports_in(store).empty());
    CHECK(sp.locked_count() == 1); // its outcome kept, to be written again after the pause
    CHECK(sp.stats().reports_generated == 0);

    store.log->refuse_reports = false;
    clock.advance(1s); // the pause a failed write earns
    sp.drain();
    CHECK(sp.stats().messages_finished == 1);
    CHECK(sp.locked_count() == 0);
    const auto reports = reports_in(store);
    REQUIRE(reports.size() == 1);
    CHECK(entries(reports, spool::report_kind::non_delivery) == 1);
    CHECK(sp.stats().reports_generated == 1);
}

TEST_CASE_METHOD(spool_test::rig, "report requests can be set per recipient, overriding the message's") {
    transport.reject("gone@x");
    transport.reject("lost@x");
    auto m = from_ann({smtp("bob@x"), smtp("cat@x"), smtp("gone@x"), smtp("lost@x")});
    m.recipients[0].reports = spool::report_requests{true, false}; // delivery report for bob only
    m.recipients[3].reports = spool::report_requests{false, true}; // no NDR for lost@x
    client.send(m);
    sp.drain();
    const auto reports = reports_in(store);
    REQUIRE(reports.size() == 2);
    REQUIRE(reports[0].report->entries.size() == 1);
    CHECK(reports[0].report->entries[0].address == "bob@x");
    REQUIRE(reports[1].report->entries.size() == 1);
    CHECK(reports[1].report->entries[0].address == "gone@x");
}

TEST_CASE_METHOD(spool_test::rig, "a report carries what the original said and goes to report-to, else the sender") {
    transport.reject("gone@x");
    auto m = from_ann({smtp("gone@x"), smtp("bob@x", spool::recipient_kind::cc)}, "budget");
    m.priority = spool::message_priority::urgent;
    m.message_class = "IPM.Note.Budget";
    const auto submitted_at = clock.now();
    auto id = client.send(m).value();
    clock.advance(1s);
    sp.drain();
    auto ndr = reports_in(store).at(0);
    CHECK(ndr.message_class == "Report.IPM.Note.Budget.NDR");
    CHECK(ndr.priority == spool::message_priority::urgent);
    CHECK(ndr.payload.subject == "Undeliverable: budget");
    REQUIRE(ndr.recipients.size() == 1);
    CHECK(ndr.recipients[0].address == "ann@x");
    CHECK(ndr.report->original_id == id);
    CHECK(ndr.report->original_submit_time == submitted_at);
    CHECK(ndr.report->report_time == clock.now());
    REQUIRE(ndr.report->original_recipients.size() == 2);
    CHECK(ndr.report->original_recipients[1].kind == spool::recipient_kind::cc);

    auto redirected = from_ann({smtp("gone@x")});
    redirected.report_to = spool::mailbox{"Postmaster", "postmaster@x", "SMTP"};
    client.send(redirected);
    sp.drain();
    CHECK(reports_in(store).at(1).recipients[0].address == "postmaster@x");
}

TEST_CASE_METHOD(spool_test::rig, "a non-delivery report carries the original so it can be resent") {
    transport.reject("gone@x");
    client.send(from_ann({smtp("gone@x")}, "try again"));
    sp.drain();
    const auto ndr = reports_in(store).at(0);
    REQUIRE(ndr.report->original.size() == 1);
    const spool::message& original = ndr.report->original[0];
    CHECK(original.payload.subject == "try again");
    CHECK_FALSE(original.submitted());
    CHECK(is<spool::status::pending>(original.recipients[0]));

    auto fixed = original;
    fixed.recipients[0].address = "found@x";
    REQUIRE(client.send(fixed));
    sp.drain();
    CHECK(transport.deliveries().back().address == "found@x");
}

TEST_CASE_METHOD(spool_test::rig, "reports arrive through the incoming flow: class folder, postprocessors, notifications") {
    const spool::folder_id reports_folder{40};
    event_log log;
    spool::spooler sp2{store, transport, clock, log};
    sp2.receive_folders().associate("Report.IPM.Note", reports_folder);
    transport.reject("gone@x");
    sp2.client().send(from_ann({smtp("gone@x")}));
    sp2.drain();
    CHECK(reports_in(store, reports_folder).size() == 1);
    CHECK(reports_in(store).empty());
    CHECK(std::find(log.lines->begin(), log.lines->end(), "new mail Report.IPM.Note.NDR") != log.lines->end());
}

TEST_CASE_METHOD(spool_test::rig, "a deferred recipient that fails after the maximum lifetime gets exactly one report") {
    spool::exponential_backoff retry{60s, 600s, 1h};
    spool::spooler sp2{store, transport, clock, retry};
    transport.offline(20min);
    sp2.client().send(from_ann({smtp("bob@x")}));
    for (int i = 0; i < 6; ++i) {
        sp2.drain();
        CHECK(reports_in(store).empty());
        clock.advance(10min);
    }
    sp2.drain();
    sp2.drain();
    const auto reports = reports_in(store);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].report->entries.at(0).diagnostic == "5.4.7");
}

TEST_CASE_METHOD(spool_test::rig, "no duplicate reports across retries, several transports and a spooler restart") {
    spool::memory_transport faxes{{"FAX"}};
    auto m = from_ann({smtp("bob@x"), fax("+1"), smtp("gone@x")});
    m.reports.delivery = true;
    transport.reject("gone@x");
    faxes.offline(60s);
    {
        spool::spooler first{store, transport, faxes, clock};
        first.client().send(m);
        first.drain();
    } // the spooler goes away with the fax still waiting
    faxes.online();
    clock.advance(60s);
    spool::spooler second{store, transport, faxes, clock};
    second.drain();
    second.drain();
    const auto reports = reports_in(store);
    CHECK(entries(reports, spool::report_kind::delivery) == 2); // bob, then the fax number
    CHECK(entries(reports, spool::report_kind::non_delivery) == 1);
    CHECK(reports.size() == 3);
}

// --- Outbound hooks ----------------------------------------------------------------

namespace {
struct archiver {
    using spool_concept = spool::outbound_hook_tag;
    std::string name;
    std::shared_ptr<std::vector<std::string>> log;
    spool::folder_id archive{};
    void finishing(spool::message& m) {
        log->push_back(name);
        if (archive != spool::folder_id{}) m.sent_mail = spool::disposition::move_to{archive};
        if (name == "thrower") throw std::runtime_error("hook failed");
    }
};
} // namespace

TEST_CASE_METHOD(spool_test::rig, "outbound hooks run in order when a message is finished, before its disposition") {
    auto log = std::make_shared<std::vector<std::string>>();
    const spool::folder_id archive{90};
    archiver first{"first", log, {}};
    archiver thrower{"thrower", log, {}};
    archiver mover{"mover", log, archive};
    spool::spooler sp2{store, transport, clock, first, thrower, mover};
    transport.offline(30s);
    auto id = sp2.client().send(mail({smtp("a@x")})).value();
    sp2.drain();
    CHECK(log->empty()); // not finished yet
    transport.online();
    clock.advance(30s);
    sp2.drain();
    CHECK(*log == std::vector<std::string>{"first", "thrower", "mover"});
    CHECK(store.contents(archive) == std::vector<spool::message_id>{id});
    CHECK(sp2.stats().outbound_hook_failures == 1);
}

// --- Notifications ---------------------------------------------------------------------

TEST_CASE_METHOD(spool_test::rig, "observers hear of queue changes, recipient status changes and finished messages") {
    event_log log;
    spool::spooler sp2{store, transport, clock, log};
    transport.offline(30s);
    transport.reject("gone@x");
    sp2.client().send(mail({smtp("bob@x")}));
    sp2.drain();
    transport.online();
    clock.advance(30s);
    sp2.drain();
    auto aborted = sp2.client().send(mail({smtp("cat@x")})).value();
    sp2.client().abort_submit(aborted);
    sp2.client().send(mail({smtp("gone@x")}));
    sp2.drain();
    CHECK(*log.lines == std::vector<std::string>{"queued", "bob@x deferred", "bob@x sent", "finished sent=1 failed=0",
                                                 "dequeued", "queued", "dequeued", "queued", "gone@x failed",
                                                 "new mail Report.IPM.Note.NDR", "finished sent=0 failed=1", "dequeued"});
}

TEST_CASE_METHOD(spool_test::rig, "an observer that throws does not break the spooler") {
    struct broken {
        using spool_concept = spool::observer_tag;
        void on_queue_changed(const spool::queue_changed_event&) { throw std::runtime_error("UI gone"); }
        void on_message_finished(const spool::message_finished_event&) { throw 42; }
    };
    spool::spooler sp2{store, transport, broken{}};
    REQUIRE(sp2.client().send(mail({smtp("a@x")})));
    CHECK(sp2.drain().finished == 1);
    CHECK(sp2.stats().observer_failures == 3);
    CHECK(transport.deliveries().size() == 1);
}

TEST_CASE_METHOD(spool_test::rig, "observers, outbound hooks and postprocessors opted in from outside take part like tagged ones") {
    status_bar bar;
    archive_index archive;
    virus_scanner scanner;
    spool::spooler sp2{store, transport, clock, bar, archive, scanner};
    REQUIRE(sp2.client().send(mail({smtp("a@x")}, "figures")));
    spool::message arriving;
    arriving.payload.subject = "hello";
    transport.arrive(arriving);
    sp2.drain();
    CHECK(*bar.seen == std::vector<std::string>{"finished"});
    CHECK(*archive.seen == std::vector<std::string>{"archived figures"});
    CHECK(*scanner.seen == std::vector<std::string>{"scanned hello"});
}

// --- Delayed-delivery reports ---------------------------------------------------

TEST_CASE("a recipient still waiting after delay_warning gets one delayed-delivery report, with the last deferral and when it gives up") {
    spool::memory_store store;
    spool_test::greylisting grey;
    grey.waiting->insert("slow@x");
    spool::manual_clock clock;
    spool::spooler sp{store, grey, clock, spool::exponential_backoff{10min, 10min, 24h}, spool::delay_warning{1h}};
    const spool::time_point submitted = clock.now();
    REQUIRE(sp.client().send(from_ann({smtp("bob@x"), smtp("slow@x")})));
    sp.drain();
    for (int i = 1; i < 6; ++i) { // 10 to 50 minutes: not yet
        clock.advance(10min);
        sp.drain();
        CHECK(reports_in(store).empty());
    }
    clock.advance(10min); // an hour
    sp.drain();
    auto reports = reports_in(store);
    REQUIRE(reports.size() == 1);
    const auto& report = reports[0];
    CHECK(report.message_class == "Report.IPM.Note.Delayed");
    CHECK(report.payload.subject == "Delivery delayed: quarterly figures");
    CHECK(report.recipients.at(0).address == "ann@x");
    CHECK(report.report->kind == spool::report_kind::delayed);
    CHECK(report.report->original.empty()); // nothing to resend: it is still being tried
    REQUIRE(report.report->entries.size() == 1); // bob was sent at once
    const auto& e = report.report->entries[0];
    CHECK(e.address == "slow@x");
    CHECK(e.diagnostic == "4.7.1");
    CHECK(e.reason.rfind("450 4.7.1 <slow@x>", 0) == 0);
    CHECK(e.will_retry_until == submitted + 24h);

    for (int i = 0; i < 18; ++i) { // three more hours of tries: no second warning
        clock.advance(10min);
        sp.drain();
    }
    CHECK(reports_in(store).size() == 1);
    grey.waiting->clear();
    clock.advance(10min);
    CHECK(sp.drain().finished == 1);
    CHECK(reports_in(store).size() == 1); // sent: no delivery report was asked for
}

TEST_CASE("delayed-delivery reports honour the sender's requests: NOTIFY without DELAY, NEVER, per recipient and per message") {
    spool::memory_store store;
    spool_test::greylisting grey;
    for (const char* a : {"a@x", "b@x", "c@x", "d@x", "e@x"}) grey.waiting->insert(a);
    spool::manual_clock clock;
    spool::spooler sp{store, grey, clock, spool::exponential_backoff{10min, 10min, 24h}, spool::delay_warning{30min}};
    auto first = from_ann({smtp("a@x"), smtp("b@x"), smtp("c@x")}, "first");
    first.recipients[1].reports = spool::report_requests{false, false, true}; // NOTIFY=FAILURE
    first.recipients[2].reports = spool::report_requests{false, true};        // NOTIFY=NEVER
    auto second = from_ann({smtp("d@x"), smtp("e@x")}, "second");
    second.reports.delay_suppressed = true;
    second.recipients[0].reports = spool::report_requests{}; // its own request: FAILURE,DELAY
    REQUIRE(sp.client().send(first));
    REQUIRE(sp.client().send(second));
    for (int i = 0; i < 12; ++i) {
        sp.drain();
        clock.advance(10min);
    }
    const auto reports = reports_in(store);
    REQUIRE(reports.size() == 2);
    std::set<std::string> warned;
    for (const auto& r : reports) {
        CHECK(r.report->kind == spool::report_kind::delayed);
        for (const auto& e : r.report->entries) warned.insert(e.address);
    }
    CHECK(warned == std::set<std::string>{"a@x", "d@x"});
}

TEST_CASE_METHOD(spool_test::rig, "without spool::delay_warning no delayed-delivery report is made, as Postfix's default") {
    spool_test::greylisting grey;
    grey.waiting->insert("slow@x");
    spool::spooler quiet{store, grey, clock, spool::exponential_backoff{10min, 10min, 24h}};
    REQUIRE(quiet.client().send(from_ann({smtp("slow@x")})));
    for (int i = 0; i < 30; ++i) { // five hours
        quiet.drain();
        clock.advance(10min);
    }
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(reports_in(store).empty());
}

TEST_CASE("a message sent again after its delay was reported is warned of again: submit clears the mark") {
    spool::memory_store store;
    spool_test::greylisting grey;
    grey.waiting->insert("slow@x");
    spool::manual_clock clock;
    spool::spooler sp{store, grey, clock, spool::exponential_backoff{10min, 10min, 2h}, spool::delay_warning{30min}};
    auto m = from_ann({smtp("slow@x")});
    m.sent_mail = spool::disposition::leave_in_place{};
    const auto id = sp.client().send(m);
    REQUIRE(id);
    for (int i = 0; i < 14; ++i) { // past the lifetime: warned, then failed
        sp.drain();
        clock.advance(10min);
    }
    auto reports = reports_in(store);
    REQUIRE(reports.size() == 2);
    CHECK(entries(reports, spool::report_kind::delayed) == 1);
    CHECK(entries(reports, spool::report_kind::non_delivery) == 1); // the lifetime ran out
    const auto again = store.load(*id).value();
    REQUIRE(again.recipients[0].delay_reported);
    REQUIRE(sp.client().send(again)); // sent again, as a client would
    for (int i = 0; i < 5; ++i) {
        sp.drain();
        clock.advance(10min);
    }
    CHECK(entries(reports_in(store), spool::report_kind::delayed) == 2);
}
