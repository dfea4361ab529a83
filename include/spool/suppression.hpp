#pragma once

// The suppression list: addresses that failed permanently in a way that says
// they do not exist, to which the spooler sends no more (docs/suppression.md).
// A sender that keeps mailing them loses its reputation with the mailbox
// providers.

#include <spool/clock.hpp>
#include <spool/message.hpp>
#include <spool/tags.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spool {

/// One address on the list, and why.
struct suppression_entry {
    std::string address;              ///< as suppression_key() writes it
    std::string reason;               ///< the remote reply that put it there, or an operator's note
    std::string diagnostic;           ///< the reply's enhanced status code (5.1.1), if any
    time_point added{};
    std::optional<time_point> expires{}; ///< none: until removed
    message_id source{};              ///< the message whose failure added it; 0 when added by hand
    friend bool operator==(const suppression_entry&, const suppression_entry&) = default;
};

/// The form an address is kept and looked up in: the domain (after the last
/// '@') in lower case, since domains compare without case; the local part as
/// it is, since RFC 5321 §2.4 leaves its case to the receiving host, unless
/// `fold_local_part`. ASCII only; surrounding spaces are trimmed.
inline std::string suppression_key(std::string_view address, bool fold_local_part = false) {
    while (!address.empty() && (address.front() == ' ' || address.front() == '\t')) address.remove_prefix(1);
    while (!address.empty() && (address.back() == ' ' || address.back() == '\t')) address.remove_suffix(1);
    const std::size_t at = address.rfind('@');
    std::string out;
    out.reserve(address.size());
    for (std::size_t i = 0; i < address.size(); ++i)
        out += (fold_local_part || (at != std::string_view::npos && i > at)) ? detail::fold_case(address[i]) : address[i];
    return out;
}

/// A setting (compose it with the spooler) that turns the list on, for a
/// store with SuppressionListStore:
/// - at submit, a recipient on the list fails at once, with a reason naming
///   the entry and a non-delivery report, unless the message has
///   submit_flags::ignore_suppression;
/// - a permanent failure whose diagnostic is one of `codes` adds its address.
struct suppression_policy {
    using spool_concept = setting_tag;

    /// RFC 3463 codes that say the address does not exist or takes no mail:
    /// bad mailbox (5.1.1), bad system (5.1.2), moved with no forwarding
    /// address (5.1.6), a domain that takes no mail (null MX, 5.1.10), a
    /// disabled mailbox (5.2.1).
    std::vector<std::string> codes{"5.1.1", "5.1.2", "5.1.6", "5.1.10", "5.2.1"};
    /// How long an entry the spooler adds lasts; none: until removed.
    std::optional<std::chrono::seconds> lifetime{};
    /// Compare local parts without case too (suppression_key).
    bool fold_local_part = false;

    bool suppresses(std::string_view diagnostic) const {
        for (const auto& c : codes)
            if (c == diagnostic) return true;
        return false;
    }
};

} // namespace spool
