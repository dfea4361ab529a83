#pragma once

// What a client asks of the spooler it belongs to, beyond its store: submit
// and send (which expand, stamp, decide on preprocessing, and wake the
// spooler), the in-memory locks, and the queue's events. The spooler answers
// through this interface, so a client is typed on its store alone and its
// code instantiates none of the engine's: one indirect call per submit, beside
// a durable write.

#include <spool/detail/queue_state.hpp>
#include <spool/events.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>

#include <span>
#include <system_error>
#include <vector>

namespace spool::detail {

template <class Message>
class client_desk {
public:
    virtual std::error_code submit(message_id id) = 0;
    virtual result<message_id> send(Message& m) = 0;
    virtual result<std::vector<message_id>> send_all(std::span<Message> ms) = 0;
    virtual queue_state& queue() noexcept = 0;
    /// A client took the message off the queue (abort_submit): observers hear of it.
    virtual void queue_changed(const queue_changed_event& e) = 0;

protected:
    ~client_desk() = default;
};

} // namespace spool::detail
