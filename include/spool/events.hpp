#pragma once

#include <spool/message.hpp>

#include <cstddef>
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

} // namespace spool
