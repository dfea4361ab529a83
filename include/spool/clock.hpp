#pragma once

#include <spool/message.hpp>
#include <spool/tags.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <string>

namespace spool {

/// The default Clock: the system's wall clock.
struct system_clock {
    using spool_concept = clock_tag;
    time_point now() const { return std::chrono::system_clock::now(); }
};

/// A Clock that moves only when told, for deterministic tests and simulations.
/// Copies share one time, so a test can keep a copy and advance the spooler's clock.
class manual_clock {
public:
    using spool_concept = clock_tag;

    explicit manual_clock(time_point start = time_point{std::chrono::hours(24 * 365 * 50)})
        : ticks_(std::make_shared<std::atomic<time_point::rep>>(start.time_since_epoch().count())) {}

    time_point now() const { return time_point{time_point::duration{ticks_->load()}}; }

    void advance(std::chrono::system_clock::duration d) { ticks_->fetch_add(d.count()); }
    void set(time_point t) { ticks_->store(t.time_since_epoch().count()); }

private:
    std::shared_ptr<std::atomic<time_point::rep>> ticks_;
};

/// `t` in UTC to the second, in ISO 8601 ("2026-12-07T10:38:39Z"): how
/// spoolctl and the dashboard show a time, so that the two agree.
inline std::string utc_text(time_point t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

} // namespace spool
