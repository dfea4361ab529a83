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

#include <exception>
#include <system_error>
#include <vector>

namespace spool::detail {

template <class Message>
std::vector<recipient_status> statuses_of(const Message& m) {
    std::vector<recipient_status> out;
    out.reserve(m.recipients.size());
    for (const recipient& r : m.recipients) out.push_back(r.status);
    return out;
}

struct pass_outcome {
    bool finished = false;
    std::error_code error;
};

/// What is decided before the store write: reports for what was settled, and,
/// once everything is, the outbound hooks and the finished flags.
template <class Message>
struct completion {
    message_id id{};
    Message message;
    std::vector<recipient_status> before;
    std::vector<Message> reports;
    time_point now{};
    bool finished = false;
};

template <class Core, class Message>
completion<Message> prepare_completion(Core& core, message_id id, Message m, std::vector<recipient_status> before,
                                       time_point now) {
    completion<Message> c{id, std::move(m), std::move(before), {}, now, false};
    c.reports = take_reports(c.message, now);
    c.message.submission = c.message.submission & ~submit_flags::locked; // the lock is never stored
    c.finished = all_settled(c.message);
    if (c.finished) {
        core.template for_each_of<outbound_hook_tag>([&](auto& hook) {
            guarded([&] { hook.finishing(c.message); },
                    [&](const std::string&) { core.counts().outbound_hook_failures.fetch_add(1); });
        });
        mark_finished(c.message);
    }
    return c;
}

/// The one store write of a completion: finish, or save for later.
template <class Core, class Message>
std::error_code write_completion(Core& core, const completion<Message>& c) {
    return c.finished ? core.store().finish(c.id, c.message) : core.store().save(c.id, c.message);
}

/// After the write is durable: tell observers, and deliver the reports.
template <class Core, class Message>
void announce_completion(Core& core, completion<Message>& c) {
    std::size_t sent = 0, failed = 0;
    for (std::size_t i = 0; i < c.message.recipients.size(); ++i) {
        const recipient& r = c.message.recipients[i];
        sent += std::holds_alternative<status::sent>(r.status) ? 1 : 0;
        failed += std::holds_alternative<status::failed>(r.status) ? 1 : 0;
        if (i >= c.before.size() || c.before[i] != r.status) core.notify(recipient_status_event{c.id, r});
    }
    for (auto& report : c.reports) {
        core.counts().reports_generated.fetch_add(1);
        deliver_incoming(core, std::move(report), c.now);
    }
    if (c.finished) {
        core.counts().messages_finished.fetch_add(1);
        core.notify(message_finished_event{c.id, sent, failed});
        core.notify(queue_changed_event{c.id, queue_changed_event::change::removed});
    }
}

/// All three in a row, for a single message (a coupled store's submit).
template <class Core, class Message>
pass_outcome complete_pass(Core& core, message_id id, Message& m, const std::vector<recipient_status>& before,
                           time_point now) {
    auto c = prepare_completion(core, id, std::move(m), before, now);
    pass_outcome outcome{c.finished, write_completion(core, c)};
    if (outcome.error) {
        // Not recorded: the next pass starts from what the store has, and reports then.
        core.counts().store_error(outcome.error);
        outcome.finished = false;
    } else {
        announce_completion(core, c);
    }
    m = std::move(c.message);
    return outcome;
}

} // namespace spool::detail
