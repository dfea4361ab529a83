#pragma once

#include <spool/client.hpp>
#include <spool/delivery.hpp>
#include <spool/detail/core.hpp>
#include <spool/detail/outgoing.hpp>
#include <spool/detail/policy_set.hpp>
#include <spool/run_report.hpp>
#include <spool/transmit_handler.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <exception>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace spool {

/// The spooler pipeline: one Store, any number of Transports and
/// Preprocessors, and optionally an Expander, a Clock and a RetryPolicy, in
/// any order. Transports are offered recipients, and preprocessors run, in the
/// order they are given. Pass a policy as std::ref(x) to keep ownership of x.
///
///     spool::spooler sp{spool::memory_store{}, smtp_transport{...}, fax_transport{...}};
///     auto client = sp.client();
///     client.send(message);
///     sp.start();                        // or sp.drain() for deterministic use
template <class... Policies>
class spooler {
    using policies = detail::policy_set<Policies...>;
    // One static_assert, naming the first requirement a policy misses.
    static_assert(policies::diagnose());
    using core_type = detail::core<Policies...>;
    static_assert(!policies::valid || !policies::single_threaded || core_type::plain_dispatch,
                  "spool::single_threaded: every transport must be synchronous (transmit, not async_transmit), name no "
                  "destinations and declare no max_in_flight above 1: it calls them inline, one hand-off at a time");
    static_assert(!policies::valid || !policies::template composes<suppression_policy> ||
                      SuppressionListStore<typename core_type::store_type>,
                  "spool::suppression_policy: the store keeps no suppression list (SuppressionListStore: the SQLite and "
                  "PostgreSQL stores do)");

public:
    using store_type = typename core_type::store_type;
    using message_type = typename core_type::message_type;
    using client_type = spool::client<store_type>;

    /// True when the store is also a transport; the coupled submit path exists only then.
    static constexpr bool coupled = core_type::coupled;
    /// True when some transport is polled for mail (`mail_waiting()`, MAPI
    /// LOGON_SP_POLL); only then does a pass ask. Resolved at compile time.
    static constexpr bool polls = core_type::polls;
    /// True when composed with spool::single_threaded: no background thread, no lock.
    static constexpr bool single_threaded = core_type::single_threaded;
    /// True when hand-offs are a single synchronous round per message, on the
    /// calling thread (inline_transports, single_threaded, or one transport
    /// declaring max_in_flight = 1); destinations() is then always empty.
    static constexpr bool inline_dispatch = core_type::plain_dispatch;

    /// Takes each policy as given: a copy, a move, or std::ref(x) to share x.
    template <class... Args>
        requires(sizeof...(Args) == sizeof...(Policies) && (!std::is_same_v<std::remove_cvref_t<Args>, spooler> && ...))
    explicit spooler(Args&&... policies) : core_(std::forward<Args>(policies)...), outgoing_(core_) {}
    spooler()
        requires(std::default_initializable<Policies> && ...)
        : spooler(Policies{}...) {}

    spooler(const spooler&) = delete;
    spooler& operator=(const spooler&) = delete;
    /// Stops the background thread; queued messages stay queued.
    ~spooler() { stop(); }

    client_type client() noexcept { return client_type{core_.store(), core_}; }
    store_type& store() noexcept { return core_.store(); }

    /// One pass over the outgoing queue, on the calling thread: apply the
    /// hand-offs completed since the last pass, start those a limit held back,
    /// and take every due message. Synchronous transports without worker
    /// threads are called inline, so with those (and asynchronous transports
    /// that complete inline) a pass does all its work before it returns; other
    /// hand-offs may still be in flight (run_report::in_flight).
    ///
    /// The first run (run_once(), drain() or start()) takes the store's spooler
    /// lock where the store has one (the SQLite store does), and the spooler
    /// holds it for its life: while another spooler, in this process or
    /// another, works the same database, it throws std::system_error with
    /// errc::spool_in_use, whose text names the holder's process id.
    run_report run_once() { return outgoing_.run(true); }

    /// Passes until no message is due now, no mail waits and no hand-off is in
    /// flight: it waits for every hand-off it started, from whatever thread
    /// they complete, so its result is the same however they were scheduled.
    /// Messages waiting for a later time (a retry, a rate limit, a destination's
    /// cool-down) stay queued.
    run_report drain() {
        run_report total;
        for (bool scan = true;;) {
            run_report r = outgoing_.run(scan);
            total.examined += r.examined;
            total.processed += r.processed;
            total.finished += r.finished;
            total.deferred += r.deferred;
            total.store_errors += r.store_errors;
            total.received += r.received;
            total.waiting = r.waiting;
            // The earliest of every pass: a store that lists only what is due
            // does not show a later pass the messages an earlier one deferred.
            if (r.next_due) total.next_due = total.next_due ? std::min(*total.next_due, *r.next_due) : r.next_due;
            total.in_flight = r.in_flight;
            if (outgoing_.in_flight() > 0) {
                // Something is in flight: wait for it, then apply it without reading the queue again.
                outgoing_.wait_for_completion(std::chrono::milliseconds{100});
                scan = false;
                continue;
            }
            if (scan && r.processed == 0 && r.received == 0) return total;
            scan = true;
        }
    }

    /// Runs the spooler on a background thread, woken by submits and by due
    /// retries (and, on a store that can tell, by submits from other
    /// processes). Throws as run_once() does when another spooler works the store.
    void start()
        requires(!single_threaded)
    {
        if (worker_.joinable()) return;
        outgoing_.claim(); // here, so that the caller hears of another spooler
        core_.clear_stop();
        worker_ = std::thread([this] { work(); });
    }

    /// Stops the background thread. No new message is taken; hand-offs held
    /// back by a limit are not started. Hand-offs in flight are waited for up
    /// to the stop deadline (30 s unless set), their outcomes written; then
    /// asynchronous transports with `cancel_transmissions()` are asked to cut
    /// theirs short, and stop() waits for each to complete, as each must. A
    /// synchronous transmit() cannot be interrupted: stop() waits until it
    /// returns. Recipients not settled stay queued as they were and are offered
    /// again after a restart, under the same delivery keys. Idempotent; also
    /// settles hand-offs that run_once() left in flight.
    void stop() {
        if constexpr (!single_threaded)
            if (worker_.joinable()) {
                core_.request_stop();
                worker_.join();
                worker_ = std::thread{};
            }
        if constexpr (single_threaded) outgoing_.shutdown(std::chrono::seconds{30}); // nothing is ever in flight
        else outgoing_.shutdown(stop_deadline_.load());
    }

    /// How long stop() waits for hand-offs in flight before it cancels them.
    void stop_deadline(std::chrono::milliseconds d)
        requires(!single_threaded)
    {
        stop_deadline_.store(d);
    }

    bool running() const noexcept {
        if constexpr (single_threaded) return false;
        else return worker_.joinable();
    }

    /// Whether stop() has been called and the background thread has not yet
    /// ended: a long hand-off may look at it to finish early.
    bool stopping() const noexcept { return running() && core_.stop_requested(); }

    /// Makes the background thread look at the queue now, e.g. after a
    /// transport's messaging system came back (MAPI NOTIFY_READYTOSEND).
    void wake() { core_.wake(); }

    spooler_stats stats() const {
        const auto& c = core_.counts();
        return {c.messages_finished.load(),      c.messages_received.load(),       c.reports_generated.load(),
                c.recipients_sent.load(),        c.recipients_failed.load(),       c.recipients_deferred.load(),
                c.preprocessing_failures.load(), c.postprocessing_failures.load(), c.receive_failures.load(),
                c.outbound_hook_failures.load(), c.observer_failures.load(),       c.store_errors.load(),
                c.last_store_error()};
    }

    /// Incoming mail is taken only while inbound is enabled (MAPI NOTIFY_BEGIN_INBOUND /
    /// NOTIFY_END_INBOUND); it is enabled from the start. Enabling looks at every
    /// signalling transport once, since signals raised while disabled were ignored.
    void enable_inbound() {
        core_.set_inbound(true);
        core_.for_each_transport([&](auto& t, std::size_t i) {
            if constexpr (detail::transport_signals<std::remove_cvref_t<decltype(t)>>) core_.raise_mail_signal(i);
        });
        core_.wake();
    }
    void disable_inbound() { core_.set_inbound(false); }
    bool inbound_enabled() const noexcept { return core_.inbound_enabled(); }

    /// The receive-folder table: which folder incoming messages go to, by class.
    spool::receive_folders& receive_folders() noexcept { return core_.receive_folders(); }

    /// The most messages whose outcomes one pass writes in a single store commit
    /// (64 by default; 1 writes each on its own). Only a store with batch(), such
    /// as the SQLite store, can share a commit; transports never run inside it.
    void group_commits(std::size_t limit) { outgoing_.group_commits(limit); }

    /// How often the background thread asks polled transports for mail (MAPI LOGON_SP_POLL).
    void poll_every(std::chrono::milliseconds interval)
        requires(!single_threaded)
    {
        poll_interval_ = interval;
    }

    /// Messages the spooler holds locked right now.
    std::size_t locked_count() { return core_.queue().lock_count(); }

    /// Sets the delivery limits of the composed transport of type T (the first,
    /// if several have that type). Takes effect for hand-offs started after it.
    template <class T>
    void limits(delivery_limits l) {
        static_assert(composes<T>, "spool::spooler::limits<T>: T is not one of this spooler's transports");
        for_transport<T>([&](std::size_t slot) { outgoing_.set_limits(slot, l); });
    }
    /// The delivery limits of the transport of type T, with max_in_flight resolved.
    template <class T>
    delivery_limits limits() {
        static_assert(composes<T>, "spool::spooler::limits<T>: T is not one of this spooler's transports");
        delivery_limits out;
        for_transport<T>([&](std::size_t slot) { out = outgoing_.limits(slot); });
        return out;
    }

    /// Every destination the spooler remembers (those with hand-offs in flight
    /// or waiting, or with failures), with its health. Waits for a pass in progress.
    std::vector<destination_health> destinations() { return outgoing_.destinations(); }

    /// Hand-offs in flight or held back by a limit.
    std::size_t in_flight() { return outgoing_.open_handoffs(); }

private:
    static constexpr std::chrono::milliseconds idle_wait{std::chrono::seconds{60}};

    template <class T>
    static constexpr bool composes = (std::is_same_v<detail::unwrap_t<Policies>, T> || ...);

    template <class T, class F>
    void for_transport(F&& f) {
        bool found = false;
        core_.for_each_transport([&](auto& t, std::size_t i) {
            if constexpr (std::is_same_v<std::remove_cvref_t<decltype(t)>, T>)
                if (!std::exchange(found, true)) f(policies::transport_slot[i]);
        });
    }

    void work() {
        bool scan = true;
        while (!core_.stop_requested()) {
            std::chrono::milliseconds wait = idle_wait;
            if constexpr (core_type::polls) wait = std::min(wait, poll_interval_.load());
            try {
                const run_report r = outgoing_.run(scan);
                if (r.next_due) {
                    const auto until = std::chrono::ceil<std::chrono::milliseconds>(*r.next_due - core_.now());
                    wait = std::clamp(until, std::chrono::milliseconds{0}, idle_wait);
                }
                // Leases of hand-offs in flight are renewed by a pass, so one comes in time.
                if constexpr (SharedQueueStore<store_type>)
                    if (r.in_flight > 0)
                        wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(core_.store().lease_renewal_interval()));
            } catch (...) {
                // A store that throws must not end the spooler; try again after a pause.
                wait = std::chrono::milliseconds{100};
            }
            // Woken only by completed hand-offs: apply them, without reading the queue again.
            scan = wait.count() <= 0 || idle(wait) != detail::wake_reason::handoffs;
        }
    }

    // A client in another process cannot call wake(), so where the store can
    // tell that someone else wrote to it, the idle wait looks every so often.
    static constexpr std::chrono::milliseconds other_writers_every{50};
    detail::wake_reason idle(std::chrono::milliseconds wait) {
        if constexpr (CrossProcessWakeStore<store_type>) {
            const auto until = std::chrono::steady_clock::now() + wait;
            for (;;) {
                const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
                if (left.count() <= 0) return detail::wake_reason::time;
                if (const auto why = core_.sleep(std::min(left, other_writers_every)); why != detail::wake_reason::time)
                    return why;
                if (core_.store().written_elsewhere()) return detail::wake_reason::submit;
            }
        } else {
            return core_.sleep(wait);
        }
    }

    core_type core_;
    detail::outgoing<core_type> outgoing_;
    // Settings of the background thread; a single-threaded spooler has none.
    template <class T>
    using threaded = std::conditional_t<single_threaded, detail::no_thread, T>;
    [[no_unique_address]] threaded<std::atomic<std::chrono::milliseconds>> poll_interval_{std::chrono::seconds{5}};
    [[no_unique_address]] threaded<std::atomic<std::chrono::milliseconds>> stop_deadline_{std::chrono::seconds{30}};
    [[no_unique_address]] threaded<std::thread> worker_;
};

template <class... Policies>
spooler(Policies...) -> spooler<Policies...>;

} // namespace spool
