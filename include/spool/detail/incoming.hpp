#pragma once

// The incoming flow (MAPI "Receiving messages"): a transport fills a message,
// the receive folder is chosen by its class, postprocessors run, the store
// commits it, and observers hear of the new mail. Reports arrive this way too.

#include <spool/detail/requirements.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/detail/returned_reports.hpp>
#include <spool/events.hpp>
#include <spool/message.hpp>
#include <spool/preprocessing.hpp>
#include <spool/reception.hpp>
#include <spool/result.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/tags.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace spool::detail {

/// What committing an incoming message did: its id (none when a
/// postprocessor discarded it), or the store's error; and what observers are told.
struct incoming_commit {
    std::optional<message_id> id;
    std::error_code error;
    folder_id folder{};
    std::string message_class;
    message_flags flags{};
};

template <class Core>
void announce_incoming(Core& core, const incoming_commit& c);

template <class Core>
result<returned_fate> apply_returned_now(Core& core, const returned_report& report, std::optional<std::int64_t> kept,
                                         time_point now);

/// Where an incoming message comes from: a transport, or the spool itself (a
/// report it made, delivered to the sender's inbox as mail is).
enum class incoming_origin { transport, own_report };

/// Prepares an incoming message, runs the postprocessors and has the store
/// commit it. A report about a message this spool sent, as a postprocessor
/// found it (postprocessing::report_returned) in mail that came from a
/// transport, is applied to the original first, so a store that refuses this
/// message leaves it with the transport to be taken again, and applied again
/// to no effect; a report the spool made itself is never taken for one. A
/// store error is returned, not counted: the caller counts it once.
template <class Core, class Message>
incoming_commit commit_incoming(Core& core, Message& m, time_point now,
                                [[maybe_unused]] incoming_origin origin = incoming_origin::transport) {
    if (m.message_class.empty()) m.message_class = "IPM.Note";
    m.flags = (m.flags & ~(message_flags::read | message_flags::submitted | message_flags::unsent)) |
              message_flags::unmodified;
    m.submission = submit_flags::none;

    folder_id folder = core.receive_folders().folder_for(m.message_class);
    bool discarded = false;
    std::optional<returned_report> returned;
    core.template for_each_of<postprocessor_tag>([&](auto& p) {
        if (discarded) return;
        postprocessing<Message> job(m, folder, now);
        const postprocess_result result =
            guarded([&] { return p.postprocess(job); },
                    [](const std::string& what) { return postprocess_result::fail("postprocessor threw: " + what); });
        // A failing postprocessor is counted; the message is still committed.
        if (!result.succeeded()) core.counts().postprocessing_failures.fetch_add(1);
        folder = job.folder();
        discarded = job.discarded();
        if (job.returned() && !returned) returned = std::move(job.returned());
    });
    if constexpr (Core::postprocesses) {
        if (returned && origin == incoming_origin::transport) {
            const auto applied = apply_returned_now(core, *returned, std::nullopt, now);
            if (!applied) { // counted; the mail stays with its transport, to be applied again
                incoming_commit refused;
                refused.error = applied.error();
                return refused;
            }
        }
    }
    if (discarded) return {};

    auto id = core.store().create(folder, m);
    if (!id) {
        incoming_commit refused;
        refused.error = id.error();
        return refused;
    }
    return {*id, {}, folder, m.message_class, m.flags};
}

/// After the commit: counts the message and tells observers.
template <class Core>
void announce_incoming(Core& core, const incoming_commit& c) {
    core.counts().messages_received.fetch_add(1);
    core.notify(new_mail_event{*c.id, c.folder, c.message_class, c.flags});
}

/// Applies a returned report (apply_returned), its non-delivery report
/// committed as incoming mail and announced once everything is written.
template <class Core>
result<returned_fate> apply_returned_now(Core& core, const returned_report& report, std::optional<std::int64_t> kept,
                                         time_point now) {
    using message_type = typename Core::message_type;
    return apply_returned(
        core, report, kept, now, [&](message_type& made) { return commit_incoming(core, made, now, incoming_origin::own_report); },
        [&](const incoming_commit& c) {
            if (c.id) announce_incoming(core, c);
        });
}

/// How many kept reports a pass takes, oldest first.
inline constexpr std::size_t kept_returned_per_pass = 64;

/// Applies the returned reports kept for later whose originals are out of
/// their hand-offs, and forgets them; true while some are still kept.
template <class Core>
bool apply_kept_returned(Core& core, time_point now) {
    auto kept = core.store().returned_backlog(kept_returned_per_pass);
    if (!kept) {
        core.counts().store_error(kept.error());
        return true;
    }
    bool waiting = kept->size() == kept_returned_per_pass;
    for (const kept_report& k : *kept) {
        const auto applied = apply_returned_now(core, k.report, k.key, now);
        if (!applied) core.counts().store_error(applied.error());
        waiting = waiting || !applied || *applied == returned_fate::busy;
    }
    return waiting;
}

/// Commits an incoming message and announces it; nullopt when a postprocessor
/// discarded it or the store failed.
template <class Core, class Message>
std::optional<message_id> deliver_incoming(Core& core, Message m, time_point now) {
    const incoming_commit c = commit_incoming(core, m, now);
    if (c.error) core.counts().store_error(c.error);
    else if (c.id) announce_incoming(core, c);
    return c.id;
}

/// Takes mail from every receiving transport that has some, while inbound is
/// enabled. At most `limit` messages per transport per pass, so that sending is not starved.
template <class Core>
std::size_t receive_waiting(Core& core, std::size_t limit) {
    using message_type = typename Core::message_type;
    if (!core.inbound_enabled()) return 0;
    std::size_t received = 0;
    core.for_each_transport([&](auto& t, std::size_t i) {
        using T = std::remove_cvref_t<decltype(t)>;
        if constexpr (transport_receives<T, message_type>) {
            bool waiting = false;
            if constexpr (transport_signals<T>) waiting = core.take_mail_signal(i);
            if constexpr (transport_is_polled<T>) {
                if (!waiting)
                    waiting = guarded([&]() -> bool { return t.mail_waiting(); }, [&](const std::string&) {
                        core.counts().receive_failures.fetch_add(1);
                        return false;
                    });
            }
            for (std::size_t n = 0; waiting; ++n) {
                if (n == limit) {
                    if constexpr (transport_signals<T>) core.raise_mail_signal(i); // the rest next pass
                    break;
                }
                message_type m;
                const time_point now = core.now();
                std::optional<incoming_commit> saved; // by the transport, through reception::save()
                auto commit = [&](message_type& filled) -> std::error_code {
                    incoming_commit c = commit_incoming(core, filled, now);
                    if (c.error) {
                        core.counts().store_error(c.error);
                        return c.error;
                    }
                    saved = std::move(c);
                    return {};
                };
                reception<message_type> handover(m, now, commit);
                const receive_result result =
                    guarded([&] { return t.receive(handover); },
                            [](const std::string& what) { return receive_result::failed("transport threw: " + what); });
                // Announced after receive() returns, whatever it answered: the store has it.
                if (saved && saved->id) {
                    announce_incoming(core, *saved);
                    ++received;
                }
                if (result.what() == receive_result::kind::received) {
                    if (!saved && deliver_incoming(core, std::move(m), now)) ++received;
                    continue;
                }
                // Nothing after all, or the transport could not fill it: nothing is committed.
                if (result.what() == receive_result::kind::failed) core.counts().receive_failures.fetch_add(1);
                waiting = false;
            }
        }
    });
    return received;
}

} // namespace spool::detail
