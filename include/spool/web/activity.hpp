#pragma once

// What a dashboard embedded in the spooler's process shows that no store
// keeps: what the spooler did minute by minute over the last 24 hours (the
// overview's charts), and what each destination's hand-offs did in the last
// five minutes (the destinations page). It is an observer: compose one with
// the spooler and give a copy to the dashboard (docs/web.md, "Embedded").

#include <spool/clock.hpp>
#include <spool/events.hpp>
#include <spool/tags.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace spool {

/// One minute of a spooler's work.
struct web_minute {
    time_point start{};
    std::uint64_t submitted = 0; ///< messages queued
    std::uint64_t finished = 0;  ///< messages whose every recipient is settled
    std::uint64_t sent = 0;      ///< recipients sent
    std::uint64_t deferred = 0;  ///< recipients left for a retry
    std::uint64_t failed = 0;    ///< recipients failed
    friend bool operator==(const web_minute&, const web_minute&) = default;
};

class web_activity {
public:
    using spool_concept = observer_tag;
    static constexpr std::size_t minutes_kept = 24 * 60;
    static constexpr std::size_t destination_minutes = 5;
    /// Destinations followed at once; hand-offs to others are counted in the
    /// minutes only, so a spooler with very many keeps bounded memory.
    static constexpr std::size_t max_destinations = 1024;

    /// Copies share their numbers. `now` is the clock minutes are read by
    /// (the wall clock, unless a test gives its own).
    explicit web_activity(std::function<time_point()> now = [] { return std::chrono::system_clock::now(); })
        : state_(std::make_shared<state>(std::move(now))) {}

    // --- The Observer ---------------------------------------------------------
    void on_queue_changed(const queue_changed_event& e) {
        if (e.what == queue_changed_event::change::added) count([](web_minute& m) { ++m.submitted; });
    }
    void on_message_finished(const message_finished_event&) {
        count([](web_minute& m) { ++m.finished; });
    }
    void on_handoff(const handoff_event& e) {
        const time_point now = state_->now();
        std::lock_guard g{state_->mutex};
        web_minute& m = state_->minute_at(now);
        m.sent += e.sent;
        m.deferred += e.deferred;
        m.failed += e.failed;
        const std::pair<std::size_t, std::string> key{e.transport, e.destination};
        auto it = state_->destinations.find(key);
        if (it == state_->destinations.end()) {
            if (state_->destinations.size() >= max_destinations) return;
            it = state_->destinations.emplace(key, per_destination{}).first;
        }
        web_minute& d = slot_of(it->second, now);
        d.sent += e.sent;
        d.deferred += e.deferred;
        d.failed += e.failed;
    }

    /// Adds `counts` to the minute of `at`: for a source other than this
    /// process's spooler (web_metrics_feed reads one from its metrics page).
    void add(time_point at, const web_minute& counts) {
        std::lock_guard g{state_->mutex};
        web_minute& m = state_->minute_at(at);
        m.submitted += counts.submitted;
        m.finished += counts.finished;
        m.sent += counts.sent;
        m.deferred += counts.deferred;
        m.failed += counts.failed;
    }
    /// The clock minutes are read by.
    time_point now() const { return state_->now(); }

    // --- What the dashboard reads ----------------------------------------------

    /// The last 24 hours, a minute each, oldest first, ending with the minute now.
    std::vector<web_minute> last_day() const {
        const time_point now = state_->now();
        std::lock_guard g{state_->mutex};
        std::vector<web_minute> out;
        out.reserve(minutes_kept);
        const auto current = minute_of(now);
        for (std::int64_t i = static_cast<std::int64_t>(minutes_kept) - 1; i >= 0; --i) {
            const auto want = current - i;
            const web_minute& m = state_->minutes[static_cast<std::size_t>(want) % minutes_kept];
            web_minute shown = minute_of(m.start) == want && m.start != time_point{} ? m : web_minute{};
            shown.start = start_of(want);
            out.push_back(shown);
        }
        return out;
    }

    /// Recipients a destination's hand-offs settled or deferred in the last
    /// five minutes; zeros for one not followed.
    web_minute recent(std::size_t transport, const std::string& destination) const {
        const time_point now = state_->now();
        std::lock_guard g{state_->mutex};
        web_minute sum;
        const auto it = state_->destinations.find({transport, destination});
        if (it == state_->destinations.end()) return sum;
        const auto current = minute_of(now);
        for (const web_minute& m : it->second)
            if (m.start != time_point{} && current - minute_of(m.start) < static_cast<std::int64_t>(destination_minutes)) {
                sum.sent += m.sent;
                sum.deferred += m.deferred;
                sum.failed += m.failed;
            }
        return sum;
    }

private:
    using per_destination = std::array<web_minute, destination_minutes>;
    struct state {
        explicit state(std::function<time_point()> clock) : now(std::move(clock)) {}
        std::function<time_point()> now;
        std::mutex mutex;
        std::array<web_minute, minutes_kept> minutes{};
        std::map<std::pair<std::size_t, std::string>, per_destination> destinations;

        web_minute& minute_at(time_point t) { return slot_of(minutes, t); }
    };

    static std::int64_t minute_of(time_point t) { return std::chrono::floor<std::chrono::minutes>(t.time_since_epoch()).count(); }
    static time_point start_of(std::int64_t minute) { return time_point{std::chrono::minutes{minute}}; }

    // The ring's slot for the minute of `t`, emptied first when it last held an older minute.
    template <std::size_t N>
    static web_minute& slot_of(std::array<web_minute, N>& ring, time_point t) {
        const std::int64_t minute = minute_of(t);
        web_minute& m = ring[static_cast<std::size_t>(minute) % N];
        if (m.start == time_point{} || minute_of(m.start) != minute) m = web_minute{start_of(minute)};
        return m;
    }

    template <class F>
    void count(F&& f) {
        const time_point now = state_->now();
        std::lock_guard g{state_->mutex};
        f(state_->minute_at(now));
    }

    std::shared_ptr<state> state_;
};

} // namespace spool
