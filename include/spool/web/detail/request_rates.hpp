#pragma once

// Requests per client address, as token buckets: a client may send `burst`
// requests at once and `rate` a second after that; one that sends faster is
// told to wait (429), so that one client cannot take the serving threads
// from the others. Buckets that have filled up again are forgotten when the
// book grows, so its memory is bounded by the clients of the last moments.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace spool::detail::web {

class request_rates {
public:
    using clock = std::chrono::steady_clock;

    request_rates(double rate, double burst) : rate_(rate), burst_(std::max(burst, 1.0)) {}

    /// Zero when `client` may go on; else how long it should wait.
    std::chrono::seconds wait_for(const std::string& client, clock::time_point now = clock::now()) {
        if (rate_ <= 0) return {};
        std::lock_guard g{mutex_};
        if (buckets_.size() >= max_clients) forget_full(now);
        auto [it, added] = buckets_.try_emplace(client, bucket{burst_, now});
        bucket& b = it->second;
        if (!added) {
            b.tokens = std::min(burst_, b.tokens + std::chrono::duration<double>(now - b.at).count() * rate_);
            b.at = now;
        }
        if (b.tokens >= 1) {
            b.tokens -= 1;
            return {};
        }
        return std::chrono::seconds{static_cast<long>((1 - b.tokens) / rate_) + 1};
    }

private:
    struct bucket {
        double tokens;
        clock::time_point at;
    };
    static constexpr std::size_t max_clients = 4096;

    void forget_full(clock::time_point now) {
        for (auto it = buckets_.begin(); it != buckets_.end();) {
            const double tokens = it->second.tokens + std::chrono::duration<double>(now - it->second.at).count() * rate_;
            it = tokens >= burst_ ? buckets_.erase(it) : std::next(it);
        }
    }

    double rate_, burst_;
    std::mutex mutex_;
    std::unordered_map<std::string, bucket> buckets_;
};

} // namespace spool::detail::web
