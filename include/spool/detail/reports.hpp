#pragma once

// Delivery and non-delivery reports (MAPI: what StatusRecips makes the spooler
// generate). One report of each kind per pass, covering the recipients settled
// in that pass; each recipient is marked `reported`, so none is reported twice.

#include <spool/message.hpp>

#include <string>
#include <utility>
#include <vector>

namespace spool::detail {

inline report_entry entry_for(const recipient& r) {
    report_entry e{r.display_name, r.address, r.address_type, r.kind, {}, {}, {}};
    if (const auto* s = std::get_if<status::sent>(&r.status)) e.delivered_at = s->at;
    if (const auto* f = std::get_if<status::failed>(&r.status)) {
        e.reason = f->reason;
        e.diagnostic = f->diagnostic;
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
        recipient fresh{r.display_name, r.address, r.address_type, r.kind};
        fresh.reports = r.reports;
        r = std::move(fresh);
    }
    return copy;
}

template <class Message>
Message make_report(const Message& original, report_kind kind, std::vector<report_entry> entries, time_point now) {
    Message r;
    const bool delivery = kind == report_kind::delivery;
    r.message_class = "Report." + original.message_class + (delivery ? ".DR" : ".NDR");
    r.priority = original.priority;
    const mailbox& to = original.report_to ? *original.report_to : original.sender;
    r.recipients = {recipient{to.display_name, to.address, to.address_type}};
    r.sender = mailbox{"Mail Delivery System", "", ""};
    if constexpr (requires { r.payload.subject = original.payload.subject; })
        r.payload.subject = (delivery ? "Delivered: " : "Undeliverable: ") + original.payload.subject;

    basic_report<typename Message::payload_type> body;
    body.kind = kind;
    body.report_time = now;
    body.entries = std::move(entries);
    body.original_id = original.id;
    body.original_class = original.message_class;
    body.original_submit_time = original.client_submit_time;
    body.original_recipients = as_resendable(original).recipients;
    if (!delivery) body.original.push_back(as_resendable(original));
    r.report = std::move(body);
    return r;
}

/// Adds to `out` the reports for the recipients settled since the last call:
/// a delivery report for the sent ones if the sender asked, a non-delivery
/// report for the failed ones unless the sender suppressed it. Marks every
/// settled recipient reported.
template <class Message>
void take_reports(Message& m, time_point now, std::vector<Message>& out) {
    std::vector<report_entry> delivered, undelivered;
    for (recipient& r : m.recipients) {
        if (r.reported || !r.settled()) continue;
        r.reported = true;
        const bool sent = std::holds_alternative<status::sent>(r.status);
        const report_requests asked = r.reports.value_or(m.reports);
        if (sent && asked.delivery) delivered.push_back(entry_for(r));
        if (!sent && !asked.non_delivery_suppressed) undelivered.push_back(entry_for(r));
    }
    if (!delivered.empty()) out.push_back(make_report(m, report_kind::delivery, std::move(delivered), now));
    if (!undelivered.empty()) out.push_back(make_report(m, report_kind::non_delivery, std::move(undelivered), now));
}

} // namespace spool::detail
