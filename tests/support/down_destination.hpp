#pragma once

// A destination that is down with a backlog behind it, beside a healthy one,
// on any store: the scenario of the hold-back tests of each store. Passes
// must not read the backlog's messages until the destination's probe, and
// once it is back they go out at once.

#include "catch.hpp"
#include "support/async_transport.hpp"
#include "support/fixtures.hpp"

#include <spool/administration.hpp>
#include <spool/spool.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace spool_test {

template <class Store>
void down_destination_with_a_backlog(Store& store, std::size_t backlog) {
    using namespace std::chrono_literals;
    auto down = std::make_shared<std::atomic<bool>>(true);
    auto calls_down = std::make_shared<std::atomic<std::size_t>>(0);
    async_transport transport{0us, 2};
    transport.on_transmit([down, calls_down](spool::transmission<spool::message>& tx) {
        const std::string dest = domain_of((*tx.recipients().begin()).address);
        if (dest == "down.example") {
            ++*calls_down;
            if (*down) return spool::transmit_result::site_failure("connection refused");
        }
        for (const auto& r : tx.recipients()) tx.sent(r);
        return spool::transmit_result::done();
    });
    spool::spooler sp{store, transport};
    sp.template limits<async_transport>({.destination_concurrency = 1, .cool_down = std::chrono::hours{1}});
    auto client = sp.client();
    std::vector<spool::message_id> backlog_ids;
    for (std::size_t i = 0; i < backlog; ++i) backlog_ids.push_back(client.send(mail({smtp("r" + std::to_string(i) + "@down.example")})).value());

    // The first hand-off finds the destination down (its message is deferred,
    // as after any failed attempt); the rest wait for its probe, an hour on.
    sp.drain();
    CHECK(*calls_down == 1);
    if constexpr (spool::AdministeredStore<Store>) {
        CHECK(store.count_queue(std::chrono::system_clock::now()).waiting == backlog - 1);
        spool::queue_filter waiting;
        waiting.state = spool::queue_state::waiting;
        const auto listed = store.list_queue(waiting, std::chrono::system_clock::now(), {}, 1);
        CHECK(listed.size() == 1);
        if (!listed.empty()) {
            CHECK(listed.front().waiting_for == "down.example");
            CHECK(listed.front().next_attempt > std::chrono::system_clock::now() + 50min);
        }
    }

    // Passes read none of the backlog: a pass with nothing new examines nothing,
    // and messages for another destination are the only ones examined.
    CHECK(sp.run_once().examined == 0);
    for (int i = 0; i < 10; ++i) REQUIRE(client.send(mail({smtp("r" + std::to_string(i) + "@healthy.example")})));
    const spool::run_report healthy = sp.drain();
    CHECK(healthy.examined == 10);
    CHECK(sp.stats().recipients_sent == 10);
    CHECK(*calls_down == 1); // and the destination was not called again

    // An administrator's flush of one of its messages probes the destination
    // now; it answers, and its whole backlog is due at once and sent.
    if constexpr (spool::AdministeredStore<Store>) {
        *down = false;
        REQUIRE(store.request(backlog_ids.front(), spool::admin_request::flush).has_value());
        sp.drain();
        sp.drain(); // the messages released when the probe was answered
        CHECK(sp.stats().recipients_sent == 10 + backlog);
        CHECK(store.count_queue(std::chrono::system_clock::now()).total == 0);
    }
}

} // namespace spool_test
