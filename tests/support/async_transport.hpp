#pragma once

// An asynchronous transport for tests, written as a user would write one: it
// takes hand-offs in async_transmit() and completes them on threads of its
// own after a latency, as an Asio transport completes them on its io_context.
// It records the most hand-offs it saw at once, in all and per destination
// (the domain of the address), and what it delivered.

#include <spool/spool.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace spool_test {

inline std::string domain_of(const std::string& address) {
    const auto at = address.rfind('@');
    return at == std::string::npos ? std::string{} : address.substr(at + 1);
}

class async_transport {
public:
    using spool_concept = spool::transport_tag;
    using clock = std::chrono::steady_clock;
    /// Decides a hand-off's outcome: reports recipients through tx and returns the result.
    using decide = std::function<spool::transmit_result(spool::transmission<spool::message>&)>;

    struct delivery {
        spool::message_id message{};
        std::string address;
        std::string delivery_key;
    };

    explicit async_transport(std::chrono::microseconds latency = {}, unsigned threads = 2,
                             spool::address_types types = spool::address_types::any())
        : s_(std::make_shared<state>()) {
        s_->types = std::move(types);
        s_->latency = latency;
        for (unsigned i = 0; i < threads; ++i) s_->threads.emplace_back([s = s_.get()] { s->work(); });
    }
    async_transport(const async_transport&) = default;
    async_transport& operator=(const async_transport&) = default;

    spool::address_types address_types() const { return s_->types; }
    std::string destination(const spool::recipient& r) const { return domain_of(r.address); }

    void async_transmit(spool::transmission<spool::message>& tx, spool::transmit_handler done) {
        std::lock_guard g{s_->mutex};
        ++s_->calls;
        const std::string dest = domain_of((*tx.recipients().begin()).address);
        for (const auto& r : tx.recipients())
            if (domain_of(r.address) != dest) ++s_->mixed_handoffs;
        s_->max_in_flight = std::max(s_->max_in_flight, ++s_->in_flight);
        auto& n = s_->per_destination[dest];
        s_->max_per_destination[dest] = std::max(s_->max_per_destination[dest], ++n);
        s_->queue.push_back({&tx, std::move(done), clock::now() + s_->latency, dest});
        s_->ready.notify_one();
    }

    /// Asked by the spooler's stop(): what has not completed completes now, as busy.
    void cancel_transmissions() {
        std::lock_guard g{s_->mutex};
        s_->cancelled = true;
        s_->ready.notify_all();
    }

    /// While closed, nothing completes.
    void close_gate() {
        std::lock_guard g{s_->mutex};
        s_->gate_closed = true;
    }
    void open_gate() {
        std::lock_guard g{s_->mutex};
        s_->gate_closed = false;
        s_->ready.notify_all();
    }
    void on_transmit(decide d) {
        std::lock_guard g{s_->mutex};
        s_->decider = std::move(d);
    }

    template <class F>
    auto locked(F&& f) const {
        std::lock_guard g{s_->mutex};
        return f();
    }

    std::size_t max_in_flight() const { return locked([&] { return s_->max_in_flight; }); }
    std::size_t max_per_destination(const std::string& d) const {
        return locked([&] { return s_->max_per_destination.count(d) ? s_->max_per_destination.at(d) : std::size_t{0}; });
    }
    std::size_t mixed_handoffs() const { return locked([&] { return s_->mixed_handoffs; }); }
    std::size_t calls() const { return locked([&] { return s_->calls; }); }
    std::size_t in_flight() const { return locked([&] { return s_->in_flight; }); }
    std::vector<delivery> deliveries() const { return locked([&] { return s_->delivered; }); }

    ~async_transport() {
        if (s_.use_count() > 1) return;
        {
            std::lock_guard g{s_->mutex};
            s_->stopping = true;
            s_->ready.notify_all();
        }
        for (auto& t : s_->threads) t.join();
    }

private:
    struct pending {
        spool::transmission<spool::message>* tx;
        spool::transmit_handler done;
        clock::time_point due;
        std::string destination;
    };
    struct state {
        spool::address_types types = spool::address_types::any();
        std::chrono::microseconds latency{};
        mutable std::mutex mutex;
        std::condition_variable ready;
        std::deque<pending> queue;
        std::vector<std::thread> threads;
        decide decider;
        bool gate_closed = false, cancelled = false, stopping = false;
        std::size_t calls = 0, in_flight = 0, max_in_flight = 0, mixed_handoffs = 0;
        std::map<std::string, std::size_t> per_destination, max_per_destination;
        std::vector<delivery> delivered;

        void work() {
            std::unique_lock l{mutex};
            for (;;) {
                if (stopping && queue.empty()) return;
                if (queue.empty() || (gate_closed && !cancelled)) {
                    ready.wait_for(l, std::chrono::milliseconds{5});
                    continue;
                }
                if (const auto due = queue.front().due; !cancelled && due > clock::now()) {
                    // A copy: while this thread waits, another may take the front away.
                    ready.wait_until(l, due);
                    continue;
                }
                pending p = std::move(queue.front());
                queue.pop_front();
                spool::transmit_result result = spool::transmit_result::busy("cancelled");
                if (!cancelled) {
                    if (decider) {
                        result = decider(*p.tx);
                    } else {
                        for (const auto& r : p.tx->recipients()) {
                            p.tx->sent(r);
                            delivered.push_back({p.tx->message().id, r.address, p.tx->delivery_key(r)});
                        }
                        result = spool::transmit_result::done();
                    }
                }
                --in_flight;
                --per_destination[p.destination];
                // Completed without the lock, as a real transport would: the
                // spooler may be waiting on its own.
                l.unlock();
                p.done(std::move(result));
                l.lock();
            }
        }
    };

    std::shared_ptr<state> s_;
};

} // namespace spool_test
