#pragma once

// Reads delivery status notifications (RFC 3464) mailed back about messages
// this spool sent through SMTP: from the incoming mail's MIME text, its
// envelope id verified; and the postprocessor that hands what it read to the
// spooler (docs/returned-reports.md).

#include <spool/mail/detail/header_section.hpp>
#include <spool/mail/detail/mime_parts.hpp>
#include <spool/message.hpp>
#include <spool/preprocessing.hpp>
#include <spool/reception.hpp>
#include <spool/returned_report.hpp>
#include <spool/smtp/envelope_id.hpp>
#include <spool/tags.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spool {

namespace detail::smtp {

// "rfc822; <a@b>" -> "a@b"; empty unless the type is `type` (compared without case).
inline std::string typed_value(std::string_view value, std::string_view type) {
    const std::size_t semi = value.find(';');
    if (semi == std::string_view::npos) return {};
    if (!same_field_name(trimmed(value.substr(0, semi)), type)) return {};
    std::string_view v = trimmed(value.substr(semi + 1));
    if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
    return std::string(v);
}

// What follows "type;" in a typed field, whatever the type.
inline std::string untyped(std::string_view value) {
    const std::size_t semi = value.find(';');
    return std::string(trimmed(semi == std::string_view::npos ? value : value.substr(semi + 1)));
}

// The blocks of fields of a message/delivery-status body, separated by empty lines.
template <class Block>
bool for_each_status_block(std::string_view body, Block&& block) {
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t peek = pos;
        if (next_line(body, peek).empty()) { // blank lines between blocks
            pos = peek;
            continue;
        }
        const std::string_view rest = body.substr(pos);
        std::vector<std::pair<std::string_view, std::string>> fields;
        if (!for_each_field(rest, [&](std::string_view n, std::string_view v) { fields.emplace_back(n, unfolded(v)); }))
            return false;
        block(fields);
        const std::string_view after = mime_body(rest);
        if (after.empty()) break;
        pos = body.size() - after.size();
    }
    return true;
}

inline std::optional<dsn_action> action_named(std::string_view value) {
    std::string v(trimmed(value.substr(0, value.find_first_of(" \t("))));
    for (char& c : v) c = fold_case(c);
    using a = dsn_action;
    if (v == "failed") return a::failed;
    if (v == "delayed") return a::delayed;
    if (v == "delivered") return a::delivered;
    if (v == "relayed") return a::relayed;
    if (v == "expanded") return a::expanded;
    return std::nullopt;
}

} // namespace detail::smtp

/// The largest incoming message read_returned_report() looks into by default:
/// a report carries at most the original's headers or the original whole,
/// and a larger one is left unparsed.
inline constexpr std::size_t returned_report_limit = 1 << 20;

/// The report `mime` holds (a complete RFC 5322 message, as a receiving
/// transport puts in mail_payload::mime), if it is a multipart/report of
/// report-type delivery-status whose Original-Envelope-Id verifies under
/// `secret` (verify_envelope_id). nullopt for anything else: another kind of
/// mail, a report about mail this spool did not send or whose id does not
/// verify, a malformed one, one larger than `limit` bytes (not parsed at
/// all), or one with no per-recipient block it can read. A block without a
/// recipient or an Action it knows is left out.
inline std::optional<returned_report> read_returned_report(std::string_view mime, std::string_view secret,
                                                           std::size_t limit = returned_report_limit) {
    using namespace detail::smtp;
    using detail::content_type_parameter, detail::media_type, detail::multipart_parts, detail::trimmed;
    if (mime.size() > limit || secret.empty()) return std::nullopt;
    const auto content_type = detail::mime_field(mime, "Content-Type");
    if (!content_type) return std::nullopt;
    const std::string type = detail::unfolded(*content_type);
    if (media_type(type) != "multipart/report") return std::nullopt;
    std::string report_type = content_type_parameter(type, "report-type");
    for (char& c : report_type) c = detail::fold_case(c);
    const std::string boundary = content_type_parameter(type, "boundary");
    if (report_type != "delivery-status" || boundary.empty()) return std::nullopt;

    for (std::string_view part : multipart_parts(detail::mime_body(mime), boundary)) {
        const auto part_type = detail::mime_field(part, "Content-Type");
        if (!part_type || media_type(detail::unfolded(*part_type)) != "message/delivery-status") continue;
        returned_report report;
        bool first = true, verified = false;
        const bool read = for_each_status_block(detail::mime_body(part), [&](const auto& fields) {
            auto value = [&](std::string_view name) -> const std::string* {
                for (const auto& [n, v] : fields)
                    if (detail::same_field_name(n, name)) return &v;
                return nullptr;
            };
            if (first) { // the per-message block
                first = false;
                if (const std::string* envid = value("Original-Envelope-Id")) {
                    if (const auto id = verify_envelope_id(*envid, secret)) {
                        report.original = *id;
                        verified = true;
                    }
                }
                if (const std::string* mta = value("Reporting-MTA")) report.reporting_mta = untyped(*mta);
                return;
            }
            returned_recipient r;
            if (const std::string* original = value("Original-Recipient")) r.address = typed_value(*original, "rfc822");
            if (r.address.empty())
                if (const std::string* final_recipient = value("Final-Recipient")) r.address = typed_value(*final_recipient, "rfc822");
            const std::string* action = value("Action");
            const auto known = action ? action_named(*action) : std::nullopt;
            if (r.address.empty() || !known) return;
            r.action = *known;
            if (const std::string* status = value("Status")) r.status = std::string(trimmed(status->substr(0, status->find_first_of(" \t("))));
            if (const std::string* diagnostic = value("Diagnostic-Code")) r.diagnostic = untyped(*diagnostic);
            if (const std::string* remote = value("Remote-MTA")) r.remote_mta = untyped(*remote);
            report.recipients.push_back(std::move(r));
        });
        if (!read || !verified || report.recipients.empty()) return std::nullopt;
        return report;
    }
    return std::nullopt;
}

/// A Postprocessor that recognises, among incoming mail, the reports about
/// messages this spool sent (read_returned_report under `secret`, the same
/// as smtp_options::envelope_id_secret) and hands each to the spooler, which
/// applies it to the original (docs/returned-reports.md). Any other mail it
/// leaves as it is, for the postprocessors after it. Compose it first.
struct smtp_report_reader {
    using spool_concept = postprocessor_tag;

    std::string secret;
    /// Incoming mail larger than this is not parsed.
    std::size_t limit = returned_report_limit;

    template <class Message>
    postprocess_result postprocess(postprocessing<Message>& job) const {
        if constexpr (requires { job.message().payload.mime; }) {
            if (auto report = read_returned_report(job.message().payload.mime, secret, limit)) job.report_returned(std::move(*report));
        }
        return postprocess_result::ok();
    }
};

} // namespace spool
