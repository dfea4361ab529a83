#pragma once

// Sorting the types given to spool::spooler into roles. Roles are found by
// the nominal tags, so the order of types matters only among transports and
// among preprocessors (their composed order is their calling order).

#include <spool/concepts.hpp>
#include <spool/detail/messages.hpp>
#include <spool/detail/roles.hpp>

#include <boost/hana/unpack.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>

namespace spool::detail {

/// A policy may be given as std::ref(x) to share it with its owner; roles are judged on x's type.
template <class T>
using unwrap_t = std::remove_reference_t<std::unwrap_ref_decay_t<T>>;

template <class T>
constexpr T& unwrap_ref(T& x) noexcept { return x; }
template <class T>
constexpr T& unwrap_ref(std::reference_wrapper<T> x) noexcept { return x.get(); }

template <std::size_t N>
constexpr std::size_t first_of(const std::array<bool, N>& marks) {
    for (std::size_t i = 0; i < N; ++i)
        if (marks[i]) return i;
    return N;
}
template <std::size_t N>
constexpr std::size_t count_of(const std::array<bool, N>& marks) {
    std::size_t n = 0;
    for (bool m : marks) n += m ? 1 : 0;
    return n;
}
/// For each composed position, its index among the marked ones (N where unmarked):
/// state kept per transport is kept in arrays of that many, so that a policy
/// of another role costs no space.
template <std::size_t N>
constexpr std::array<std::size_t, N> slots_of(const std::array<bool, N>& marks) {
    std::array<std::size_t, N> out{};
    std::size_t next = 0;
    for (std::size_t i = 0; i < N; ++i) out[i] = marks[i] ? next++ : N;
    return out;
}
/// The composed positions of the marked ones, in order.
template <std::size_t Count, std::size_t N>
constexpr std::array<std::size_t, Count> positions_of(const std::array<bool, N>& marks) {
    std::array<std::size_t, Count> out{};
    std::size_t next = 0;
    for (std::size_t i = 0; i < N; ++i)
        if (marks[i]) out[next++] = i;
    return out;
}
template <std::size_t N>
constexpr std::array<bool, N> either(const std::array<bool, N>& a, const std::array<bool, N>& b) {
    std::array<bool, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = a[i] || b[i];
    return out;
}

template <class S>
struct message_of_store { using type = message; };
template <class S>
    requires store_names_message_type<S>
struct message_of_store<S> { using type = typename S::message_type; };

/// P as given to the spooler (a std::reference_wrapper for std::ref(x)): it
/// must meet its roles, and the spooler must be able to keep it.
template <class P, class M>
inline constexpr bool policy_ok = meets_its_roles<unwrap_t<P>, M>() && std::move_constructible<P>;

/// Stands in for the store of an invalid composition, so that the one
/// diagnostic above is the only error the user sees.
template <class M>
struct placeholder_store {
    using spool_concept = store_tag;
    using message_type = M;
    result<message_id> create(folder_id, const M&);
    result<M> load(message_id) const;
    std::error_code save(message_id, const M&);
    std::error_code enqueue(message_id, const M&);
    std::error_code abort_submit(message_id, const M&);
    std::error_code finish(message_id, const M&);
    std::vector<queue_entry> outgoing_queue() const;
    std::vector<message_id> contents(folder_id) const;
};

/// The roles of Ps..., computed once.
template <class... Ps>
struct policy_set {
    static constexpr std::size_t size = sizeof...(Ps);
    /// Which composed positions play `Role` (an entry of detail::roles).
    template <class Role>
    static constexpr std::array<bool, size> marks{Role::template played_by<unwrap_t<Ps>>...};
    static constexpr auto stores = marks<store_role>;
    static constexpr auto transports = marks<transport_role>;
    static constexpr auto preprocessors = marks<preprocessor_role>;
    static constexpr auto expanders = marks<expander_role>;
    static constexpr auto clocks = marks<clock_role>;
    static constexpr auto retry_policies = marks<retry_policy_role>;

    static constexpr std::size_t transport_count = count_of(transports);
    /// Whether a policy of type T was composed.
    template <class T>
    static constexpr bool composes = (std::is_same_v<unwrap_t<Ps>, T> || ...);
    /// spool::inline_transports was composed.
    static constexpr bool inline_transports = composes<spool::inline_transports>;
    /// spool::single_threaded was composed.
    static constexpr bool single_threaded = composes<spool::single_threaded>;
    static constexpr auto transport_slot = slots_of(transports);
    static constexpr auto transport_position = positions_of<transport_count>(transports);
    /// Transports and preprocessors: the policies with address types.
    static constexpr auto typed = either(transports, preprocessors);
    static constexpr std::size_t typed_count = count_of(typed);
    static constexpr auto typed_slot = slots_of(typed);

    static constexpr std::size_t store_index = first_of(stores);
    static constexpr std::size_t expander_index = first_of(expanders);
    static constexpr std::size_t clock_index = first_of(clocks);
    static constexpr std::size_t retry_index = first_of(retry_policies);

    template <std::size_t I>
    using at = unwrap_t<std::tuple_element_t<I, std::tuple<Ps...>>>;

    template <std::size_t I>
    static auto message_of_index() {
        if constexpr (I < size) return typename message_of_store<at<I>>::type{};
        else return message{};
    }
    /// The store's message type; spool::message while there is no valid store, so
    /// that one missing piece gives one error.
    using message_type = decltype(message_of_index<store_index>());

    /// How many composed policies play `Role`.
    template <class Role>
    static constexpr std::size_t count = count_of(marks<Role>);
    template <class Role>
    static constexpr bool counted_right = allowed(Role::count, count<Role>);
    static constexpr bool counts_ok = role_table::counted_right<policy_set>;
    /// No preprocessor after one that runs last (spool::runs_last).
    static constexpr bool order_ok = [] {
        constexpr std::array<bool, size> last{runs_last<unwrap_t<Ps>>...};
        bool sealed = false;
        for (std::size_t i = 0; i < size; ++i) {
            if (preprocessors[i] && sealed) return false;
            sealed = sealed || (preprocessors[i] && last[i]);
        }
        return true;
    }();
    static constexpr bool valid = counts_ok && order_ok && (policy_ok<Ps, message_type> && ...);

    template <std::size_t I>
    static auto store_of_index() {
        if constexpr (valid) return std::type_identity<at<I>>{};
        else return std::type_identity<placeholder_store<message_type>>{};
    }
    using store_type = typename decltype(store_of_index<store_index>())::type;

    static constexpr bool diagnose() {
        if constexpr (!counts_ok) boost::hana::unpack(roles, [](auto... role) { diagnose_first_count(role...); });
        else if constexpr (!order_ok) static_assert(requirement_unmet_by<policy_set>::value, SPOOL_DETAIL_PREPROCESSOR_AFTER_LAST);
        else (diagnose_first<Ps...>());
        return true;
    }

private:
    template <class Role, class... Rest>
    static constexpr void diagnose_first_count(boost::hana::basic_type<Role>, Rest... rest) {
        if constexpr (!counted_right<Role>) Role::template miscounted<policy_set>();
        else if constexpr (sizeof...(Rest) > 0) diagnose_first_count(rest...);
    }

    template <class First = void, class... Rest>
    static constexpr void diagnose_first() {
        if constexpr (!std::is_void_v<First>) {
            using T = unwrap_t<First>;
            if constexpr (!meets_its_roles<T, message_type>()) diagnose_policy<T, message_type>();
            else if constexpr (!std::move_constructible<First>) static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_NOT_MOVABLE);
            else diagnose_first<Rest...>();
        }
    }
};

} // namespace spool::detail
