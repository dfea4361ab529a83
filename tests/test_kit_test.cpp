// spool::testing's kit for unit-testing a user's own transport and
// preprocessor without a spooler, through the public API only.

#include "catch.hpp"

#include <spool/spool.hpp>
#include <spool/testing/transport_kit.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

// A user's transport: sends to example.org, fails the blocked, leaves the rest.
struct smtp_gateway {
    using spool_concept = spool::transport_tag;
    bool down = false;
    spool::address_types address_types() const { return {"SMTP"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        if (down) return spool::transmit_result::retry_after(30s, "gateway down");
        for (const auto& r : tx.recipients()) {
            if (r.address.ends_with("@blocked.example")) tx.failed(r, "blocked", "5.7.1");
            else if (r.address.ends_with("@example.org")) tx.sent(r);
        }
        return spool::transmit_result::done();
    }
};

// A transport with a bug: it reports a recipient it was not given.
struct reports_a_stranger {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return {"SMTP"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        tx.sent(tx.message().recipients.back());
        return spool::transmit_result::done();
    }
};

// A user's preprocessor: tags the subject, refuses an empty body.
struct tagger {
    using spool_concept = spool::preprocessor_tag;
    spool::address_types address_types() const { return {"SMTP"}; }
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>& job) {
        auto& m = job.message();
        m.payload.subject = "[tagged] " + m.payload.subject;
        for (const auto& r : m.recipients)
            if (r.address.empty()) job.undeliverable(r, "no address");
        return m.payload.body.empty() ? spool::preprocess_result::fail("empty body") : spool::preprocess_result::ok();
    }
};

spool::message three_recipients() {
    spool::message m;
    m.id = spool::message_id{9};
    m.recipients = {{"Ann", "ann@example.org", "SMTP"},
                    {"Bob", "bob@blocked.example", "SMTP"},
                    {"Cy", "cy@elsewhere.net", "SMTP"},
                    {"Fax", "+15550100", "FAX"}};
    m.payload.body = "hello";
    return m;
}

} // namespace

TEST_CASE("hand_off shows what a transport sent, failed and declined") {
    smtp_gateway t;
    const auto now = spool::time_point{} + 1000s;
    const auto handed = spool::testing::hand_off(t, three_recipients(), now);
    CHECK(handed.result.what() == spool::transmit_result::kind::done);
    REQUIRE(handed.sent.size() == 1);
    CHECK(handed.sent[0].address == "ann@example.org");
    CHECK(handed.sent[0].is_sent());
    CHECK(std::get<spool::status::sent>(handed.sent[0].status).at == now);
    REQUIRE(handed.failed.size() == 1);
    CHECK(std::get<spool::status::failed>(handed.failed[0].status).diagnostic == "5.7.1");
    REQUIRE(handed.declined.size() == 1); // the FAX recipient was never given to an SMTP transport
    CHECK(handed.declined[0].address == "cy@elsewhere.net");
}

TEST_CASE("hand_off gives the transport the recipients asked for, and reports its retry_after") {
    smtp_gateway t;
    t.down = true;
    const auto handed = spool::testing::hand_off(t, three_recipients(), {}, std::vector<std::size_t>{0, 2});
    CHECK(handed.result.what() == spool::transmit_result::kind::retry_after);
    CHECK(handed.result.delay() == 30s);
    CHECK(handed.declined.size() == 2);
    CHECK(handed.sent.empty());
}

TEST_CASE("hand_off leaves settled recipients out, as the spooler does") {
    smtp_gateway t;
    auto m = three_recipients();
    m.recipients[0].status = spool::status::sent{};
    const auto handed = spool::testing::hand_off(t, m);
    CHECK(handed.sent.empty());
    CHECK(handed.failed.size() == 1);
}

TEST_CASE("hand_off surfaces a transport that reports a recipient it was not given") {
    reports_a_stranger t;
    CHECK_THROWS_AS(spool::testing::hand_off(t, three_recipients()), std::invalid_argument);
}

TEST_CASE("run_preprocessor shows the changed message, the undeliverable recipients and the result") {
    auto m = three_recipients();
    m.recipients.push_back({"Nobody", "", "SMTP"});
    const auto run = spool::testing::run_preprocessor(tagger{}, m);
    CHECK(run.applies);
    CHECK(run.result.succeeded());
    CHECK(run.message.payload.subject == "[tagged] ");
    REQUIRE(run.undeliverable.size() == 1);
    CHECK(run.undeliverable[0].reason == "no address");

    m.payload.body.clear();
    tagger kept;
    const auto failed = spool::testing::run_preprocessor(kept, m);
    CHECK_FALSE(failed.result.succeeded());
    CHECK(failed.result.reason() == "empty body");

    spool::message faxes_only;
    faxes_only.recipients = {{"Fax", "+1", "FAX"}};
    CHECK_FALSE(spool::testing::run_preprocessor(tagger{}, faxes_only).applies);
}
