#pragma once

// A queued message as the dashboard shows it: its JSON (the fields
// spoolctl's --json output has, with the same names), a recipient's status
// by name, its subject, and its header fields.

#include <spool/administration.hpp>
#include <spool/mail/detail/header_section.hpp>
#include <spool/message.hpp>
#include <spool/web/detail/text.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace spool::detail::web {

inline std::string recipient_status_name(const recipient& r) {
    if (r.is_sent()) return "sent";
    if (r.is_failed()) return "failed";
    if (r.is_deferred()) return "deferred";
    return r.responsibility ? "settled" : "pending";
}

template <class M>
std::string subject_of(const M& m) {
    if constexpr (requires { m.payload.subject; }) return detail::subject_of(m.payload);
    else return {};
}

/// The header fields a mail message carries, in the order it is sent with
/// them: those added to it (a stamped Message-ID, a DKIM-Signature), then
/// the sender's own MIME message's, unfolded; for a plain message, its
/// Subject. Date and the transport's own fields are made at the hand-off
/// and are not here. Nothing for a payload of another kind.
template <class M>
std::vector<std::pair<std::string, std::string>> header_fields(const M& m) {
    std::vector<std::pair<std::string, std::string>> out;
    if constexpr (std::is_same_v<typename M::payload_type, mail_payload>) {
        const mail_payload& p = m.payload;
        for (const auto& [name, value] : p.headers) out.emplace_back(name, unfolded(value));
        if (p.mime.empty()) {
            if (!p.subject.empty()) out.emplace_back("Subject", p.subject);
        } else {
            for_each_field(p.mime, [&](std::string_view name, std::string_view value) { out.emplace_back(name, unfolded(value)); });
        }
    }
    return out;
}

template <class Queued>
std::string message_json(const Queued& q) {
    auto time_or_null = [](std::optional<time_point> t) { return t ? json_string(iso(*t)) : std::string("null"); };
    auto text_or_null = [](const std::string& s) { return s.empty() ? std::string("null") : json_string(s); };
    std::string o = "{\"id\":" + std::to_string(static_cast<std::uint64_t>(q.id)) + ",\"submit_time\":" + json_string(iso(q.submit_time)) +
                    ",\"size\":" + std::to_string(q.size) + ",\"state\":" + json_string(to_string(q.state)) + ",\"held\":" +
                    (q.held ? "true" : "false") + ",\"held_since\":" + time_or_null(q.held_since) + ",\"held_for_ms\":" +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(q.held_for).count()) + ",\"request\":" +
                    json_string(to_string(q.request)) + ",\"next_attempt\":" + time_or_null(std::max(q.next_attempt, q.submit_time)) +
                    ",\"locked\":" + (q.state == spool::queue_state::in_hand ? "true" : "false") + ",\"lease_owner\":" + text_or_null(q.lease_owner) +
                    ",\"waiting_for\":" + text_or_null(q.waiting_for);
    if (!q.message) return o + ",\"decoded\":false,\"decode_error\":" + json_string(q.message.error().message()) + "}";
    const auto& m = *q.message;
    o += ",\"decoded\":true,\"message_class\":" + json_string(m.message_class) + ",\"sender\":" + json_string(m.sender.address) +
         ",\"subject\":" + json_string(subject_of(m)) + ",\"recipients\":[";
    for (std::size_t i = 0; i < m.recipients.size(); ++i) {
        const recipient& r = m.recipients[i];
        o += std::string(i ? "," : "") + "{\"address\":" + json_string(r.address) + ",\"address_type\":" + json_string(r.address_type) +
             ",\"status\":" + json_string(recipient_status_name(r));
        if (const auto* d = std::get_if<status::deferred>(&r.status))
            o += ",\"attempts\":" + std::to_string(d->attempts) + ",\"next_attempt\":" + json_string(iso(d->next_attempt)) +
                 ",\"last_error\":" + json_string(d->reason) + ",\"diagnostic\":" + json_string(d->diagnostic);
        else if (const auto* f = std::get_if<status::failed>(&r.status))
            o += ",\"last_error\":" + json_string(f->reason) + ",\"diagnostic\":" + json_string(f->diagnostic);
        else if (const auto* sent = std::get_if<status::sent>(&r.status))
            o += ",\"sent_at\":" + json_string(iso(sent->at));
        o += "}";
    }
    return o + "]}";
}

} // namespace spool::detail::web
