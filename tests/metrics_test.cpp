// spool::metrics, an Observer: what a spooler's events and a sampled store make of it,
// read back by python3-prometheus-client's parsers (a real parser of both
// formats), and the bound on destination labels.
#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/processes.hpp"
#include "support/reports.hpp"
#include "support/temp_dir.hpp"

#include <spool/administration.hpp>
#include <spool/ops/metrics.hpp>
#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

using namespace std::chrono_literals;
using spool_test::from_ann;
using spool_test::smtp;

namespace {

// The page as the parser read it: one "name|labels|value|type" line per sample.
std::string parsed(const spool_test::temp_dir& dir, const std::string& page, spool::exposition format) {
    std::ofstream(dir.file("page")) << page;
    const auto done = spool_test::wait_for(spool_test::spawn(
        SPOOL_METRICS_PYTHON, {SPOOL_METRICS_PARSER, dir.file("page"), format == spool::exposition::prometheus ? "prometheus" : "openmetrics"},
        {}, dir.file("parsed"), dir.file("parser.err")));
    INFO(spool_test::contents_of(dir.file("parser.err")));
    REQUIRE(done.code == 0);
    return spool_test::contents_of(dir.file("parsed"));
}

bool has(const std::string& samples, const std::string& line) { return samples.find(line + "\n") != std::string::npos; }

// A transport that names each recipient's domain as its destination, and
// defers those at slow.example.
struct by_domain {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return spool::address_types{"SMTP"}; }
    std::string destination(const spool::recipient& r) const { return spool::address_domain(r.address); }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) {
            if (r.address.ends_with("@slow.example")) tx.deferred(r, "try later", "4.4.1");
            else tx.sent(r);
        }
        return spool::transmit_result::done();
    }
};

} // namespace

TEST_CASE("a spooler's numbers, rendered in both formats, read back by prometheus_client's parsers") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("spool.db"));
    spool::manual_clock clock;
    spool::metrics_options options;
    options.transport_names = {"smtp"};
    spool::metrics metrics(options);
    spool::spooler sp{store, by_domain{}, clock, metrics};
    auto client = sp.client();
    REQUIRE(client.send(from_ann({smtp("a@fast.example"), smtp("b@fast.example")})));
    REQUIRE(client.send(from_ann({smtp("c@slow.example")})));
    const auto held = client.send(from_ann({smtp("d@fast.example")})).value();
    REQUIRE(store.hold(held, clock.now()));
    clock.advance(90s); // the first two finish 90 s after their submit
    sp.drain();
    metrics.sample_queue(store, clock.now());
    metrics.sample_destinations(sp.destinations());

    for (auto format : {spool::exposition::prometheus, spool::exposition::openmetrics}) {
        const std::string page = metrics.render(format);
        INFO(page);
        const std::string samples = parsed(dir, page, format);
        CHECK(has(samples, "spool_messages_submitted_total||3|counter"));
        CHECK(has(samples, "spool_messages_finished_total|outcome=sent|1|counter"));
        CHECK(has(samples, "spool_recipients_total|destination=fast.example,outcome=sent,transport=smtp|2|counter"));
        CHECK(has(samples, "spool_recipients_total|destination=slow.example,outcome=deferred,transport=smtp|1|counter"));
        CHECK(has(samples, "spool_handoff_duration_seconds_count|transport=smtp|2|histogram"));
        CHECK(has(samples, "spool_delivery_delay_seconds_bucket|le=60.0|0|histogram"));
        CHECK(has(samples, "spool_delivery_delay_seconds_bucket|le=300.0|1|histogram"));
        CHECK(has(samples, "spool_delivery_delay_seconds_sum||90|histogram"));
        CHECK(has(samples, "spool_queue_messages|state=held|1|gauge"));
        CHECK(has(samples, "spool_queue_messages|state=deferred|1|gauge"));
        CHECK(has(samples, "spool_queue_oldest_message_age_seconds||90|gauge"));
    }
    CHECK(metrics.render(spool::exposition::openmetrics).ends_with("# EOF\n"));
}

TEST_CASE("the suppression list in the metrics: addresses listed, recipients refused at submit, and the list's length") {
    spool_test::temp_dir dir;
    spool::sqlite_store store(dir.file("spool.db"));
    spool::memory_transport transport{{"SMTP"}};
    transport.reject("gone@x.example");
    spool::manual_clock clock;
    spool::metrics metrics;
    spool::spooler sp{store, transport, clock, metrics, spool::suppression_policy{}};
    auto client = sp.client();
    REQUIRE(client.send(from_ann({smtp("gone@x.example"), smtp("ok@x.example")})));
    sp.drain();
    REQUIRE(client.send(from_ann({smtp("gone@x.example")})));
    REQUIRE(client.send(from_ann({smtp("gone@x.example")})));
    REQUIRE(store.suppress({"other@y.example", "by hand", "", clock.now(), std::nullopt, {}}) == std::error_code{});
    sp.drain();
    metrics.sample_suppression_list(store, clock.now());
    for (auto format : {spool::exposition::prometheus, spool::exposition::openmetrics}) {
        const std::string page = metrics.render(format);
        INFO(page);
        const std::string samples = parsed(dir, page, format);
        CHECK(has(samples, "spool_suppression_listed_total||1|counter"));
        CHECK(has(samples, "spool_recipients_suppressed_total||2|counter"));
        CHECK(has(samples, "spool_suppression_entries||2|gauge"));
    }
}

TEST_CASE("destinations beyond the bound share one series, and label values are escaped so a parser reads them back") {
    spool_test::temp_dir dir;
    spool::metrics_options options;
    options.max_destinations = 2;
    options.destinations = {"named.example"};
    spool::metrics metrics(options);
    const std::string odd = "we\"ird\\dest\nination";
    for (const std::string d : {"one.example", "two.example", "three.example", "four.example", "named.example"})
        metrics.on_handoff(spool::handoff_event{0, d, 1ms, 1, 0, 0});
    metrics.on_handoff(spool::handoff_event{0, odd, 1ms, 1, 0, 0});
    const std::string samples = parsed(dir, metrics.render(), spool::exposition::prometheus);
    std::set<std::string> destinations;
    std::istringstream lines(samples);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with("spool_recipients_total|")) {
            const auto from = line.find("destination=") + 12;
            destinations.insert(line.substr(from, line.find(",outcome=") - from));
        }
    CHECK(destinations == std::set<std::string>{"one.example", "two.example", "named.example", "other"});
    CHECK(has(samples, "spool_recipients_total|destination=other,outcome=sent,transport=0|3|counter"));

    spool::metrics roomy;
    roomy.on_handoff(spool::handoff_event{0, odd, 1ms, 1, 0, 0});
    CHECK(has(parsed(dir, roomy.render(spool::exposition::openmetrics), spool::exposition::openmetrics),
              "spool_recipients_total|destination=" + odd + ",outcome=sent,transport=0|1|counter"));
}

TEST_CASE("a destination label is at most max_label_bytes long, cut at a character's boundary, and still parses") {
    spool_test::temp_dir dir;
    spool::metrics metrics; // 64 bytes
    const std::string long_domain = std::string(300, 'a') + ".example";
    std::string accented; // "é" is two bytes: a cut at 61 bytes would fall inside one
    for (int i = 0; i < 40; ++i) accented += "\xc3\xa9";
    metrics.on_handoff(spool::handoff_event{0, long_domain, 1ms, 1, 0, 0});
    metrics.on_handoff(spool::handoff_event{0, accented, 1ms, 1, 0, 0});
    const std::string page = metrics.render();
    CHECK(page.find(long_domain) == std::string::npos);
    const std::string samples = parsed(dir, page, spool::exposition::prometheus);
    CHECK(has(samples, "spool_recipients_total|destination=" + std::string(61, 'a') + "...,outcome=sent,transport=0|1|counter"));
    std::string cut_accented; // 60 bytes: thirty whole characters
    for (int i = 0; i < 30; ++i) cut_accented += "\xc3\xa9";
    CHECK(has(samples, "spool_recipients_total|destination=" + cut_accented + "...,outcome=sent,transport=0|1|counter"));
}
