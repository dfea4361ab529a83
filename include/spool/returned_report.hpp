#pragma once

// A delivery status notification (RFC 3464) mailed back, days later, about a
// message this spool sent, as a postprocessor read it from incoming mail
// (spool::smtp_report_reader does for SMTP). The spooler applies it to the
// original: docs/returned-reports.md.

#include <spool/message.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace spool {

/// An RFC 3464 Action.
enum class dsn_action : std::uint8_t { failed, delayed, delivered, relayed, expanded };

/// What a returned report says about one recipient.
struct returned_recipient {
    /// The address the message was sent to: the rfc822 Original-Recipient
    /// (the ORCPT the SMTP transport sent), else the Final-Recipient.
    std::string address;
    dsn_action action = dsn_action::failed;
    std::string status;     ///< the RFC 3463 code, e.g. "5.1.1"
    std::string diagnostic; ///< the remote server's words (Diagnostic-Code without its type), if given
    std::string remote_mta; ///< Remote-MTA without its type, if given
    friend bool operator==(const returned_recipient&, const returned_recipient&) = default;
};

/// A report about a message this spool sent, its envelope id verified.
struct returned_report {
    message_id original{};     ///< the message it is about
    std::string reporting_mta; ///< Reporting-MTA without its type
    std::vector<returned_recipient> recipients;
    friend bool operator==(const returned_report&, const returned_report&) = default;
};

/// The entries of `report` that name a recipient of `original` (compared as
/// submit compares addresses, without case), each with that recipient's
/// index; an entry about anyone else changes nothing and is left out.
template <class Message>
std::vector<std::pair<std::size_t, const returned_recipient*>> recipients_of(const returned_report& report, const Message& original) {
    std::vector<std::pair<std::size_t, const returned_recipient*>> out;
    for (const returned_recipient& r : report.recipients)
        for (std::size_t i = 0; i < original.recipients.size(); ++i)
            if (detail::same_address(original.recipients[i].address, r.address)) {
                out.emplace_back(i, &r);
                break;
            }
    return out;
}

} // namespace spool
