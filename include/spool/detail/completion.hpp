#pragma once

// The end of a pass over a message's recipients, whether the spooler made it
// or a tightly coupled store at submit: reports for what was settled, the
// outbound hooks and finishing once everything is, or saving for later, then
// telling observers. Nothing is announced before the store has recorded it.

#include <spool/detail/dispatch.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/detail/incoming.hpp>
#include <spool/detail/reports.hpp>
#include <spool/events.hpp>
#include <spool/tags.hpp>

#include <cstddef>
#include <exception>
#include <system_error>
#include <vector>

namespace spool::detail {

/// How many of a message's recipients are sent, and how many failed.
struct settled_counts {
    std::size_t sent = 0;
    std::size_t failed = 0;
};

template <class Message>
settled_counts count_settled(const Message& m) {
    settled_counts n;
    for (const recipient& r : m.recipients) {
        n.sent += std::holds_alternative<status::sent>(r.status) ? 1 : 0;
        n.failed += std::holds_alternative<status::failed>(r.status) ? 1 : 0;
    }
    return n;
}

/// The recipients as they were before a pass, to tell what the pass changed.
/// Sent and failed are final, so counting them is enough to tell how many the
/// pass settled; every status is kept only for an observer of recipient changes.
class status_baseline {
public:
    status_baseline() = default;
    template <class Message>
    status_baseline(const Message& m, bool keep_statuses) : settled(count_settled(m)) {
        if (!keep_statuses) return;
        statuses_.reserve(m.recipients.size());
        for (const recipient& r : m.recipients) statuses_.push_back(r.status);
    }

    /// Whether recipient i's status is not what it was; always true where
    /// statuses were not kept (then nobody listens for the answer).
    bool changed(std::size_t i, const recipient_status& now) const {
        return i >= statuses_.size() || statuses_[i] != now;
    }

    settled_counts settled;

private:
    std::vector<recipient_status> statuses_;
};

struct pass_outcome {
    bool finished = false;
    std::error_code error;
};

/// A message at the end of a pass, and what is decided before the store
/// write: reports for what was settled, and, once everything is, the outbound
/// hooks and the finished flags. Built in place, since a message is costly to move.
template <class Message>
struct completion {
    message_id id{};
    Message message;
    status_baseline before;
    std::vector<Message> reports;
    time_point now{};
    bool finished = false;

    /// Remembers the recipients as they are now, at the start of the pass.
    template <class Core>
    void begin(Core&) { before = status_baseline(message, Core::template observed<recipient_status_event>); }
};

template <class Core, class Message>
void prepare_completion(Core& core, completion<Message>& c) {
    c.reports = take_reports(c.message, c.now);
    c.message.submission = c.message.submission & ~submit_flags::locked; // the lock is never stored
    c.finished = all_settled(c.message);
    if (c.finished) {
        core.template for_each_of<outbound_hook_tag>([&](auto& hook) {
            guarded([&] { hook.finishing(c.message); },
                    [&](const std::string&) { core.counts().outbound_hook_failures.fetch_add(1); });
        });
        mark_finished(c.message);
    }
}

/// The one store write of a completion: finish, or save for later.
template <class Core, class Message>
std::error_code write_completion(Core& core, const completion<Message>& c) {
    return c.finished ? core.store().finish(c.id, c.message) : core.store().save(c.id, c.message);
}

/// After the write is durable: tell observers, and deliver the reports.
template <class Core, class Message>
void announce_completion(Core& core, completion<Message>& c) {
    if constexpr (Core::template observed<recipient_status_event>)
        for (std::size_t i = 0; i < c.message.recipients.size(); ++i)
            if (c.before.changed(i, c.message.recipients[i].status))
                core.notify(recipient_status_event{c.id, c.message.recipients[i]});
    for (auto& report : c.reports) {
        core.counts().reports_generated.fetch_add(1);
        deliver_incoming(core, std::move(report), c.now);
    }
    if (c.finished) {
        core.counts().messages_finished.fetch_add(1);
        const settled_counts n = count_settled(c.message);
        core.notify(message_finished_event{c.id, n.sent, n.failed});
        core.notify(queue_changed_event{c.id, queue_changed_event::change::removed});
    }
}

/// All three in a row, for a single message (a coupled store's submit).
template <class Core, class Message>
pass_outcome complete_pass(Core& core, completion<Message>& c) {
    prepare_completion(core, c);
    pass_outcome outcome{c.finished, write_completion(core, c)};
    if (outcome.error) {
        // Not recorded: the next pass starts from what the store has, and reports then.
        core.counts().store_error(outcome.error);
        outcome.finished = false;
    } else {
        announce_completion(core, c);
    }
    return outcome;
}

} // namespace spool::detail
