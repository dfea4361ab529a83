#pragma once

#include <spool/message.hpp>

#include <cstdint>
#include <string>

namespace spool::detail {

/// What a transport reported for one assigned recipient, applied by the
/// spooler after transmit() returns (or dropped, if it answered not_me). Plain
/// fields, not a recipient_status: a slot is reused for every hand-off.
struct transmit_outcome {
    enum class kind : std::uint8_t { none, sent, failed };
    kind what = kind::none;
    time_point at{};
    std::string reason;
    std::string diagnostic;
};

} // namespace spool::detail
