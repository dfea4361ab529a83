#pragma once

// Sorting the types given to spool::spooler into roles. Roles are found by
// the nominal tags, so the order of types matters only among transports and
// among preprocessors (their composed order is their calling order).

#include <spool/concepts.hpp>
#include <spool/detail/messages.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>

namespace spool::detail {

template <class T>
struct unwrap { using type = T; };
template <class T>
struct unwrap<std::reference_wrapper<T>> { using type = T; };
/// A policy may be given as std::ref(x) to share it with its owner; roles are judged on x's type.
template <class T>
using unwrap_t = typename unwrap<std::remove_cvref_t<T>>::type;

template <class T>
constexpr T& unwrap_ref(T& x) noexcept { return x; }
template <class T>
constexpr T& unwrap_ref(std::reference_wrapper<T> x) noexcept { return x.get(); }

template <class T>
inline constexpr bool has_role = enable_store<T> || enable_transport<T> || enable_preprocessor<T> ||
                                 enable_expander<T> || enable_clock<T> || enable_retry_policy<T> ||
                                 enable_postprocessor<T> || enable_outbound_hook<T> || enable_observer<T>;

/// Whether T plays the role Tag names, by its spool_concept or by the role's enable_ variable.
template <class T, class Tag>
inline constexpr bool plays = std::is_same_v<Tag, store_tag>             ? enable_store<T>
                              : std::is_same_v<Tag, transport_tag>       ? enable_transport<T>
                              : std::is_same_v<Tag, preprocessor_tag>    ? enable_preprocessor<T>
                              : std::is_same_v<Tag, expander_tag>        ? enable_expander<T>
                              : std::is_same_v<Tag, clock_tag>           ? enable_clock<T>
                              : std::is_same_v<Tag, retry_policy_tag>    ? enable_retry_policy<T>
                              : std::is_same_v<Tag, postprocessor_tag>   ? enable_postprocessor<T>
                              : std::is_same_v<Tag, outbound_hook_tag>   ? enable_outbound_hook<T>
                              : std::is_same_v<Tag, observer_tag>        ? enable_observer<T>
                                                                         : declares<T, Tag>;

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

// Named so that a compiler that prints the failed requirement (clang) reads
// "requirement_unmet_by<your_type>".
template <class T>
struct requirement_unmet_by : std::false_type {};

template <class S>
struct message_of_store { using type = message; };
template <class S>
    requires store_names_message_type<S>
struct message_of_store<S> { using type = typename S::message_type; };

// A transport with `receive` must also say when mail waits.
template <class T, class M>
inline constexpr bool transport_ok =
    Transport<T, M> && (!transport_receives<T, M> || transport_is_polled<T> || transport_signals<T>);

// --- Diagnostics: exactly one static_assert, for the first unmet requirement.

template <class S>
constexpr bool diagnose_store() {
    if constexpr (!store_names_message_type<S>) static_assert(requirement_unmet_by<S>::value, SPOOL_DETAIL_STORE_MESSAGE_TYPE);
    else if constexpr (!store_creates<S>) static_assert(requirement_unmet_by<S>::value, SPOOL_DETAIL_STORE_CREATE);
    else if constexpr (!store_loads<S>) static_assert(requirement_unmet_by<S>::value, SPOOL_DETAIL_STORE_LOAD);
    else if constexpr (!store_saves<S>) static_assert(requirement_unmet_by<S>::value, SPOOL_DETAIL_STORE_SAVE);
    else if constexpr (!store_enqueues<S>) static_assert(requirement_unmet_by<S>::value, SPOOL_DETAIL_STORE_ENQUEUE);
    else if constexpr (!store_aborts<S>) static_assert(requirement_unmet_by<S>::value, SPOOL_DETAIL_STORE_ABORT);
    else if constexpr (!store_finishes<S>) static_assert(requirement_unmet_by<S>::value, SPOOL_DETAIL_STORE_FINISH);
    else if constexpr (!store_lists_queue<S>) static_assert(requirement_unmet_by<S>::value, SPOOL_DETAIL_STORE_QUEUE);
    else if constexpr (!store_lists_folders<S>) static_assert(requirement_unmet_by<S>::value, SPOOL_DETAIL_STORE_CONTENTS);
    return true;
}

template <class T, class M>
constexpr bool diagnose_transport() {
    if constexpr (!names_address_types<T>) static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_TRANSPORT_ADDRESS_TYPES);
    else if constexpr (!transport_transmits<T, M>) static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_TRANSPORT_TRANSMIT);
    else if constexpr (transport_receives<T, M> && !transport_is_polled<T> && !transport_signals<T>)
        static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_TRANSPORT_MAIL_WAITING);
    return true;
}

template <class P, class M>
constexpr bool diagnose_preprocessor() {
    if constexpr (!names_address_types<P>) static_assert(requirement_unmet_by<P>::value, SPOOL_DETAIL_PREPROCESSOR_ADDRESS_TYPES);
    else if constexpr (!preprocessor_preprocesses<P, M>) static_assert(requirement_unmet_by<P>::value, SPOOL_DETAIL_PREPROCESSOR_PREPROCESS);
    return true;
}

template <class T, class M>
constexpr bool diagnose_policy() {
    if constexpr (!has_role<T>) {
        static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_NOT_A_POLICY);
    } else {
        if constexpr (enable_store<T> && !Store<T>) diagnose_store<T>();
        if constexpr (enable_transport<T> && !transport_ok<T, M>) diagnose_transport<T, M>();
        if constexpr (enable_preprocessor<T> && !Preprocessor<T, M>) diagnose_preprocessor<T, M>();
        if constexpr (enable_expander<T> && !Expander<T>) static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_EXPANDER_EXPAND);
        if constexpr (enable_clock<T> && !Clock<T>) static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_CLOCK_NOW);
        if constexpr (enable_retry_policy<T> && !RetryPolicy<T>) static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_RETRY_POLICY_LIMITS);
        if constexpr (enable_postprocessor<T> && !Postprocessor<T, M>) static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_POSTPROCESSOR_POSTPROCESS);
        if constexpr (enable_outbound_hook<T> && !OutboundHook<T, M>) static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_OUTBOUND_HOOK_FINISHING);
        if constexpr (enable_observer<T> && !Observer<T>) static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_OBSERVER_EVENTS);
    }
    return true;
}

template <class T, class M>
inline constexpr bool policy_ok =
    has_role<T> && (!enable_store<T> || Store<T>) && (!enable_transport<T> || transport_ok<T, M>) &&
    (!enable_postprocessor<T> || Postprocessor<T, M>) && (!enable_outbound_hook<T> || OutboundHook<T, M>) &&
    (!enable_observer<T> || Observer<T>) &&
    (!enable_preprocessor<T> || Preprocessor<T, M>) && (!enable_expander<T> || Expander<T>) &&
    (!enable_clock<T> || Clock<T>) && (!enable_retry_policy<T> || RetryPolicy<T>);

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
    static constexpr std::array<bool, size> stores{enable_store<unwrap_t<Ps>>...};
    static constexpr std::array<bool, size> transports{enable_transport<unwrap_t<Ps>>...};
    static constexpr std::array<bool, size> preprocessors{enable_preprocessor<unwrap_t<Ps>>...};
    static constexpr std::array<bool, size> expanders{enable_expander<unwrap_t<Ps>>...};
    static constexpr std::array<bool, size> clocks{enable_clock<unwrap_t<Ps>>...};
    static constexpr std::array<bool, size> retry_policies{enable_retry_policy<unwrap_t<Ps>>...};
    static constexpr std::array<bool, size> postprocessors{enable_postprocessor<unwrap_t<Ps>>...};
    static constexpr std::array<bool, size> outbound_hooks{enable_outbound_hook<unwrap_t<Ps>>...};
    static constexpr std::array<bool, size> observers{enable_observer<unwrap_t<Ps>>...};

    static constexpr std::size_t transport_count = count_of(transports);
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

    static constexpr bool counts_ok = count_of(stores) == 1 && count_of(expanders) <= 1 &&
                                      count_of(clocks) <= 1 && count_of(retry_policies) <= 1;
    static constexpr bool valid = counts_ok && (policy_ok<unwrap_t<Ps>, message_type> && ...);

    template <std::size_t I>
    static auto store_of_index() {
        if constexpr (valid) return std::type_identity<at<I>>{};
        else return std::type_identity<placeholder_store<message_type>>{};
    }
    using store_type = typename decltype(store_of_index<store_index>())::type;

    static constexpr bool diagnose() {
        if constexpr (count_of(stores) != 1) static_assert(requirement_unmet_by<policy_set>::value, SPOOL_DETAIL_ONE_STORE);
        else if constexpr (count_of(expanders) > 1) static_assert(requirement_unmet_by<policy_set>::value, SPOOL_DETAIL_ONE_EXPANDER);
        else if constexpr (count_of(clocks) > 1) static_assert(requirement_unmet_by<policy_set>::value, SPOOL_DETAIL_ONE_CLOCK);
        else if constexpr (count_of(retry_policies) > 1) static_assert(requirement_unmet_by<policy_set>::value, SPOOL_DETAIL_ONE_RETRY_POLICY);
        else (diagnose_first<Ps...>());
        return true;
    }

private:
    template <class First = void, class... Rest>
    static constexpr void diagnose_first() {
        if constexpr (!std::is_void_v<First>) {
            using T = unwrap_t<First>;
            if constexpr (!policy_ok<T, message_type>) diagnose_policy<T, message_type>();
            else diagnose_first<Rest...>();
        }
    }
};

} // namespace spool::detail
