#pragma once

// spool's three roles. Each concept is specified on its own page under docs/concepts/;
// the comments here are the short form.

#include <spool/detail/requirements.hpp>
#include <spool/tags.hpp>

#include <concepts>
#include <system_error>
#include <type_traits>

namespace spool {

/// The message type a store keeps.
template <class S>
using message_type_of = typename S::message_type;

/// **Store**: where messages live between a client's submit and the end of
/// spooling, and the outgoing queue (MAPI: a message store that supports submission).
///
/// Minimal complete definition (with `M = S::message_type`, a `basic_message`):
///   - `using spool_concept = spool::store_tag;` (or `enable_store<S> = true`)
///   - `result<message_id> create(folder_id, const M&)`
///   - `result<M> load(message_id) const`
///   - `std::error_code save(message_id, const M&)`
///   - `std::error_code enqueue(message_id, const M&)`: write the submitted message and add it to the queue
///   - `std::error_code abort_submit(message_id, const M&)`: write the draft and remove it from the queue
///   - `std::error_code finish(message_id, const M&)`: remove it from the queue and apply its sent-mail disposition
///   - `outgoing_queue() const`: a range of `queue_entry`, ascending client submit time
///   - `contents(folder_id) const`: a range of `message_id`
///
/// Laws: each operation is one durable step, all or nothing; every operation
/// is safe to call from several threads at once; `enqueue` fails with
/// `errc::already_submitted` when the message is queued, `abort_submit` and
/// `finish` with `errc::not_in_queue` when it is not, and every operation on an
/// unknown id fails with `errc::not_found`; the queue preserves submit order.
///
/// Models: `spool::memory_store`.
template <class S>
concept Store = enable_store<std::remove_cvref_t<S>> && detail::store_names_message_type<S> &&
                detail::store_creates<S> && detail::store_loads<S> && detail::store_saves<S> &&
                detail::store_enqueues<S> && detail::store_aborts<S> && detail::store_finishes<S> &&
                detail::store_lists_queue<S> && detail::store_lists_folders<S>;

/// **Transport**: hands messages to a messaging system for the recipients
/// whose address type it handles (MAPI: a transport provider).
///
/// Minimal complete definition:
///   - `using spool_concept = spool::transport_tag;` (or `enable_transport<T> = true`)
///   - `address_types() const`, convertible to `spool::address_types`
///   - `transmit_result transmit(transmission<M>&)`
///
/// Laws: `transmit` reports each recipient it settles, once, through the
/// transmission; it leaves alone the recipients it declines; it returns
/// `retry_after` or `busy` when it could not work, and then the recipients it
/// did not report are tried again later. `address_types()` does not change
/// while the spooler runs.
///
/// Models: `spool::memory_transport`.
template <class T, class M = message>
concept Transport = enable_transport<std::remove_cvref_t<T>> && detail::names_address_types<T> &&
                    detail::transport_transmits<T, M>;

/// A Transport that also receives mail. It says when mail waits either when
/// the spooler asks (`bool mail_waiting()`, MAPI LOGON_SP_POLL) or by raising
/// the signal it was given (`void on_mail_waiting(spool::mail_signal)`, MAPI
/// NOTIFY_NEWMAIL), and fills messages with `receive_result receive(reception<M>&)`.
/// Resolved at compile time: a send-only transport costs nothing.
template <class T, class M = message>
concept ReceivingTransport = Transport<T, M> && detail::transport_receives<T, M> &&
                             (detail::transport_is_polled<T> || detail::transport_signals<T>);

/// **Preprocessor**: runs on a locked message before any transport sees it
/// (MAPI: a preprocessor registered with RegisterPreprocessor).
///
/// Minimal complete definition:
///   - `using spool_concept = spool::preprocessor_tag;` (or `enable_preprocessor<P> = true`)
///   - `address_types() const`: the recipients whose messages it applies to (`address_types::any()` for all)
///   - `preprocess_result preprocess(preprocessing<M>&)`
///
/// Laws: it runs at most once per submission of a message; it never submits
/// the message itself; a failure leaves the message in the store.
template <class P, class M = message>
concept Preprocessor = enable_preprocessor<std::remove_cvref_t<P>> && detail::names_address_types<P> &&
                       detail::preprocessor_preprocesses<P, M>;

/// **Postprocessor**: runs on an incoming message before it is committed
/// (MAPI: an inbound spooler hook). It may modify the message, reroute it to
/// another folder, or discard it.
///
/// Minimal complete definition: `using spool_concept = spool::postprocessor_tag;`
/// and `postprocess_result postprocess(postprocessing<M>&)`.
template <class P, class M = message>
concept Postprocessor = enable_postprocessor<std::remove_cvref_t<P>> && detail::postprocessor_postprocesses<P, M>;

/// **OutboundHook**: runs when a submitted message is finished, before its
/// sent-mail disposition (MAPI: an outbound spooler hook, run by DoSentMail).
/// It may modify the message, including its disposition.
///
/// Minimal complete definition: `using spool_concept = spool::outbound_hook_tag;`
/// and `void finishing(M&)`.
template <class H, class M = message>
concept OutboundHook = enable_outbound_hook<std::remove_cvref_t<H>> && detail::hook_sees_finished<H, M>;

/// **Observer**: told what happens, for a client to refresh its view. It has
/// any of `on_new_mail`, `on_message_finished`, `on_recipient_status`,
/// `on_queue_changed`, `on_handoff`, `on_destination`, `on_suppression` (each
/// taking the matching event of <spool/events.hpp>); only those are called.
/// An observer that throws does not disturb the spooler.
template <class O>
concept Observer = enable_observer<std::remove_cvref_t<O>> && detail::observes_something<O>;

/// **Expander**: turns a distribution-list recipient into its members
/// (MAPI: the expansion half of ExpandRecips). `expand` returns nullopt for a
/// recipient that is not a list.
template <class E>
concept Expander = enable_expander<std::remove_cvref_t<E>> && detail::expander_expands<E>;

/// **Clock**: where the spooler reads the time. Tests use `spool::manual_clock`.
template <class C>
concept Clock = enable_clock<std::remove_cvref_t<C>> && detail::clock_tells_time<C>;

/// A Transport that checks, at submit, each recipient it would take (one whose
/// address type its `address_types()` match): `check_recipient(r)` returns
/// an error (errc::invalid_address, or one of the transport's own) for an
/// address it could never send as it is, and the submit is refused, nothing
/// queued. The SMTP transport refuses an address that cannot stand in RCPT.
/// Resolved at compile time.
template <class T>
concept RecipientCheckingTransport = requires(const T& t, const recipient& r) {
    { t.check_recipient(r) } -> std::same_as<std::error_code>;
};

/// **RetryPolicy**: how long a message may wait for an unavailable system,
/// and how long to wait when a transport gives no delay.
template <class R>
concept RetryPolicy = enable_retry_policy<std::remove_cvref_t<R>> && detail::retry_policy_limits<R>;

/// A store that is also a transport (MAPI: tightly coupled). Resolved at compile time.
template <class S>
concept CoupledStore = Store<S> && Transport<S, message_type_of<S>>;

} // namespace spool
