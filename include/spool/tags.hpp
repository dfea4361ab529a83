#pragma once

#include <concepts>

namespace spool {

/// A user type opts in to a role by naming its tag, e.g.
/// `using spool_concept = spool::transport_tag;`, or, for a type it cannot
/// edit, by specialising the matching `enable_*` variable to true. The opt-in
/// keeps an unrelated type that happens to have the right members from being
/// taken for a policy.
struct store_tag {};
struct transport_tag {};
struct preprocessor_tag {};
struct expander_tag {};
struct clock_tag {};
struct retry_policy_tag {};
struct postprocessor_tag {};
struct outbound_hook_tag {};
struct observer_tag {};
/// A compile-time choice about how the spooler runs, with no requirement of its own (spool::inline_transports).
struct setting_tag {};
/// A store that is also a transport for some address types (MAPI: a tightly coupled store).
struct coupled_store_tag : store_tag, transport_tag {};

namespace detail {
template <class T, class Tag>
concept declares = requires { typename T::spool_concept; } && std::derived_from<typename T::spool_concept, Tag>;
} // namespace detail

template <class T> inline constexpr bool enable_store = detail::declares<T, store_tag>;
template <class T> inline constexpr bool enable_transport = detail::declares<T, transport_tag>;
template <class T> inline constexpr bool enable_preprocessor = detail::declares<T, preprocessor_tag>;
template <class T> inline constexpr bool enable_expander = detail::declares<T, expander_tag>;
template <class T> inline constexpr bool enable_clock = detail::declares<T, clock_tag>;
template <class T> inline constexpr bool enable_retry_policy = detail::declares<T, retry_policy_tag>;
template <class T> inline constexpr bool enable_postprocessor = detail::declares<T, postprocessor_tag>;
template <class T> inline constexpr bool enable_outbound_hook = detail::declares<T, outbound_hook_tag>;
template <class T> inline constexpr bool enable_observer = detail::declares<T, observer_tag>;
template <class T> inline constexpr bool enable_setting = detail::declares<T, setting_tag>;

/// A preprocessor that seals what the others wrote (spool::dkim_signer signs
/// it) and so must be composed after every other preprocessor. It says
/// `static constexpr bool spool_runs_last = true;`, or specialises this.
template <class T> inline constexpr bool runs_last = requires { requires T::spool_runs_last; };

/// Compose it to call synchronous transports with a limit of one on the
/// spooler's own thread even when several transports are composed, as tests
/// and single-transport programs may want: one transmit() that hangs then
/// stops every transport. Without it, each synchronous transport of a
/// spooler with several transports gets a worker thread of its own.
struct inline_transports {
    using spool_concept = setting_tag;
};

/// Compose it for a spooler driven from one thread only: tests, embedded use,
/// a program with an event loop of its own (spdlog's `_st` loggers are the
/// model). It has no background thread (start() does not exist; call
/// run_once() or drain()), takes no lock of its own and wakes nobody; its
/// transports are called inline, one hand-off at a time, so every transport
/// must be synchronous, name no destinations and declare no max_in_flight
/// above 1: any other fails to compile, with a message that says so. The
/// default is thread-safe.
struct single_threaded {
    using spool_concept = setting_tag;
};

} // namespace spool
