#pragma once

// The structural requirements behind spool's concepts, one small concept per
// operation, so that a compiler (and detail/diagnose.hpp) can name the one
// that is missing.

#include <spool/address_types.hpp>
#include <spool/message.hpp>
#include <spool/events.hpp>
#include <spool/preprocessing.hpp>
#include <spool/reception.hpp>
#include <spool/result.hpp>
#include <spool/transmission.hpp>
#include <spool/transmit_handler.hpp>

#include <range/v3/range/concepts.hpp>
#include <range/v3/range/traits.hpp>

#include <chrono>
#include <concepts>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace spool::detail {

template <class T>
inline constexpr bool is_basic_message = false;
template <class P>
inline constexpr bool is_basic_message<basic_message<P>> = true;

template <class R, class V>
concept range_of = ranges::input_range<R> && std::same_as<ranges::range_value_t<R>, V>;

// --- Store -------------------------------------------------------------------
template <class S>
concept store_names_message_type = requires { typename S::message_type; } && is_basic_message<typename S::message_type>;

template <class S>
concept store_creates = requires(S& s, folder_id f, const typename S::message_type& m) {
    { s.create(f, m) } -> std::same_as<result<message_id>>;
};
template <class S>
concept store_loads = requires(const S& s, message_id id) {
    { s.load(id) } -> std::same_as<result<typename S::message_type>>;
};
template <class S>
concept store_saves = requires(S& s, message_id id, const typename S::message_type& m) {
    { s.save(id, m) } -> std::same_as<std::error_code>;
};
template <class S>
concept store_enqueues = requires(S& s, message_id id, const typename S::message_type& m) {
    { s.enqueue(id, m) } -> std::same_as<std::error_code>;
};
/// Optional: create a message already queued, in one durable step (what send() needs).
template <class S>
concept store_creates_queued = requires(S& s, folder_id f, const typename S::message_type& m) {
    { s.create_queued(f, m) } -> std::same_as<result<message_id>>;
};
template <class S>
concept store_aborts = requires(S& s, message_id id, const typename S::message_type& m) {
    { s.abort_submit(id, m) } -> std::same_as<std::error_code>;
};
template <class S>
concept store_finishes = requires(S& s, message_id id, const typename S::message_type& m) {
    { s.finish(id, m) } -> std::same_as<std::error_code>;
};
template <class S>
concept store_lists_queue = requires(const S& s) {
    { s.outgoing_queue() } -> range_of<queue_entry>;
};
template <class S>
concept store_lists_folders = requires(const S& s, folder_id f) {
    { s.contents(f) } -> range_of<message_id>;
};

// --- Transport ---------------------------------------------------------------
template <class T>
concept names_address_types = requires(const T& t) {
    { t.address_types() } -> std::convertible_to<spool::address_types>;
};
template <class T, class M>
concept transport_transmits_now = requires(T& t, transmission<M>& tx) {
    { t.transmit(tx) } -> std::same_as<transmit_result>;
};
// Starts the hand-off and completes it later through the handler.
template <class T, class M>
concept transport_transmits_later = requires(T& t, transmission<M>& tx, transmit_handler done) {
    { t.async_transmit(tx, std::move(done)) } -> std::same_as<void>;
};
template <class T, class M>
concept transport_transmits = transport_transmits_now<T, M> || transport_transmits_later<T, M>;
// Optional: the destination a recipient goes to (the next hop); without it, a
// transport has one destination.
template <class T>
concept transport_names_destinations = requires(const T& t, const recipient& r) {
    { t.destination(r) } -> std::convertible_to<std::string_view>;
};
// Optional: a transport's own limit on hand-offs at once.
template <class T>
concept transport_declares_limit = requires {
    { T::max_in_flight } -> std::convertible_to<std::size_t>;
};
// Optional: an asynchronous transport that can cut its hand-offs short when the spooler stops.
template <class T>
concept transport_cancels = requires(T& t) { t.cancel_transmissions(); };

// A transport that also receives: it fills messages, and says when mail waits
// either when asked (polled) or by raising a signal (signalling).
template <class T, class M>
concept transport_receives = requires(T& t, reception<M>& r) {
    { t.receive(r) } -> std::same_as<receive_result>;
};
template <class T>
concept transport_is_polled = requires(T& t) {
    { t.mail_waiting() } -> std::convertible_to<bool>;
};
template <class T>
concept transport_signals = requires(T& t, mail_signal s) { t.on_mail_waiting(s); };

// --- Preprocessor ------------------------------------------------------------
template <class P, class M>
concept preprocessor_preprocesses = requires(P& p, preprocessing<M>& job) {
    { p.preprocess(job) } -> std::same_as<preprocess_result>;
};

// --- Postprocessor, outbound hook, observer -----------------------------------
template <class P, class M>
concept postprocessor_postprocesses = requires(P& p, postprocessing<M>& job) {
    { p.postprocess(job) } -> std::same_as<postprocess_result>;
};
template <class H, class M>
concept hook_sees_finished = requires(H& h, M& m) { h.finishing(m); };

template <class O>
concept observes_new_mail = requires(O& o, const new_mail_event& e) { o.on_new_mail(e); };
template <class O>
concept observes_finished = requires(O& o, const message_finished_event& e) { o.on_message_finished(e); };
template <class O>
concept observes_recipients = requires(O& o, const recipient_status_event& e) { o.on_recipient_status(e); };
template <class O>
concept observes_queue = requires(O& o, const queue_changed_event& e) { o.on_queue_changed(e); };
template <class O>
concept observes_destinations = requires(O& o, const destination_event& e) { o.on_destination(e); };
template <class O>
concept observes_handoffs = requires(O& o, const handoff_event& e) { o.on_handoff(e); };
template <class O>
concept observes_suppressions = requires(O& o, const suppression_event& e) { o.on_suppression(e); };
/// Whether O has the handler for Event.
template <class O, class Event>
inline constexpr bool observes_event = (std::is_same_v<Event, new_mail_event> && observes_new_mail<O>) ||
                                       (std::is_same_v<Event, message_finished_event> && observes_finished<O>) ||
                                       (std::is_same_v<Event, recipient_status_event> && observes_recipients<O>) ||
                                       (std::is_same_v<Event, queue_changed_event> && observes_queue<O>) ||
                                       (std::is_same_v<Event, destination_event> && observes_destinations<O>) ||
                                       (std::is_same_v<Event, handoff_event> && observes_handoffs<O>) ||
                                       (std::is_same_v<Event, suppression_event> && observes_suppressions<O>);
template <class O>
concept observes_something = observes_new_mail<O> || observes_finished<O> || observes_recipients<O> ||
                             observes_queue<O> || observes_destinations<O> || observes_handoffs<O> ||
                             observes_suppressions<O>;

// --- Smaller policies --------------------------------------------------------
template <class E>
concept expander_expands = requires(E& e, const recipient& r) {
    { e.expand(r) } -> std::same_as<std::optional<std::vector<recipient>>>;
};
template <class C>
concept clock_tells_time = requires(const C& c) {
    { c.now() } -> std::same_as<time_point>;
};
template <class R>
concept retry_policy_limits = requires(const R& r, unsigned attempts) {
    { r.max_lifetime() } -> std::convertible_to<std::chrono::seconds>;
    { r.backoff(attempts) } -> std::convertible_to<std::chrono::seconds>;
};

} // namespace spool::detail
