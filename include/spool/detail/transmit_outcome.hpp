#pragma once

#include <spool/message.hpp>

#include <cstdint>
#include <string>

namespace spool::detail {

/// What a transport reported for one assigned recipient, applied by the
/// spooler after the hand-off completes (or dropped, if it answered not_me).
/// Plain fields, not a recipient_status: a slot is reused for every hand-off.
struct transmit_outcome {
    enum class kind : std::uint8_t { none, sent, failed, deferred };
    kind what = kind::none;
    time_point at{}; ///< sent: when; deferred: the next attempt (the epoch: the retry policy decides)
    delivery_action action = delivery_action::delivered; ///< sent: how far
    std::string reason;
    std::string diagnostic;
};

} // namespace spool::detail
