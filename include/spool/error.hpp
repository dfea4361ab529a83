#pragma once

#include <string>
#include <system_error>

namespace spool {

/// The conditions a caller of spool can act on. Each value names the MAPI
/// error it stands for, so that readers of the MAPI documentation find their way.
enum class errc {
    /// The message has no recipients (MAPI_E_NO_RECIPIENTS).
    no_recipients = 1,
    /// A recipient has no address or no address type, so no transport can take it.
    unresolved_recipient,
    /// The message is already on the outgoing queue; submit it once.
    already_submitted,
    /// The spooler holds the message locked; no client may open it (MAPI_E_NO_ACCESS).
    no_access,
    /// The message is queued and cannot be opened for modification (MAPI_E_SUBMITTED).
    submitted,
    /// The spooler has locked the message; it can no longer be aborted (MAPI_E_UNABLE_TO_ABORT).
    unable_to_abort,
    /// The message is not on the outgoing queue, typically because it was already sent (MAPI_E_NOT_IN_QUEUE).
    not_in_queue,
    /// No message with that id exists in the store (MAPI_E_NOT_FOUND).
    not_found,
    /// The store could not carry out a durable step (I/O, full disk, corrupt row).
    store_failure,
    /// A stored message could not be decoded; the store moved it to folders::quarantine.
    corrupt_message,
    /// The database is not a spool store (another application's, or not a database).
    not_a_spool_store,
    /// The database was written by a newer spool, with a schema this build does not know.
    schema_too_new,
    /// A stored message was written in a format newer than this build reads; it was left as it was.
    format_too_new,
    /// The message, encoded, is larger than the store accepts; nothing was written.
    message_too_large,
    /// The database file is a damaged SQLite database (not another application's): recover it, do not discard it.
    damaged_store,
    /// The database names spool's schema with a version that no spool ever wrote.
    invalid_schema,
    /// Another spooler already works this store (the exception's text names its process).
    spool_in_use,
    /// This process's lease on a queued message expired and another process
    /// claimed it: the write was refused, as that process now owns the outcome
    /// (the fencing token of a shared queue no longer matched).
    lease_lost,
    /// The store's database server cannot be reached now; the store reconnects
    /// by itself, with a growing pause between attempts.
    store_unavailable,
    /// An address (the sender's, report_to's or a recipient's) has a control
    /// character, or a transport that checks its recipients cannot send it as
    /// it is; the message was not submitted.
    invalid_address,
    /// A header field (a display name, the subject, or a header of the
    /// payload) has a control character other than a fold (CR LF and a space
    /// or tab), or a name that is not an RFC 5322 field-name; the message was
    /// not submitted.
    invalid_header_value,
    /// The sender's own MIME message (mail_payload::mime) cannot be sent as
    /// it is: its header section is malformed or empty, a line is longer than
    /// 998 octets, or `subject` or `body` is set beside it; the message was
    /// not submitted.
    invalid_mime,
};

namespace detail {
class error_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "spool"; }

    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::no_recipients: return "the message has no recipients";
        case errc::unresolved_recipient: return "a recipient has no address or address type";
        case errc::already_submitted: return "the message is already submitted";
        case errc::no_access: return "the message is locked by the spooler";
        case errc::submitted: return "the message is queued for sending and cannot be modified";
        case errc::unable_to_abort: return "the spooler has locked the message; it can no longer be aborted";
        case errc::not_in_queue: return "the message is not in the outgoing queue";
        case errc::not_found: return "no such message";
        case errc::store_failure: return "the store could not complete the operation";
        case errc::corrupt_message: return "the stored message could not be decoded; it was moved to quarantine";
        case errc::not_a_spool_store: return "the database is not a spool store";
        case errc::schema_too_new: return "the database was written by a newer spool and cannot be opened";
        case errc::format_too_new: return "the stored message was written by a newer spool; it was left as it was";
        case errc::message_too_large: return "the message is larger than the store accepts";
        case errc::damaged_store:
            return "the database is damaged; recover it (sqlite3 <file> .recover) rather than discard it";
        case errc::invalid_schema: return "the database's spool schema version is not one spool ever wrote";
        case errc::spool_in_use: return "another spooler already works this store";
        case errc::lease_lost:
            return "the lease on the message was lost to another process, which owns its outcome now; the write was refused";
        case errc::store_unavailable: return "the store's database server cannot be reached";
        case errc::invalid_address:
            return "an address (the sender's, report_to's or a recipient's) cannot be sent as it is: a control character, or "
                   "refused by the transport that would send it";
        case errc::invalid_header_value:
            return "a header field (a display name, the subject or a payload header) cannot be sent as it is: a control "
                   "character other than a fold, or a name that is not an RFC 5322 field-name";
        case errc::invalid_mime:
            return "the message's own MIME text cannot be sent as it is: a malformed or empty header section, a line over "
                   "998 octets, or a subject or body set beside it";
        }
        return "unknown spool error";
    }
};
} // namespace detail

/// The category of every error_code spool produces.
inline const std::error_category& spool_category() noexcept {
    static const detail::error_category category;
    return category;
}

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), spool_category()};
}

} // namespace spool

template <>
struct std::is_error_code_enum<spool::errc> : std::true_type {};
