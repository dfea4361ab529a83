#pragma once

// How the spooler's background thread sleeps and is woken: by a submit, by
// completed hand-offs (from any thread, through the hand-off inbox), or by a
// stop. Its own object, so that the inbox signals it without knowing the core.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace spool::detail {

/// Why the background thread's sleep ended.
enum class wake_reason { time, submit, handoffs, stop };

class wakeup {
public:
    /// A submit, or anything that wants the queue read again.
    void wake() { raise(woken_); }

    /// Hand-offs completed: the next pass applies them without reading the queue again.
    void handoffs_done() { raise(handoffs_done_); }

    /// Sleeps until woken, stopped, or `d` has passed; consumes the wake-ups,
    /// and says which came first in importance (a submit before hand-offs).
    wake_reason sleep(std::chrono::milliseconds d) {
        std::unique_lock l{mutex_};
        cv_.wait_for(l, d, [&] { return woken_.load() || stopping_.load() || handoffs_done_.load(); });
        const wake_reason why = stopping_.load()        ? wake_reason::stop
                                : woken_.load()         ? wake_reason::submit
                                : handoffs_done_.load() ? wake_reason::handoffs
                                                        : wake_reason::time;
        woken_.store(false);
        handoffs_done_.store(false);
        return why;
    }

    /// The stop signal: set under the sleeper's mutex, so a sleeper either
    /// sees it before it waits or is notified.
    void request_stop() {
        {
            std::lock_guard g{mutex_};
            stopping_.store(true);
        }
        cv_.notify_all();
    }
    bool stop_requested() const noexcept { return stopping_.load(); }
    /// Before a new background thread starts.
    void clear_stop() noexcept { stopping_.store(false); }

private:
    // A wake-up not yet consumed was notified when it was raised, and the
    // sleeper consumes it before its next pass, which then sees whatever the
    // caller did before this call: a burst of submits notifies once, and all
    // but the first take no lock.
    void raise(std::atomic<bool>& flag) {
        if (flag.load()) return;
        {
            std::lock_guard g{mutex_};
            if (flag.exchange(true)) return;
        }
        cv_.notify_all();
    }

    std::mutex mutex_;
    // A plain condition variable and a flag rather than std::jthread's stop
    // token and condition_variable_any: the same behaviour, and markedly less
    // for every user's compiler to instantiate.
    std::condition_variable cv_;
    std::atomic<bool> woken_{false};
    std::atomic<bool> handoffs_done_{false};
    std::atomic<bool> stopping_{false};
};

/// The wake-up of a spooler composed with spool::single_threaded: it has no
/// background thread to wake, so a submit signals nothing and costs nothing.
struct quiet_wakeup {
    void wake() noexcept {}
    void handoffs_done() noexcept {}
    wake_reason sleep(std::chrono::milliseconds) noexcept { return wake_reason::time; }
    void request_stop() noexcept {}
    bool stop_requested() const noexcept { return false; }
    void clear_stop() noexcept {}
};

/// The background thread of a spooler composed with spool::single_threaded: none.
struct no_thread {
    no_thread() = default;
    template <class T>
    explicit no_thread(T&&) noexcept {} // a setting it does not keep
    bool joinable() const noexcept { return false; }
};

/// The lock of a spooler composed with spool::single_threaded.
struct no_lock {
    void lock() noexcept {}
    void unlock() noexcept {}
};

} // namespace spool::detail
