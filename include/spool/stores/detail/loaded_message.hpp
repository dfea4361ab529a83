#pragma once

// A message body a durable store read back, decoded by the rule both stores
// keep: one in a newer spool's format is left as it is (errc::format_too_new);
// one that cannot be decoded, or whose checksum does not match, is moved out
// of the queue's way into folders::quarantine, for a person to look at
// (errc::corrupt_message).

#include <spool/error.hpp>
#include <spool/mail/codec.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>

#include <string_view>
#include <utility>

namespace spool::detail {

/// `quarantine(id)` moves the message to the quarantine folder and out of the queue.
template <class Payload, class Quarantine>
result<basic_message<Payload>> loaded_message(message_id id, std::string_view body, Quarantine&& quarantine) {
    auto m = decode<Payload>(body);
    if (!m && m.error() == errc::format_too_new) return m.error();
    if (!m) {
        std::forward<Quarantine>(quarantine)(id);
        return errc::corrupt_message;
    }
    m->id = id;
    return std::move(*m);
}

} // namespace spool::detail
