#pragma once

// Delivery and non-delivery reports (MAPI: what StatusRecips makes the spooler
// generate), and delayed-delivery reports (RFC 3464). One report of each kind
// per pass, covering the recipients settled in that pass, or found waiting too
// long; each recipient is marked `reported` (`delay_reported`), so none is
// reported twice.

#include <spool/mail/detail/header_section.hpp>
#include <spool/message.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace spool::detail {

inline report_entry entry_for(const recipient& r) {
    report_entry e{r.display_name, r.address, r.address_type, r.kind, {}, {}, {}, {}};
    if (const auto* s = std::get_if<status::sent>(&r.status)) {
        e.delivered_at = s->at;
        e.action = s->action;
    }
    if (const auto* f = std::get_if<status::failed>(&r.status)) {
        e.reason = f->reason;
        e.diagnostic = f->diagnostic;
    }
    if (const auto* d = std::get_if<status::deferred>(&r.status)) {
        e.reason = d->reason;
        e.diagnostic = d->diagnostic;
    }
    return e;
}

/// The message as a client could submit it again: a draft, every recipient pending.
template <class Message>
Message as_resendable(const Message& m) {
    Message copy = m;
    copy.flags = message_flags::unsent;
    copy.submission = submit_flags::none;
    copy.client_submit_time.reset();
    for (recipient& r : copy.recipients) {
        recipient fresh{r.display_name, r.address, r.address_type, r.kind}; // delay_reported too is cleared
        fresh.reports = r.reports;
        r = std::move(fresh);
    }
    return copy;
}

template <class Message>
Message make_report(const Message& original, report_kind kind, std::vector<report_entry> entries, time_point now) {
    Message r;
    const bool delivery = kind == report_kind::delivery;
    r.message_class = "Report." + original.message_class +
                      (delivery ? ".DR" : kind == report_kind::delayed ? ".Delayed" : ".NDR");
    r.priority = original.priority;
    const mailbox& to = original.report_to ? *original.report_to : original.sender;
    r.recipients = {recipient{to.display_name, to.address, to.address_type}};
    r.sender = mailbox{"Mail Delivery System", "", ""};
    if constexpr (requires { r.payload.subject = original.payload.subject; })
        r.payload.subject = std::string(report_subject_prefix(kind)) + subject_of(original.payload);

    basic_report<typename Message::payload_type> body;
    body.kind = kind;
    body.report_time = now;
    body.entries = std::move(entries);
    body.original_id = original.id;
    body.original_class = original.message_class;
    body.original_submit_time = original.client_submit_time;
    body.original_recipients = as_resendable(original).recipients;
    // Only a non-delivery report carries the message, for resending; a
    // delayed one says it is still being tried.
    if (kind == report_kind::non_delivery) body.original.push_back(as_resendable(original));
    r.report = std::move(body);
    return r;
}

/// The reports for the settled recipients not yet marked reported, which it marks.
template <class Message>
[[gnu::noinline]] void make_reports(Message& m, time_point now, std::vector<Message>& out) {
    std::vector<report_entry> delivered, undelivered;
    for (recipient& r : m.recipients) {
        if (r.reported || !r.settled()) continue;
        r.reported = true;
        (std::holds_alternative<status::sent>(r.status) ? delivered : undelivered).push_back(entry_for(r));
    }
    if (!delivered.empty()) out.push_back(make_report(m, report_kind::delivery, std::move(delivered), now));
    if (!undelivered.empty()) out.push_back(make_report(m, report_kind::non_delivery, std::move(undelivered), now));
}

/// A message's recipient table at the end of a pass, counted by the same walk
/// that takes its reports.
struct pass_summary {
    std::size_t sent = 0;         ///< recipients sent, in this pass or before
    std::size_t failed = 0;       ///< recipients failed, in this pass or before
    std::size_t newly_sent = 0;   ///< of them, settled since the last report walk
    std::size_t newly_failed = 0;
    std::size_t open = 0;         ///< recipients still waiting for a transport
};

/// When a recipient still waiting gets its delayed-delivery report, and the
/// time it names as the end of the tries (RFC 3464 Will-Retry-Until). The
/// default: never.
struct delay_terms {
    time_point warn_at = time_point::max();
    time_point give_up_at = time_point::max();
};

/// Adds to `out` the reports for the recipients settled since the last call:
/// a delivery report for the sent ones if the sender asked, a non-delivery
/// report for the failed ones unless the sender suppressed it. Marks every
/// settled recipient reported, so a recipient not yet reported is one settled
/// in this pass (submit clears the mark). From `delay.warn_at` on, a
/// recipient still waiting gets a delayed-delivery report, once, unless the
/// sender suppressed it (`delay_reported` marks that decision).
template <class Message>
pass_summary take_reports(Message& m, time_point now, std::vector<Message>& out, delay_terms delay = {}) {
    pass_summary s;
    bool due = false;
    std::vector<report_entry> delayed;
    for (recipient& r : m.recipients) {
        const bool sent = std::holds_alternative<status::sent>(r.status);
        const bool failed = !sent && std::holds_alternative<status::failed>(r.status);
        s.sent += sent ? 1 : 0;
        s.failed += failed ? 1 : 0;
        if (!sent && !failed) {
            s.open += r.responsibility ? 0 : 1;
            if (now >= delay.warn_at && !r.responsibility && !r.delay_reported) {
                r.delay_reported = true;
                const report_requests& asked = r.reports.value_or(m.reports);
                if (!asked.non_delivery_suppressed && !asked.delay_suppressed) {
                    delayed.push_back(entry_for(r));
                    delayed.back().will_retry_until = delay.give_up_at;
                }
            }
            continue;
        }
        if (r.reported) continue;
        s.newly_sent += sent ? 1 : 0;
        s.newly_failed += failed ? 1 : 0;
        // Left unmarked when a report is due: make_reports finds it by that.
        // A next hop that took the report request over reports for itself.
        const bool wanted = sent ? r.reports.value_or(m.reports).delivery &&
                                       std::get<status::sent>(r.status).action != delivery_action::relayed_with_reports
                                 : !r.reports.value_or(m.reports).non_delivery_suppressed;
        r.reported = !wanted;
        due = due || wanted;
    }
    if (due) make_reports(m, now, out);
    if (!delayed.empty()) out.push_back(make_report(m, report_kind::delayed, std::move(delayed), now));
    return s;
}

} // namespace spool::detail
