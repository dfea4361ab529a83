#pragma once

// What the spooler keeps per transport and per destination: how many
// hand-offs are in flight, which wait for room, the rate limit, and the
// destination's health (down after site failures, probed after a cool-down).
// Only the spooler's thread touches it. Templates on the hand-off record, so
// that what waits is typed, and so that a program whose hand-offs need none of
// this (inline dispatch) instantiates none of it.

#include <spool/delivery.hpp>
#include <spool/detail/handoff_result.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace spool::detail {

template <class Handoff>
struct destination {
    using state = destination_health::state;

    std::string key; // as the transport names it (empty: its only destination)
    std::size_t in_flight = 0;
    std::deque<Handoff*> waiting; // hand-offs held back by a limit, oldest first
    state health = state::up;
    unsigned failures = 0;     // site failures in a row
    time_point next_probe{};
    time_point next_start{};   // the rate limit's next slot
    std::string last_error;

    bool idle() const noexcept { return in_flight == 0 && waiting.empty() && health == state::up && failures == 0; }
};

/// One transport's limits and destinations.
template <class Handoff>
class lane {
public:
    using destination = detail::destination<Handoff>;

    delivery_limits limits;
    std::size_t max_in_flight = 1; // resolved from limits and the transport's shape
    bool on_workers = false;       // a synchronous transport on the spooler's worker threads
    std::size_t in_flight = 0;
    transport_state unavailable;   // retry_after: the whole transport

    destination& at(std::string_view key) {
        if (key.empty()) return unnamed();
        auto it = destinations_.find(key);
        if (it == destinations_.end()) {
            it = destinations_.emplace(std::string(key), destination{}).first;
            it->second.key = it->first;
        }
        return it->second;
    }

    /// Whether a hand-off to `d` may start now.
    bool has_room(const destination& d, time_point now) const noexcept {
        return in_flight < max_in_flight && d.in_flight < concurrency_of(d) && now >= d.next_start;
    }
    /// The per-destination limit, resolved (delivery_limits::destination_concurrency).
    std::size_t concurrency_of(const destination& d) const noexcept {
        if (limits.destination_concurrency > 0) return limits.destination_concurrency;
        return &d == unnamed_ ? max_in_flight : default_destination_concurrency;
    }
    static constexpr std::size_t default_destination_concurrency = 20; // Postfix's default_destination_concurrency_limit

    void started(destination& d, time_point now) {
        ++in_flight;
        ++d.in_flight;
        if (limits.destination_rate > 0)
            d.next_start = now + std::chrono::duration_cast<time_point::duration>(std::chrono::seconds{1}) /
                                     static_cast<long>(limits.destination_rate);
    }
    void ended(destination& d) {
        --in_flight;
        --d.in_flight;
    }

    /// A site failure: after the cohort limit in a row, down for the cool-down.
    /// True when this failure marked it down.
    bool site_failed(destination& d, time_point now, const std::string& reason) {
        ++d.failures;
        d.last_error = reason;
        if (d.health == destination::state::down) return false; // a hand-off started before it went down
        if (d.health != destination::state::probing && d.failures < std::max(limits.failed_cohort_limit, 1u)) return false;
        d.health = destination::state::down;
        d.next_probe = now + limits.cool_down;
        return true;
    }
    /// The destination answered. True when it was down or probing: it is back.
    bool answered(destination& d) {
        const bool back = d.health != destination::state::up;
        d.health = destination::state::up;
        d.failures = 0;
        return back;
    }

    /// Hand-offs held back by a limit, over all destinations; while there are
    /// none, a completion need not look for one to start.
    std::size_t waiting = 0;

    /// Of those, the ones held back only by the transport's own limit: they
    /// would start now if it had room (their destination is up, within its
    /// own limit and rate).
    std::size_t held_by_transport(time_point now) const {
        if (waiting == 0) return 0;
        std::size_t n = 0;
        for (const auto& [key, d] : destinations_) {
            if (d.waiting.empty() || d.health != destination::state::up || now < d.next_start) continue;
            const std::size_t limit = concurrency_of(d);
            n += std::min(d.waiting.size(), limit - std::min(d.in_flight, limit));
        }
        return n;
    }

    /// Calls f(destination&) for each destination with hand-offs waiting, while it returns true.
    template <class F>
    void for_each_waiting(F&& f) {
        if (waiting == 0) return;
        for (auto& [key, d] : destinations_)
            if (!d.waiting.empty() && !f(d)) return;
    }

    template <class F>
    void for_each(F&& f) const {
        for (const auto& [key, d] : destinations_) f(key, d);
    }

    /// The destination of a transport that does not name them, found once:
    /// every hand-off to such a transport goes there.
    destination& unnamed() {
        if (!unnamed_) unnamed_ = &destinations_.try_emplace(std::string{}).first->second;
        return *unnamed_;
    }

    /// An administrator's flush: the transport, if it said it was unavailable,
    /// and destinations marked down are tried at the next hand-off instead of
    /// after their wait (Postfix's flush revives dead transports and
    /// destinations too: qmgr's QMGR_REQ_FLUSH_DEAD).
    /// The destinations it probes now go into `revived`.
    void probe_now(time_point now, std::vector<std::string>& revived) {
        if (unavailable.unavailable_until > now) unavailable.unavailable_until = now; // the whole transport, after retry_after
        for (auto& [key, d] : destinations_)
            if (d.health == destination::state::down && d.next_probe > now) {
                d.next_probe = now;
                revived.push_back(key);
            }
    }

    /// Forgets destinations with nothing to remember, so a transport that
    /// sends to many domains does not keep one entry per domain forever.
    void forget_idle() {
        std::erase_if(destinations_, [&](const auto& kv) { return kv.second.idle() && &kv.second != unnamed_; });
    }

private:
    std::map<std::string, destination, std::less<>> destinations_;
    destination* unnamed_ = nullptr;
};

} // namespace spool::detail
