#pragma once

#include <spool/flags.hpp>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace spool {

/// Wall-clock time: submit times and next attempts must mean the same after a restart.
using time_point = std::chrono::system_clock::time_point;

/// A message's identity within its store (MAPI: the entry id). The store assigns it.
enum class message_id : std::uint64_t {};

/// Prints the id's number: `std::cout << id`; `fmt::format("{}", id)` with fmt
/// 10 or later (through format_as); `std::format("{}", id)` with
/// <spool/format.hpp>, where the standard library has <format>.
template <class CharT, class Traits>
std::basic_ostream<CharT, Traits>& operator<<(std::basic_ostream<CharT, Traits>& out, message_id id) {
    return out << static_cast<std::uint64_t>(id);
}
constexpr std::uint64_t format_as(message_id id) noexcept { return static_cast<std::uint64_t>(id); }

/// A folder within a store. The well-known ones are in `spool::folders`;
/// any other value names a user folder.
enum class folder_id : std::uint32_t {};

namespace folders {
inline constexpr folder_id inbox{1};
inline constexpr folder_id outbox{2};
inline constexpr folder_id sent_items{3};
/// Where a store puts a message it can no longer decode, out of the queue's way.
inline constexpr folder_id quarantine{4};
} // namespace folders

// ---------------------------------------------------------------------------
// Recipients

/// MAPI_TO, MAPI_CC, MAPI_BCC.
enum class recipient_kind : std::uint8_t { to, cc, bcc };

/// How far a transport's hand-off took the message for one recipient: what a
/// delivery report says (RFC 3464 Action) and whether spool makes it.
enum class delivery_action : std::uint8_t {
    delivered, ///< to the recipient, as far as the transport can tell: the report says "delivered"
    relayed,   ///< to a next hop that makes no reports: the report says "relayed"
    /// to a next hop that took over the report request (an SMTP server that
    /// accepted DSN NOTIFY, RFC 3461): it reports, so spool makes no delivery report
    relayed_with_reports,
};

namespace status {
/// Nobody has settled this recipient yet.
struct pending {
    friend bool operator==(const pending&, const pending&) = default;
};
/// A transport handed the message to its messaging system for this recipient.
struct sent {
    time_point at{};
    delivery_action action = delivery_action::delivered;
    friend bool operator==(const sent&, const sent&) = default;
};
/// Not delivered yet; the spooler tries again at `next_attempt`.
struct deferred {
    time_point next_attempt{};
    std::string reason;
    unsigned attempts = 0;  ///< attempts made so far; the default backoff grows with it
    std::string diagnostic; ///< machine-readable detail of the last attempt, e.g. an RFC 3463 code ("4.2.2")
    friend bool operator==(const deferred&, const deferred&) = default;
};
/// Conclusively not delivered (MAPI: a non-delivery report is due).
struct failed {
    std::string reason;
    std::string diagnostic; ///< machine-readable detail, e.g. an RFC 3463 code
    friend bool operator==(const failed&, const failed&) = default;
};
} // namespace status

using recipient_status = std::variant<status::pending, status::sent, status::deferred, status::failed>;

/// MAPI PR_ORIGINATOR_DELIVERY_REPORT_REQUESTED and PR_ORIGINATOR_NON_DELIVERY_REPORT_REQUESTED.
struct report_requests {
    bool delivery = false;                ///< send a delivery report for each delivered recipient
    /// No non-delivery report, even on failure; and, with it, no delayed-delivery
    /// report (SMTP NOTIFY=NEVER when `delivery` is false too).
    bool non_delivery_suppressed = false;
    /// No delayed-delivery report while the message waits (SMTP NOTIFY without
    /// DELAY). A delay report is made only where spool::delay_warning is
    /// composed (docs/delay-warnings.md).
    bool delay_suppressed = false;
    friend bool operator==(const report_requests&, const report_requests&) = default;
};

/// One row of a message's recipient table.
struct recipient {
    std::string display_name;
    std::string address;      ///< MAPI PR_EMAIL_ADDRESS
    std::string address_type; ///< MAPI PR_ADDRTYPE: "SMTP", "FAX", ...; selects the transport
    recipient_kind kind = recipient_kind::to;
    /// MAPI PR_RESPONSIBILITY: true once a transport (or a tightly coupled
    /// store) has settled this recipient; false means a transport is still wanted.
    bool responsibility = false;
    recipient_status status = status::pending{};
    /// The spooler has decided on this recipient's report (sent one, or none was
    /// asked for). Stored with the message, so no retry or restart reports
    /// twice; submit clears it, so a message sent again is reported again.
    bool reported = false;
    /// This recipient's own report requests, overriding the message's.
    std::optional<report_requests> reports{};
    /// The spooler has decided on this recipient's delayed-delivery report
    /// (sent one, or none was asked for): at most one per submit, across
    /// restarts and processes, as `reported`.
    bool delay_reported = false;

    /// A recipient is resolved when a transport could be chosen for it.
    bool resolved() const noexcept { return !address.empty() && !address_type.empty(); }
    /// Sent or failed: nothing is left to do for this recipient.
    bool settled() const noexcept {
        return std::holds_alternative<status::sent>(status) || std::holds_alternative<status::failed>(status);
    }
    bool is_pending() const noexcept { return std::holds_alternative<status::pending>(status); }
    bool is_sent() const noexcept { return std::holds_alternative<status::sent>(status); }
    bool is_deferred() const noexcept { return std::holds_alternative<status::deferred>(status); }
    bool is_failed() const noexcept { return std::holds_alternative<status::failed>(status); }

    friend bool operator==(const recipient&, const recipient&) = default;
};

// ---------------------------------------------------------------------------
// Message-level properties

/// MAPI PR_MESSAGE_FLAGS (the subset a spooler reads or writes).
enum class message_flags : std::uint32_t {
    none = 0,
    read = 0x1,       ///< MSGFLAG_READ
    unmodified = 0x2, ///< MSGFLAG_UNMODIFIED
    submitted = 0x4,  ///< MSGFLAG_SUBMIT: on the outgoing queue, read-only to clients
    unsent = 0x8,     ///< MSGFLAG_UNSENT: the spooler has not finished with it
    from_me = 0x20,   ///< MSGFLAG_FROMME
    resend = 0x80,    ///< MSGFLAG_RESEND: submit sends only to recipients not yet recorded as sent
};
template <>
inline constexpr bool enable_flag_operators<message_flags> = true;

/// MAPI PR_SUBMIT_FLAGS.
enum class submit_flags : std::uint8_t {
    none = 0,
    locked = 0x1,     ///< SUBMITFLAG_LOCKED: the spooler holds it (never persisted)
    preprocess = 0x2, ///< SUBMITFLAG_PREPROCESS: preprocessors must run first
    /// Set by the client: send even to recipients on the suppression list
    /// (docs/suppression.md). Submit keeps it; the spooler sets the others.
    ignore_suppression = 0x4,
};
template <>
inline constexpr bool enable_flag_operators<submit_flags> = true;

/// MAPI PR_PRIORITY. It travels with the message; the queue is ordered by submit time, not by this.
enum class message_priority : std::int8_t { non_urgent = -1, normal = 0, urgent = 1 };

/// What happens to the message once every recipient is settled.
/// MAPI: PR_SENTMAIL_ENTRYID (move) and PR_DELETE_AFTER_SUBMIT (remove).
namespace disposition {
struct move_to {
    folder_id folder = folders::sent_items;
    friend bool operator==(const move_to&, const move_to&) = default;
};
struct leave_in_place {
    friend bool operator==(const leave_in_place&, const leave_in_place&) = default;
};
struct delete_after_submit {
    friend bool operator==(const delete_after_submit&, const delete_after_submit&) = default;
};
} // namespace disposition

using sent_mail_disposition =
    std::variant<disposition::move_to, disposition::leave_in_place, disposition::delete_after_submit>;

/// Who a message is from, or who gets its reports (MAPI PR_SENDER_*, PR_REPORT_*).
struct mailbox {
    std::string display_name;
    std::string address;
    std::string address_type;
    friend bool operator==(const mailbox&, const mailbox&) = default;
};

/// What a delivery or non-delivery report says about one recipient.
struct report_entry {
    std::string display_name;
    std::string address;
    std::string address_type;
    recipient_kind kind = recipient_kind::to;
    std::optional<time_point> delivered_at; ///< delivery reports (MAPI PR_DELIVER_TIME)
    std::string reason;                     ///< non-delivery reports (MAPI PR_REPORT_TEXT)
    std::string diagnostic;                 ///< e.g. an RFC 3463 status code
    delivery_action action = delivery_action::delivered; ///< delivery reports: delivered or relayed
    /// Delayed-delivery reports: when the spooler gives up (RFC 3464 Will-Retry-Until).
    std::optional<time_point> will_retry_until{};
    friend bool operator==(const report_entry&, const report_entry&) = default;
};

/// Delivered (a delivery report), failed (a non-delivery report), or not yet
/// delivered but still being tried (a delayed-delivery report, RFC 3464
/// Action: delayed; MAPI has no such report, Exchange's class for it is
/// Report.IPM.Note.Delayed).
enum class report_kind : std::uint8_t { delivery, non_delivery, delayed };

template <class Payload>
struct basic_message;

namespace detail {
// Addresses compare without case: mail systems treat Bob@X and bob@x as one
// mailbox in practice. ASCII only, as std::tolower in the "C" locale.
constexpr char fold_case(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr bool same_address(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (fold_case(a[i]) != fold_case(b[i])) return false;
    return true;
}
// What a report's subject says before the original's subject: written by
// the spooler, read back by the RFC 3464 rendering of a report without its original.
constexpr std::string_view report_subject_prefix(report_kind k) noexcept {
    return k == report_kind::delivery ? "Delivered: " : k == report_kind::delayed ? "Delivery delayed: " : "Undeliverable: ";
}
} // namespace detail

/// The body of a report message (MAPI: a message of class Report.<class>.DR or .NDR).
template <class Payload>
struct basic_report {
    report_kind kind = report_kind::delivery;
    time_point report_time{};
    std::vector<report_entry> entries;
    message_id original_id{};
    std::string original_class;
    std::optional<time_point> original_submit_time;
    std::vector<recipient> original_recipients; ///< who the original was addressed to (MAPI PR_ORIGINAL_DISPLAY_*)
    /// A non-delivery report carries the original message, as submitted, so it can be resent.
    std::vector<basic_message<Payload>> original;
    friend bool operator==(const basic_report&, const basic_report&) = default;
};

/// The default payload: what a mail message carries besides its envelope.
struct mail_payload {
    std::string subject{};
    std::string body{};
    std::vector<std::pair<std::string, std::string>> headers{};
    /// A complete RFC 5322 message of the sender's own making: a header
    /// section, an empty line, and a body (HTML, multipart alternatives,
    /// attachments). When set, `subject` and `body` stay empty and the SMTP
    /// renderer sends it as it is, after `headers` (a stamped Message-ID, a
    /// DKIM-Signature), adding Date and Message-ID only when neither has one.
    /// Submit checks its header section (docs/mime.md).
    std::string mime{};
    friend bool operator==(const mail_payload&, const mail_payload&) = default;
};

/// A message: the envelope the spooler works on, and a payload it never looks into.
template <class Payload>
struct basic_message {
    using payload_type = Payload;

    message_id id{};                      ///< assigned by the store
    std::string message_class = "IPM.Note"; ///< MAPI PR_MESSAGE_CLASS; empty becomes "IPM" at submit
    std::vector<recipient> recipients;
    message_flags flags = message_flags::unsent;
    submit_flags submission = submit_flags::none;
    std::optional<time_point> client_submit_time; ///< stamped at submit (PR_CLIENT_SUBMIT_TIME)
    message_priority priority = message_priority::normal;
    mailbox sender;                   ///< who sent it; reports go here unless report_to is set
    std::optional<mailbox> report_to{};///< MAPI PR_REPORT_ENTRYID
    sent_mail_disposition sent_mail = disposition::move_to{};
    report_requests reports;
    /// Set on report messages only.
    std::optional<basic_report<Payload>> report;
    /// MAPI PR_DEFERRED_DELIVERY_TIME: an option of the messaging system. The
    /// spooler passes it to the transport and does not hold the message for it.
    std::optional<time_point> deferred_delivery_time;
    Payload payload{};

    bool submitted() const noexcept { return has(flags, message_flags::submitted); }

    /// The recipient with this address (compared without case in ASCII, as
    /// submit compares addresses) and, if given, this address type; nullptr if none.
    recipient* find_recipient(std::string_view address, std::string_view address_type = {}) noexcept {
        for (recipient& r : recipients)
            if (detail::same_address(r.address, address) && (address_type.empty() || r.address_type == address_type)) return &r;
        return nullptr;
    }
    const recipient* find_recipient(std::string_view address, std::string_view address_type = {}) const noexcept {
        return const_cast<basic_message*>(this)->find_recipient(address, address_type);
    }

    friend bool operator==(const basic_message&, const basic_message&) = default;
};

using message = basic_message<mail_payload>;

/// When a queued message next needs the spooler, from its recipients alone:
/// the epoch (now) when a recipient awaits a transport with no attempt
/// scheduled, or none awaits one (it can finish); else the earliest next
/// attempt of a deferred recipient. A store with `due_queue()` keeps this
/// with each queue entry, so that a pass reads only what is due.
template <class Payload>
time_point next_attempt(const basic_message<Payload>& m) noexcept {
    std::optional<time_point> earliest;
    for (const recipient& r : m.recipients) {
        if (r.responsibility || r.settled()) continue;
        const auto* d = std::get_if<status::deferred>(&r.status);
        if (!d) return time_point{};
        earliest = earliest ? std::min(*earliest, d->next_attempt) : d->next_attempt;
    }
    return earliest.value_or(time_point{});
}

/// What an administrator asked of a queued message (docs/administration.md).
/// The store keeps it with the queue entry until the spooler applies it, at
/// the message's next pass: the one running, or the next to run. A stronger
/// request replaces a weaker one, never the reverse.
enum class admin_request : std::uint8_t {
    none = 0,
    flush = 1,              ///< attempt every deferred recipient now (a destination marked down is probed)
    expire = 2,             ///< fail the remaining recipients now, with a non-delivery report
    remove_with_report = 3, ///< as expire, then delete the message
    remove = 4,             ///< delete the message without a report
};

/// One row of the outgoing queue (MAPI: the outgoing queue table).
struct queue_entry {
    message_id id{};
    time_point client_submit_time{};
    submit_flags submission = submit_flags::none;
    /// How long the message was on hold: it does not count toward its lifetime.
    std::chrono::nanoseconds held_for{};
    admin_request request = admin_request::none;
    friend bool operator==(const queue_entry&, const queue_entry&) = default;
};

} // namespace spool
