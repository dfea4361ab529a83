#pragma once

// The end of a pass over a message's recipients, whether the spooler made it
// or a tightly coupled store at submit: reports for what was settled, the
// outbound hooks and finishing once everything is, or saving for later, then
// telling observers. Nothing is announced before the store has recorded it.

#include <spool/detail/counters.hpp>
#include <spool/detail/recipient_state.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/detail/incoming.hpp>
#include <spool/detail/one_commit.hpp>
#include <spool/detail/reports.hpp>
#include <spool/detail/suppression_entries.hpp>
#include <spool/error.hpp>
#include <spool/delay_warning.hpp>
#include <spool/events.hpp>
#include <spool/result.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/suppression.hpp>
#include <spool/tags.hpp>

#include <cstddef>
#include <exception>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace spool::detail {

/// The recipients' statuses before a pass, kept only for an observer of
/// recipient changes (what the pass settled is counted by take_reports). Its
/// status type is named through Message: a compiler instantiates what a
/// template's non-dependent code calls even when the template is never used,
/// and the status variant's copies and comparisons then cost every includer
/// of the umbrella, observer or not.
template <class Message>
class status_baseline {
    using status_type = std::remove_cvref_t<decltype(std::declval<const Message&>().recipients.front().status)>;

public:
    void take(const Message& m) {
        statuses_.clear();
        statuses_.reserve(m.recipients.size());
        for (const auto& r : m.recipients) statuses_.push_back(r.status);
    }

    /// Whether recipient i's status is not what it was (a recipient the pass added counts as changed).
    bool changed(std::size_t i, const status_type& now) const {
        return i >= statuses_.size() || statuses_[i] != now;
    }

private:
    std::vector<status_type> statuses_;
};

struct pass_outcome {
    bool finished = false;
    std::error_code error;
};

/// A message at the end of a pass, and what is decided before the store
/// write: reports for what was settled, and, once everything is, the outbound
/// hooks and the finished flags. The message stays where the store's load()
/// put it: a message is costly to move.
template <class Message>
class completion {
public:
    /// Loads the message with `load()`, a store's load; see loaded().
    template <class Load>
        requires std::is_invocable_r_v<result<Message>, Load>
    completion(message_id id, time_point now, Load&& load) : id(id), now(now), loaded_(load()) {}
    completion(message_id id, time_point now, Message&& m) : id(id), now(now), loaded_(std::move(m)) {}

    /// Whether the load succeeded; if not, nothing else here may be used.
    bool loaded() const noexcept { return loaded_.has_value(); }
    std::error_code load_error() const noexcept { return loaded_.error(); }

    Message& message() noexcept { return *loaded_; }
    const Message& message() const noexcept { return *loaded_; }

    /// Remembers the recipients as they are now, at the start of the pass,
    /// where an observer will ask what the pass changed.
    template <class Core>
    void begin(Core&) {
        if constexpr (Core::template observed<recipient_status_event>) before.take(message());
    }

    message_id id{};
    time_point now{};
    /// When the message's lifetime ends (time on hold added): no attempt is
    /// set past it. Set when the spooler takes the message from the queue;
    /// a submit's own pass has none.
    time_point deadline = time_point::max();
    status_baseline<Message> before;
    std::vector<Message> reports;
    std::vector<suppression_entry> suppressions; // addresses this pass's failures put on the list
    std::vector<incoming_commit> committed_reports; // by write_completion, for announce_completion
    pass_summary summary;
    bool finished = false;
    bool discard = false; // an administrator deleted it: once finished, it is deleted, whoever it reached

private:
    result<Message> loaded_;
};

/// The entries for the recipients failed since the last report walk (not yet
/// marked reported) with a code the policy names, unless already listed.
template <class Core, class Message>
std::vector<suppression_entry> new_suppressions(Core& core, const Message& m, message_id id, time_point now) {
    std::vector<suppression_entry> out;
    for (const recipient& r : m.recipients)
        if (const auto* f = std::get_if<status::failed>(&r.status); f && !r.reported)
            if (auto entry = suppression_entry_for(core, r.address, *f, id, now)) out.push_back(std::move(*entry));
    return out;
}

/// When the recipients still waiting at the end of this pass are reported as
/// delayed: spool::delay_warning's time after the submit, not counting time
/// on hold, which the deadline has added already.
template <class Core, class Message>
delay_terms delay_terms_for(Core& core, const completion<Message>& c) {
    if constexpr (Core::warns_of_delay) {
        if (c.deadline != time_point::max())
            return {c.deadline - core.max_lifetime() + core.template setting<spool::delay_warning>().after, c.deadline};
    }
    return {};
}

/// Whether this pass owes a recipient its delayed-delivery report, so that
/// a message left waiting for a destination that is down is written anyway.
template <class Core, class Message>
bool delay_report_due(Core& core, const completion<Message>& c) {
    if constexpr (Core::warns_of_delay) {
        if (c.now < delay_terms_for(core, c).warn_at) return false;
        for (const recipient& r : c.message().recipients)
            if (!r.settled() && !r.responsibility && !r.delay_reported) return true;
    }
    return false;
}

template <class Core, class Message>
void prepare_completion(Core& core, completion<Message>& c) {
    Message& m = c.message();
    if constexpr (Core::suppresses) c.suppressions = new_suppressions(core, m, c.id, c.now);
    c.summary = take_reports(m, c.now, c.reports, delay_terms_for(core, c));
    m.submission = m.submission & ~submit_flags::locked; // the lock is never stored
    c.finished = c.summary.open == 0;
    if (c.finished) {
        core.template for_each_of<outbound_hook_tag>([&](auto& hook) {
            guarded([&] { hook.finishing(m); },
                    [&](const std::string&) { core.counts().outbound_hook_failures.fetch_add(1); });
        });
        mark_finished(m, c.summary.sent > 0);
        if (c.discard) m.sent_mail = disposition::delete_after_submit{};
    }
}

/// The store writes of a completion: the reports it calls for, then finish, or
/// save for later. Callers make them one commit where the store batches, so a
/// crash cannot record the outcome (and with it the recipients' reported
/// marks) without the reports. Without batch(), a crash between the two sends
/// a report twice rather than never. A report the store refuses fails the
/// whole write: the message stays queued and is reported on a later pass.
template <class Core, class Message>
std::error_code write_completion(Core& core, completion<Message>& c) {
    c.committed_reports.clear();
    for (Message& report : c.reports) {
        incoming_commit rc = commit_incoming(core, report, c.now, incoming_origin::own_report);
        if (rc.error) return rc.error;
        c.committed_reports.push_back(std::move(rc));
    }
    if constexpr (Core::suppresses)
        for (const suppression_entry& e : c.suppressions)
            if (auto ec = core.store().suppress(e)) return ec;
    return c.finished ? core.store().finish(c.id, c.message()) : core.store().save(c.id, c.message());
}

/// Whether a completion's writes need one commit of their own to stay together.
template <class Message>
bool writes_together(const completion<Message>& c) noexcept {
    return !c.reports.empty() || !c.suppressions.empty();
}

/// After the writes are durable: tell observers (of the reports too), and count
/// what the pass settled into `t` (published by the caller, once per commit).
template <class Core, class Message>
void announce_completion(Core& core, completion<Message>& c, tally& t) {
    const Message& m = c.message();
    if constexpr (Core::template observed<recipient_status_event>)
        for (std::size_t i = 0; i < m.recipients.size(); ++i)
            if (c.before.changed(i, m.recipients[i].status)) core.notify(recipient_status_event{c.id, m.recipients[i]});
    for (const suppression_entry& e : c.suppressions) core.notify(suppression_event{c.id, e.address, suppression_event::change::listed});
    t.recipients_sent += c.summary.newly_sent;
    t.recipients_failed += c.summary.newly_failed;
    for (const incoming_commit& rc : c.committed_reports) {
        ++t.reports_generated;
        if (rc.id) announce_incoming(core, rc); // none: a postprocessor discarded it
    }
    if (c.finished) {
        ++t.messages_finished;
        core.notify(message_finished_event{c.id, c.summary.sent, c.summary.failed, m.client_submit_time, c.now});
        core.notify(queue_changed_event{c.id, queue_changed_event::change::removed});
    }
}

/// All three in a row, for a single message (a coupled store's submit).
template <class Core, class Message>
pass_outcome complete_pass(Core& core, completion<Message>& c) {
    prepare_completion(core, c);
    pass_outcome outcome{c.finished, {}};
    auto write = [&] { outcome.error = write_completion(core, c); };
    if (writes_together(c)) {
        if (const std::error_code ec = in_one_commit(core.store(), write)) outcome.error = ec;
    } else {
        write();
    }
    if (outcome.error) {
        // Not recorded: the next pass starts from what the store has, and reports then.
        core.counts().store_error(outcome.error);
        outcome.finished = false;
    } else {
        tally t;
        announce_completion(core, c, t);
        core.counts().add(t);
    }
    return outcome;
}

} // namespace spool::detail
