#pragma once

// Where completed hand-offs wait for the spooler's thread, and the worker
// threads that run a synchronous transport's hand-offs when it may have more
// than one at a time. Outcomes are applied, and written, on the spooler's
// thread only: a store is never written from a transport's thread. Both are
// templates on what they carry, so that only a spooler that hands off
// concurrently instantiates them.

#include <spool/detail/wakeup.hpp>
#include <spool/transmit_handler.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace spool::detail {

template <class Handoff>
class handoff_inbox final : public handoff_sink {
public:
    using completed = std::pair<Handoff*, transmit_result>;
    /// `wake` tells the spooler's thread, until detach().
    explicit handoff_inbox(wakeup* wake) : wake_(wake) {}

    void complete(void* handoff, transmit_result&& result) noexcept override {
        std::lock_guard g{mutex_};
        done_.emplace_back(static_cast<Handoff*>(handoff), std::move(result));
        waiting_.store(true, std::memory_order_release);
        arrived_.notify_all();
        if (wake_) wake_->handoffs_done();
    }

    /// Moves what has completed into `into` (emptied first).
    void take(std::vector<completed>& into) {
        into.clear();
        // Most passes find nothing here, and then take no lock.
        if (!waiting_.load(std::memory_order_acquire)) return;
        std::lock_guard g{mutex_};
        into.swap(done_);
        waiting_.store(false, std::memory_order_relaxed);
    }

    /// Waits until something has completed or `until` passes. True if something has.
    bool wait_until(std::chrono::steady_clock::time_point until) {
        std::unique_lock l{mutex_};
        return arrived_.wait_until(l, until, [&] { return !done_.empty(); });
    }

    /// The spooler is going: a late completion lands here and wakes nobody.
    void detach() {
        std::lock_guard g{mutex_};
        wake_ = nullptr;
    }

private:
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<completed> done_;
    std::atomic<bool> waiting_{false}; // done_ is not empty
    wakeup* wake_;
};

/// Threads for synchronous transports with more than one hand-off at a time:
/// started when first needed, joined when the spooler goes, after every
/// hand-off has completed.
template <class Task>
class worker_pool {
public:

    worker_pool() = default;
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;
    ~worker_pool() {
        {
            std::lock_guard g{mutex_};
            stopping_ = true;
        }
        ready_.notify_all();
        for (std::thread& t : threads_) t.join();
    }

    void grow_to(std::size_t threads) {
        while (threads_.size() < threads) threads_.emplace_back([this] { work(); });
    }

    void post(Task t) {
        {
            std::lock_guard g{mutex_};
            tasks_.push_back(t);
        }
        ready_.notify_one();
    }

private:
    void work() {
        for (;;) {
            std::optional<Task> t;
            {
                std::unique_lock l{mutex_};
                ready_.wait(l, [&] { return stopping_ || !tasks_.empty(); });
                if (tasks_.empty()) return;
                t.emplace(std::move(tasks_.front()));
                tasks_.pop_front();
            }
            (*t)();
        }
    }

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Task> tasks_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

} // namespace spool::detail
