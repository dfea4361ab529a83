#pragma once

#include <spool/message.hpp>

#include <cstddef>
#include <chrono>
#include <optional>
#include <string>

namespace spool {

/// What observers are told. Each is delivered on the thread that caused it:
/// the spooler's for everything it does, a client's for its submit and abort.

/// A message arrived and was committed (MAPI: fnevNewMail, NEWMAIL_NOTIFICATION).
struct new_mail_event {
    message_id id{};
    folder_id folder{};
    std::string message_class;
    message_flags flags{};
};

/// Every recipient of a submitted message is settled; the message left the queue.
struct message_finished_event {
    message_id id{};
    std::size_t sent = 0;
    std::size_t failed = 0;
    std::optional<time_point> submitted; ///< the message's client submit time
    time_point at{};                     ///< when the spooler settled the last recipient (its clock)
};

/// A recipient's status changed: sent, deferred (with its next attempt) or failed.
struct recipient_status_event {
    message_id id{};
    spool::recipient recipient;
};

/// The outgoing queue gained or lost a message (MAPI: the outgoing queue table's notification).
struct queue_changed_event {
    enum class change { added, removed };
    message_id id{};
    change what = change::added;
};

/// A hand-off to a transport ended, and the spooler applied what it reported.
struct handoff_event {
    std::size_t transport = 0; ///< position among the composed transports, from 0
    std::string destination;   ///< as the transport named it; empty for a transport that names none
    std::chrono::nanoseconds duration{}; ///< from its start to its completion, by the steady clock
    std::size_t sent = 0;      ///< recipients the hand-off settled as sent
    std::size_t deferred = 0;  ///< recipients left for a later attempt (retry, busy, site failure)
    std::size_t failed = 0;    ///< recipients that failed
};

/// A destination was marked down after site failures, or came back after a
/// probe (see spool::destination_health).
struct destination_event {
    enum class change { down, up };
    std::size_t transport = 0; ///< position among the composed transports, from 0
    std::string destination;
    change what = change::down;
    std::string reason;        ///< down: the last site failure
    time_point next_probe{};   ///< down: when one hand-off will probe it
};

/// The suppression list decided something (docs/suppression.md): `listed`,
/// a permanent failure put an address on it (told once the store recorded
/// it); `refused`, a submit failed a recipient whose address is on it (told
/// once the message was queued).
struct suppression_event {
    enum class change { listed, refused };
    message_id id{};     ///< the message
    std::string address; ///< as suppression_key() writes it
    change what = change::listed;
};

} // namespace spool
