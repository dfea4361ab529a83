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

template <class Core, class Message>
pass_outcome complete_pass(Core& core, message_id id, Message& m, const std::vector<recipient_status>& before,
                           time_point now) {
    auto reports = take_reports(m, now);
    m.submission = m.submission & ~submit_flags::locked; // the lock is never stored
    pass_outcome outcome{all_settled(m), {}};
    if (outcome.finished) {
        core.template for_each_of<outbound_hook_tag>([&](auto& hook) {
            guarded([&] { hook.finishing(m); },
                    [&](const std::string&) { core.counts().outbound_hook_failures.fetch_add(1); });
        });
        mark_finished(m);
        outcome.error = core.store().finish(id, m);
    } else {
        outcome.error = core.store().save(id, m);
    }
    if (outcome.error) {
        // Not recorded: the next pass starts from what the store has, and reports then.
        core.counts().store_error(outcome.error);
        outcome.finished = false;
        return outcome;
    }

    std::size_t sent = 0, failed = 0;
    for (std::size_t i = 0; i < m.recipients.size(); ++i) {
        const recipient& r = m.recipients[i];
        sent += std::holds_alternative<status::sent>(r.status) ? 1 : 0;
        failed += std::holds_alternative<status::failed>(r.status) ? 1 : 0;
        if (i >= before.size() || before[i] != r.status) core.notify(recipient_status_event{id, r});
    }
    for (auto& report : reports) {
        core.counts().reports_generated.fetch_add(1);
        deliver_incoming(core, std::move(report), now);
    }
    if (outcome.finished) {
        core.counts().messages_finished.fetch_add(1);
        core.notify(message_finished_event{id, sent, failed});
        core.notify(queue_changed_event{id, queue_changed_event::change::removed});
    }
    return outcome;
}

} // namespace spool::detail
