#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <system_error>

namespace spool::detail {

/// Counts a pass gathers without touching shared atomics, published at once by counters::add.
struct tally {
    std::size_t messages_finished = 0;
    std::size_t reports_generated = 0;
    std::size_t recipients_sent = 0;
    std::size_t recipients_failed = 0;
    std::size_t recipients_deferred = 0;
};

// What the spooler counts, from any of its threads.
struct counters {
    std::atomic<std::size_t> messages_finished{0};
    std::atomic<std::size_t> messages_received{0};
    std::atomic<std::size_t> reports_generated{0};
    std::atomic<std::size_t> recipients_sent{0};
    std::atomic<std::size_t> recipients_failed{0};
    std::atomic<std::size_t> recipients_deferred{0};
    std::atomic<std::size_t> preprocessing_failures{0};
    std::atomic<std::size_t> postprocessing_failures{0};
    std::atomic<std::size_t> receive_failures{0};
    std::atomic<std::size_t> outbound_hook_failures{0};
    std::atomic<std::size_t> observer_failures{0};
    std::atomic<std::size_t> store_errors{0};

    void add(const tally& t) {
        auto add_one = [](std::atomic<std::size_t>& c, std::size_t n) {
            if (n) c.fetch_add(n);
        };
        add_one(messages_finished, t.messages_finished);
        add_one(reports_generated, t.reports_generated);
        add_one(recipients_sent, t.recipients_sent);
        add_one(recipients_failed, t.recipients_failed);
        add_one(recipients_deferred, t.recipients_deferred);
    }

    void store_error(std::error_code ec) {
        store_errors.fetch_add(1);
        std::lock_guard g{mutex_};
        last_store_error_ = ec;
    }
    std::error_code last_store_error() const {
        std::lock_guard g{mutex_};
        return last_store_error_;
    }

private:
    mutable std::mutex mutex_;
    std::error_code last_store_error_;
};

} // namespace spool::detail
