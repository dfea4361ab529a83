#pragma once

// The state a spooler shares with its clients: the composed policies, the
// in-memory queue state and the wake-up signal.

#include <spool/clock.hpp>
#include <spool/concepts.hpp>
#include <spool/detail/client_desk.hpp>
#include <spool/detail/counters.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/detail/policy_set.hpp>
#include <spool/detail/queue_state.hpp>
#include <spool/detail/submission.hpp>
#include <spool/error.hpp>
#include <spool/events.hpp>
#include <spool/receive_folders.hpp>
#include <spool/reception.hpp>
#include <spool/retry.hpp>

#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/integral_constant.hpp>
#include <boost/hana/tuple.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <type_traits>
#include <variant>
#include <utility>
#include <vector>

namespace spool::detail {

namespace hana = boost::hana;

/// Why the background thread's sleep ended.
enum class wake_reason { time, submit, handoffs, stop };

template <class... Ps>
class core final : public client_desk<typename policy_set<Ps...>::message_type> {
public:
    using policies = policy_set<Ps...>;
    using store_type = typename policies::store_type;
    using message_type = typename policies::message_type;
    static constexpr bool coupled = CoupledStore<store_type>;
    /// Whether some transport must be asked for mail (MAPI LOGON_SP_POLL); only then does the spooler poll.
    static constexpr bool polls = [] {
        bool any = false;
        ((any = any || (enable_transport<unwrap_t<Ps>> && transport_is_polled<unwrap_t<Ps>>)), ...);
        return any;
    }();

    /// Whether some observer listens for Event. Only then is the event made:
    /// a recipient status event copies the recipient, and comparing statuses
    /// needs every status kept from before a pass.
    template <class Event>
    static constexpr bool observed = ((plays<unwrap_t<Ps>, observer_tag> && observes_event<unwrap_t<Ps>, Event>) || ...);

    template <class... Args>
    explicit core(Args&&... args) : parts_(std::forward<Args>(args)...) {
        start_up();
    }
    // A composition that misses a requirement has had its one diagnostic
    // (spooler's static_assert); nothing here may add another, so its policies
    // are neither kept nor asked anything.
    template <class... Args>
        requires(!policies::valid)
    explicit core(Args&&...) {}
    core(const core&) = delete;
    core& operator=(const core&) = delete;

private:
    void start_up() {
        // Address types do not change while the spooler runs (a Transport and
        // Preprocessor law), so each is asked once, not once per message.
        visit_indices(std::make_index_sequence<policies::size>{}, [&]<std::size_t I>() {
            if constexpr (policies::typed[I]) types_[policies::typed_slot[I]].emplace(part<I>().address_types());
        });
        // A signalling transport raises its own flag and wakes the spooler.
        for_each_transport([&](auto& t, std::size_t i) {
            if constexpr (transport_signals<std::remove_cvref_t<decltype(t)>>)
                t.on_mail_waiting(mail_signal{[this, i] {
                    raise_mail_signal(i);
                    wake();
                }});
        });
    }

public:

    store_type& store() {
        if constexpr (policies::valid) return part<policies::store_index>();
        else return placeholder_;
    }

    time_point now() {
        if constexpr (policies::valid && policies::clock_index < policies::size) return part<policies::clock_index>().now();
        else return system_clock{}.now();
    }

    std::chrono::seconds max_lifetime() { return retry_policy().max_lifetime(); }
    /// Never zero: a zero wait would let drain() spin on one message.
    std::chrono::seconds backoff(unsigned attempts) {
        return std::max(std::chrono::seconds{retry_policy().backoff(attempts)}, std::chrono::seconds{1});
    }

    /// Whether anything composed can expand distribution lists.
    static constexpr bool expands = policies::expander_index < policies::size || expander_expands<store_type>;

    /// The members of a distribution list, or nullopt for a plain recipient:
    /// from the composed Expander, else from the store if it can expand.
    std::optional<std::vector<recipient>> expand(const recipient& r) {
        if constexpr (policies::expander_index < policies::size) return part<policies::expander_index>().expand(r);
        else if constexpr (expander_expands<store_type>) return store().expand(r);
        else return std::nullopt;
    }

    /// Calls f(policy, index) for each Transport in composed order.
    template <class F>
    void for_each_transport(F&& f) {
        // A composition that misses a requirement keeps no policies (see the
        // constructor): there is nothing to visit, and no second diagnostic.
        if constexpr (policies::valid)
            visit_indices(std::make_index_sequence<policies::size>{}, [&]<std::size_t I>() {
                if constexpr (policies::transports[I]) f(part<I>(), I);
            });
    }

    /// Calls f(policy, its address types) for each Preprocessor in composed order.
    template <class F>
    void for_each_preprocessor(F&& f) {
        visit_indices(std::make_index_sequence<policies::size>{}, [&]<std::size_t I>() {
            if constexpr (policies::preprocessors[I]) f(part<I>(), types_of(I));
        });
    }

    /// The address types of the transport or preprocessor at composed position i.
    const spool::address_types& types_of(std::size_t i) const { return *types_[policies::typed_slot[i]]; }

    /// Calls f(policy) for each policy of the role `Tag` names, in composed order.
    template <class Tag, class F>
    void for_each_of(F&& f) {
        hana::for_each(parts_, [&](auto& p) {
            if constexpr (plays<unwrap_t<decltype(p)>, Tag>) f(unwrap_ref(p));
        });
    }

    /// Tells every observer that handles this event. An observer that throws is counted, not propagated.
    template <class Event>
    void notify(const Event& e) {
        for_each_of<observer_tag>([&](auto& o) {
            using O = std::remove_cvref_t<decltype(o)>;
            if constexpr (observes_event<O, Event>)
                guarded(
                    [&] {
                        if constexpr (std::is_same_v<Event, new_mail_event>) o.on_new_mail(e);
                        else if constexpr (std::is_same_v<Event, message_finished_event>) o.on_message_finished(e);
                        else if constexpr (std::is_same_v<Event, recipient_status_event>) o.on_recipient_status(e);
                        else if constexpr (std::is_same_v<Event, queue_changed_event>) o.on_queue_changed(e);
                        else if constexpr (std::is_same_v<Event, destination_event>) o.on_destination(e);
                        else o.on_handoff(e);
                    },
                    [&](const std::string&) { counts_.observer_failures.fetch_add(1); });
        });
    }

    counters& counts() noexcept { return counts_; }
    const counters& counts() const noexcept { return counts_; }

    /// Whether a signalling transport at composed position i raised its signal; clears it.
    bool take_mail_signal(std::size_t i) { return mail_waiting_[policies::transport_slot[i]].exchange(false); }
    void raise_mail_signal(std::size_t i) { mail_waiting_[policies::transport_slot[i]].store(true); }

    /// MAPI NOTIFY_BEGIN_INBOUND / NOTIFY_END_INBOUND.
    bool inbound_enabled() const noexcept { return inbound_.load(); }
    void set_inbound(bool on) noexcept { inbound_.store(on); }

    spool::receive_folders& receive_folders() noexcept { return receive_folders_; }

    // --- What its clients ask (client_desk) ----------------------------------
    queue_state& queue() noexcept override { return queue_; }
    std::error_code submit(message_id id) override {
        if constexpr (policies::valid) return detail::submit(*this, id);
        else return errc::store_failure; // never built: the composition had its diagnostic
    }
    result<message_id> send(message_type& m) override {
        if constexpr (policies::valid) return detail::send(*this, m);
        else return errc::store_failure;
    }
    void queue_changed(const queue_changed_event& e) override { notify(e); }

    void wake() {
        // A wake-up not yet consumed was notified when it was raised, and the
        // sleeper consumes it before its next pass, which then sees whatever
        // the caller did before this call: a burst of submits notifies once,
        // and all but the first take no lock.
        if (woken_.load()) return;
        {
            std::lock_guard g{wake_mutex_};
            if (woken_.exchange(true)) return;
        }
        wake_cv_.notify_all();
    }

    /// Wakes the background thread because hand-offs completed: it applies
    /// them without reading the queue again.
    void wake_handoffs() {
        if (handoffs_done_.load()) return;
        {
            std::lock_guard g{wake_mutex_};
            if (handoffs_done_.exchange(true)) return;
        }
        wake_cv_.notify_all();
    }

    /// Sleeps until woken, stopped, or `d` has passed; consumes the wake-ups,
    /// and says which came first in importance (a submit before hand-offs).
    wake_reason sleep(std::chrono::milliseconds d) {
        std::unique_lock l{wake_mutex_};
        wake_cv_.wait_for(l, d, [&] { return woken_.load() || stopping_.load() || handoffs_done_.load(); });
        const wake_reason why = stopping_.load()        ? wake_reason::stop
                                : woken_.load()         ? wake_reason::submit
                                : handoffs_done_.load() ? wake_reason::handoffs
                                                        : wake_reason::time;
        woken_.store(false);
        handoffs_done_.store(false);
        return why;
    }

    /// The background thread's stop signal: set under the sleeper's mutex, so a
    /// sleeper either sees it before it waits or is notified.
    void request_stop() {
        {
            std::lock_guard g{wake_mutex_};
            stopping_.store(true);
        }
        wake_cv_.notify_all();
    }
    bool stop_requested() const noexcept { return stopping_.load(); }
    /// Before a new background thread starts.
    void clear_stop() noexcept { stopping_.store(false); }

private:
    template <std::size_t I>
    auto& part() { return unwrap_ref(parts_[hana::size_c<I>]); }

    decltype(auto) retry_policy() {
        if constexpr (policies::valid && policies::retry_index < policies::size) return part<policies::retry_index>();
        else return (default_retry_);
    }

    template <std::size_t... I, class F>
    static void visit_indices(std::index_sequence<I...>, F&& f) {
        (f.template operator()<I>(), ...);
    }

    std::conditional_t<policies::valid, hana::tuple<Ps...>, hana::tuple<>> parts_;
    std::array<std::optional<spool::address_types>, policies::typed_count> types_{};
    exponential_backoff default_retry_;
    [[no_unique_address]] std::conditional_t<policies::valid, std::monostate, store_type> placeholder_;
    queue_state queue_;
    spool::receive_folders receive_folders_;
    std::array<std::atomic<bool>, policies::transport_count> mail_waiting_{};
    std::atomic<bool> inbound_{true};
    counters counts_;
    std::mutex wake_mutex_;
    // A plain condition variable and a flag rather than std::jthread's stop
    // token and condition_variable_any: the same behaviour, and markedly less
    // for every user's compiler to instantiate.
    std::condition_variable wake_cv_;
    std::atomic<bool> woken_{false};
    std::atomic<bool> handoffs_done_{false};
    std::atomic<bool> stopping_{false};
};

} // namespace spool::detail
