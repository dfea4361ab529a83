// The incoming side: receiving transports (polled and signalling), inbound
// enable/disable, receive folders, postprocessors, and new-mail notifications.

#include "catch.hpp"
#include "support/fixtures.hpp"

#include <spool/spool.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using spool_test::mail;
using spool_test::smtp;

namespace {

spool::message incoming(std::string subject, std::string message_class = "IPM.Note") {
    auto m = mail({smtp("me@x")}, std::move(subject));
    m.message_class = std::move(message_class);
    m.flags = spool::message_flags::read; // what a careless transport might leave set
    return m;
}

/// A transport that signals when mail waits (MAPI NOTIFY_NEWMAIL) instead of being polled.
class pushing_transport {
public:
    using spool_concept = spool::transport_tag;
    struct state {
        std::optional<spool::mail_signal> signal;
        std::deque<spool::message> waiting;
        std::vector<std::string> script; // answers for receive: "fail", "throw", "nothing"
        int receives = 0;
    };

    spool::address_types address_types() const { return {"PUSH"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>&) { return spool::transmit_result::not_me(); }

    void on_mail_waiting(spool::mail_signal s) { state_->signal = std::move(s); }
    spool::receive_result receive(spool::reception<spool::message>& r) {
        ++state_->receives;
        if (!state_->script.empty()) {
            const std::string next = state_->script.front();
            state_->script.erase(state_->script.begin());
            r.message().payload.subject = "half-filled";
            if (next == "fail") return spool::receive_result::failed("connection dropped");
            if (next == "throw") throw std::runtime_error("parser crashed");
            if (next == "nothing") return spool::receive_result::nothing();
        }
        if (state_->waiting.empty()) return spool::receive_result::nothing();
        r.message() = state_->waiting.front();
        state_->waiting.pop_front();
        return spool::receive_result::received();
    }

    void push(spool::message m) {
        state_->waiting.push_back(std::move(m));
        (*state_->signal)();
    }
    std::shared_ptr<state> state_ = std::make_shared<state>();
};

struct mail_log {
    using spool_concept = spool::observer_tag;
    std::shared_ptr<std::vector<spool::new_mail_event>> seen = std::make_shared<std::vector<spool::new_mail_event>>();
    void on_new_mail(const spool::new_mail_event& e) { seen->push_back(e); }
};

struct tagging_postprocessor {
    using spool_concept = spool::postprocessor_tag;
    std::string tag;
    std::shared_ptr<std::vector<std::string>> log;
    std::function<spool::postprocess_result(spool::postprocessing<spool::message>&)> action;

    spool::postprocess_result postprocess(spool::postprocessing<spool::message>& job) {
        log->push_back(tag);
        job.message().payload.headers.emplace_back("X-Seen-By", tag);
        return action ? action(job) : spool::postprocess_result::ok();
    }
};

} // namespace

TEST_CASE("a send-only transport has no incoming side, and a spooler without polled transports never polls") {
    STATIC_REQUIRE(spool::ReceivingTransport<spool::memory_transport>);
    STATIC_REQUIRE(spool::ReceivingTransport<pushing_transport>);
    STATIC_REQUIRE_FALSE(spool::ReceivingTransport<spool_test::scripted_transport>);
    STATIC_REQUIRE(spool::spooler<spool::memory_store, spool::memory_transport>::polls);
    STATIC_REQUIRE_FALSE(spool::spooler<spool::memory_store, pushing_transport>::polls);
    STATIC_REQUIRE_FALSE(spool::spooler<spool::memory_store, spool_test::scripted_transport>::polls);
}

TEST_CASE_METHOD(spool_test::rig, "a polled transport's mail is committed to the inbox, unread, and observers hear of it") {
    mail_log log;
    spool::spooler with_log{store, transport, clock, log};
    transport.arrive(incoming("first"));
    transport.arrive(incoming("second", ""));
    const auto report = with_log.run_once();
    CHECK(report.received == 2);

    const auto inbox = with_log.client().contents(spool::folders::inbox);
    REQUIRE(inbox.size() == 2);
    auto first = store.load(inbox[0]).value();
    CHECK(first.payload.subject == "first");
    CHECK_FALSE(spool::has(first.flags, spool::message_flags::read));
    CHECK(spool::has(first.flags, spool::message_flags::unmodified));
    CHECK(store.load(inbox[1]).value().message_class == "IPM.Note"); // an empty class becomes IPM.Note

    REQUIRE(log.seen->size() == 2);
    CHECK((*log.seen)[0].id == inbox[0]);
    CHECK((*log.seen)[0].folder == spool::folders::inbox);
    CHECK((*log.seen)[0].message_class == "IPM.Note");
    CHECK((*log.seen)[0].flags == first.flags);
    CHECK(with_log.stats().messages_received == 2);
}

TEST_CASE("a signalling transport's mail is taken when it signals, and wakes the background spooler") {
    spool::memory_store store;
    pushing_transport push;
    spool::spooler sp{store, push};
    sp.start();
    push.push(incoming("pushed"));
    const auto limit = std::chrono::steady_clock::now() + 60s;
    while (store.contents(spool::folders::inbox).empty() && std::chrono::steady_clock::now() < limit)
        std::this_thread::sleep_for(1ms);
    sp.stop();
    REQUIRE(store.contents(spool::folders::inbox).size() == 1);
    CHECK(push.state_->receives == 2); // the message, then "nothing more"
}

TEST_CASE_METHOD(spool_test::rig, "while inbound is disabled no mail is taken, and enabling takes what waits") {
    pushing_transport push;
    spool::spooler both{store, transport, push, clock};
    both.disable_inbound();
    transport.arrive(incoming("polled"));
    push.push(incoming("pushed"));
    const auto polls_before = transport.polls();
    both.drain();
    CHECK(store.contents(spool::folders::inbox).empty());
    CHECK(transport.polls() == polls_before); // not even asked
    CHECK(push.state_->receives == 0);

    both.enable_inbound();
    CHECK(both.drain().received == 2);
    CHECK(store.contents(spool::folders::inbox).size() == 2);
}

TEST_CASE_METHOD(spool_test::rig, "the receive folder is chosen by the longest class prefix") {
    const spool::folder_id samples{10}, simple{11}, faxes{12};
    sp.receive_folders().associate("IPM.Note.Sample", samples);
    sp.receive_folders().associate("ipm.note.sample.simple", simple); // classes compare without case
    sp.receive_folders().associate("IPM.Fax", faxes);
    CHECK(sp.receive_folders().folder_for("IPM.Note.Sample.Simple.Extra") == simple);
    CHECK(sp.receive_folders().folder_for("IPM.Note.Sample.Other") == samples);
    CHECK(sp.receive_folders().folder_for("IPM.Note.Samples") == spool::folders::inbox); // not at a '.' boundary
    CHECK(sp.receive_folders().folder_for("IPM.Note") == spool::folders::inbox);
    CHECK_FALSE(sp.receive_folders().remove("")); // the default always exists
    CHECK(sp.receive_folders().remove("IPM.Fax"));
    CHECK(sp.receive_folders().folder_for("IPM.Fax") == spool::folders::inbox);

    transport.arrive(incoming("s", "IPM.Note.Sample.Simple"));
    transport.arrive(incoming("o", "IPM.Note.Sample.Other"));
    sp.drain();
    CHECK(store.contents(simple).size() == 1);
    CHECK(store.contents(samples).size() == 1);
}

TEST_CASE("a message the transport fails to fill is not committed, and taking mail goes on next pass") {
    spool::memory_store store;
    pushing_transport push;
    mail_log log;
    spool::spooler sp{store, push, log};
    push.state_->script = {"fail", "throw", "nothing"};
    push.push(incoming("real"));
    sp.run_once();        // fail
    sp.enable_inbound(); // looks at every signalling transport again
    sp.run_once();        // throw
    sp.enable_inbound();
    sp.run_once(); // nothing
    CHECK(store.contents(spool::folders::inbox).empty());
    CHECK(log.seen->empty());
    CHECK(sp.stats().receive_failures == 2);
    sp.enable_inbound();
    sp.run_once();
    REQUIRE(store.contents(spool::folders::inbox).size() == 1);
    CHECK(store.load(store.contents(spool::folders::inbox)[0]).value().payload.subject == "real");
}

TEST_CASE_METHOD(spool_test::rig, "postprocessors run in composed order and may modify, reroute or discard") {
    auto order = std::make_shared<std::vector<std::string>>();
    const spool::folder_id junk{66};
    tagging_postprocessor first{"first", order, {}};
    tagging_postprocessor router{"router", order, [&](auto& job) {
                                     if (job.message().payload.subject == "spam") job.discard();
                                     if (job.message().payload.subject == "ads") job.reroute(junk);
                                     return spool::postprocess_result::ok();
                                 }};
    mail_log log;
    spool::spooler sp2{store, transport, clock, first, router, log};
    transport.arrive(incoming("hello"));
    transport.arrive(incoming("spam"));
    transport.arrive(incoming("ads"));
    sp2.drain();
    CHECK(*order == std::vector<std::string>{"first", "router", "first", "router", "first", "router"});
    const auto inbox = store.contents(spool::folders::inbox);
    REQUIRE(inbox.size() == 1);
    const auto kept = store.load(inbox[0]).value();
    REQUIRE(kept.payload.headers.size() == 2);
    CHECK(kept.payload.headers[0].second == "first");
    CHECK(store.contents(junk).size() == 1);
    CHECK(log.seen->size() == 2); // the discarded message was never committed, so never announced
    CHECK((*log.seen)[1].folder == junk);
}

TEST_CASE_METHOD(spool_test::rig, "a failing or throwing postprocessor does not lose the message") {
    auto order = std::make_shared<std::vector<std::string>>();
    tagging_postprocessor failing{"failing", order, [](auto&) { return spool::postprocess_result::fail("virus scanner down"); }};
    tagging_postprocessor throwing{"throwing", order, [](auto&) -> spool::postprocess_result { throw std::runtime_error("oops"); }};
    spool::spooler sp2{store, transport, clock, failing, throwing};
    transport.arrive(incoming("important"));
    sp2.drain();
    REQUIRE(store.contents(spool::folders::inbox).size() == 1);
    CHECK(sp2.stats().postprocessing_failures == 2);
    CHECK(*order == std::vector<std::string>{"failing", "throwing"});
}

namespace {
/// A memory store that refuses new messages while `full` is set.
struct refusing_store : spool::memory_store {
    std::shared_ptr<bool> full = std::make_shared<bool>(false);
    spool::result<spool::message_id> create(spool::folder_id f, const spool::message& m) {
        if (*full) return spool::errc::store_failure;
        return spool::memory_store::create(f, m);
    }
};
} // namespace

TEST_CASE("a store that refuses incoming mail does not lose it: the transport keeps it until a later pass commits it") {
    refusing_store store;
    spool::memory_transport transport;
    mail_log log;
    spool::spooler sp{store, transport, log};
    transport.arrive(incoming("keep me"));
    *store.full = true;
    CHECK(sp.drain().received == 0);
    CHECK(store.contents(spool::folders::inbox).empty());
    CHECK(sp.stats().store_errors == 1);
    CHECK(sp.stats().last_store_error == spool::errc::store_failure);
    CHECK(sp.stats().receive_failures == 1); // the transport answered failed, and kept the mail
    CHECK(transport.mail_waiting());
    CHECK(log.seen->empty());

    *store.full = false;
    CHECK(sp.drain().received == 1);
    const auto inbox = store.contents(spool::folders::inbox);
    REQUIRE(inbox.size() == 1);
    CHECK(store.load(inbox[0]).value().payload.subject == "keep me");
    CHECK_FALSE(transport.mail_waiting());
    REQUIRE(log.seen->size() == 1);
    CHECK((*log.seen)[0].id == inbox[0]);
}

namespace {
/// A transport that saves what it receives itself, as many times as it is told.
struct saving_transport {
    using spool_concept = spool::transport_tag;
    struct state {
        std::deque<spool::message> waiting;
        int saves = 1;
        std::vector<std::error_code> results;
    };
    std::shared_ptr<state> state_ = std::make_shared<state>();
    spool::address_types address_types() const { return {"SAVE"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>&) { return spool::transmit_result::not_me(); }
    bool mail_waiting() const { return !state_->waiting.empty(); }
    spool::receive_result receive(spool::reception<spool::message>& r) {
        if (state_->waiting.empty()) return spool::receive_result::nothing();
        r.message() = state_->waiting.front();
        state_->waiting.pop_front();
        for (int i = 0; i < state_->saves; ++i) state_->results.push_back(r.save());
        return spool::receive_result::received();
    }
};
} // namespace

TEST_CASE_METHOD(spool_test::rig, "a transport that saves commits the message once, and a discarded message saves as a success") {
    saving_transport saver;
    auto order = std::make_shared<std::vector<std::string>>();
    tagging_postprocessor drop_ads{"drop", order, [](spool::postprocessing<spool::message>& job) {
                                       if (job.message().payload.subject == "ads") job.discard();
                                       return spool::postprocess_result::ok();
                                   }};
    mail_log log;
    spool::spooler sp2{store, saver, drop_ads, log};
    saver.state_->saves = 2;
    saver.state_->waiting = {incoming("hello"), incoming("ads")};
    CHECK(sp2.drain().received == 1);
    CHECK(saver.state_->results == std::vector<std::error_code>(4)); // every save() succeeded
    CHECK(*order == std::vector<std::string>{"drop", "drop"});      // postprocessed once each
    REQUIRE(store.contents(spool::folders::inbox).size() == 1);    // committed once, the ad not at all
    REQUIRE(log.seen->size() == 1);
    CHECK(sp2.stats().messages_received == 1);
}
