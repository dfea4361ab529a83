#pragma once

// The state a spooler shares with its clients: the composed policies, the
// in-memory queue state and the wake-up signal.

#include <spool/clock.hpp>
#include <spool/concepts.hpp>
#include <spool/delay_warning.hpp>
#include <spool/detail/client_desk.hpp>
#include <spool/detail/counters.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/detail/policy_set.hpp>
#include <spool/detail/queue_state.hpp>
#include <spool/detail/submission.hpp>
#include <spool/detail/transport_table.hpp>
#include <spool/detail/wakeup.hpp>
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
#include <cstddef>
#include <optional>
#include <type_traits>
#include <variant>
#include <utility>
#include <vector>

namespace spool::detail {

namespace hana = boost::hana;

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

    /// Whether hand-offs are a single synchronous round per message, on the
    /// spooler's thread (inline_handoffs.hpp): every transport is synchronous
    /// and names no destinations, and the user chose inline calls, or the one
    /// transport declares `max_in_flight = 1`. Otherwise the concurrent stage.
    static constexpr bool plain_dispatch = [] {
        bool synchronous = true, declared_one = true, none_above_one = true;
        ((synchronous = synchronous && (!enable_transport<unwrap_t<Ps>> ||
                                        (!transport_transmits_later<unwrap_t<Ps>, message_type> &&
                                         !transport_names_destinations<unwrap_t<Ps>>))),
         ...);
        ((declared_one = declared_one && (!enable_transport<unwrap_t<Ps>> || declares_limit_of_one<unwrap_t<Ps>>)), ...);
        ((none_above_one = none_above_one && (!enable_transport<unwrap_t<Ps>> || !declares_limit_above_one<unwrap_t<Ps>>)), ...);
        return synchronous && none_above_one &&
               (policies::inline_transports || policies::single_threaded || (policies::transport_count <= 1 && declared_one));
    }();
    /// spool::single_threaded: no lock, no wake-up, no background thread. (A
    /// composition it cannot serve has had its diagnostic, and is built as
    /// a thread-safe one, so that the diagnostic is the only error.)
    static constexpr bool single_threaded = policies::single_threaded && plain_dispatch;

    /// spool::suppression_policy was composed: the store's suppression list is on.
    static constexpr bool suppresses = policies::template composes<spool::suppression_policy> && SuppressionListStore<store_type>;
    /// Some postprocessor was composed: incoming mail is postprocessed, and a
    /// report a postprocessor recognised as returned is applied (returned_reports.hpp).
    static constexpr bool postprocesses = policies::template count<postprocessor_role> > 0;
    /// spool::delay_warning was composed: recipients that wait long get a delayed-delivery report.
    static constexpr bool warns_of_delay = policies::template composes<spool::delay_warning>;

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
        for_each_transport([&](auto& t, std::size_t i) {
            transports_[policies::transport_slot[i]] = row_of<message_type>(t);
            // A signalling transport raises its own flag and wakes the spooler.
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

    /// The composed setting of type Setting (only where policies::composes<Setting>).
    template <class Setting>
    const Setting& setting() {
        const Setting* found = nullptr;
        for_each_of<setting_tag>([&](auto& s) {
            if constexpr (std::is_same_v<std::remove_cvref_t<decltype(s)>, Setting>) found = &s;
        });
        return *found;
    }
    const spool::suppression_policy& suppression() { return setting<spool::suppression_policy>(); }

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

    /// The transport at `slot` (its position among the transports), as the hand-off stages call it.
    const transport_row<message_type>& transport(std::size_t slot) const noexcept { return transports_[slot]; }

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
                        else if constexpr (std::is_same_v<Event, suppression_event>) o.on_suppression(e);
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

    /// A returned report was kept for later (its original was in a hand-off):
    /// the next pass looks at the kept reports. take_ clears it.
    void note_returned_kept() noexcept { returned_kept_.store(true); }
    bool take_returned_kept() noexcept { return returned_kept_.exchange(false); }

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
    result<std::vector<message_id>> send_all(std::span<message_type> ms) override {
        if constexpr (policies::valid) return detail::send_all(*this, ms);
        else return errc::store_failure;
    }
    void queue_changed(const queue_changed_event& e) override { notify(e); }

    void wake() { wakeup_.wake(); }
    wake_reason sleep(std::chrono::milliseconds d) { return wakeup_.sleep(d); }
    void request_stop() { wakeup_.request_stop(); }
    bool stop_requested() const noexcept { return wakeup_.stop_requested(); }
    void clear_stop() noexcept { wakeup_.clear_stop(); }
    /// Where completed hand-offs signal the background thread.
    auto& wakeup() noexcept { return wakeup_; }

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
    // The default retry policy, only where none is composed: a composed one costs what it holds, nothing more.
    [[no_unique_address]] std::conditional_t<policies::valid && policies::retry_index < policies::size, std::monostate,
                                             exponential_backoff> default_retry_;
    [[no_unique_address]] std::conditional_t<policies::valid, std::monostate, store_type> placeholder_;
    queue_state queue_;
    spool::receive_folders receive_folders_;
    std::array<std::atomic<bool>, policies::transport_count> mail_waiting_{};
    std::atomic<bool> inbound_{true};
    std::atomic<bool> returned_kept_{false};
    counters counts_;
    std::array<transport_row<message_type>, policies::transport_count> transports_{};
    [[no_unique_address]] std::conditional_t<single_threaded, quiet_wakeup, detail::wakeup> wakeup_;
};

} // namespace spool::detail
