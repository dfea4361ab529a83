#pragma once

// Where a transmission writes what its transport reported for each assigned
// recipient. The spooler reads the slots after the hand-off completes; the
// testing kit turns them into recipients with their status. A transport never
// names these: it calls transmission::sent, failed, deferred.

#include <spool/message.hpp>

#include <cstdint>
#include <string>

namespace spool {

namespace detail {
struct handoff_key_maker;
}
namespace testing::detail {
struct handoff_key_maker;
}

/// The key to a transmission's constructor: only the spooler and
/// spool::testing make one, so only they hand a transport a transmission and
/// read its outcome slots. A passkey: it opens nothing else.
class handoff_key {
    constexpr handoff_key() noexcept = default;
    friend struct detail::handoff_key_maker;
    friend struct testing::detail::handoff_key_maker;
};

namespace detail {
// The spooler's way to the key; the testing kit has its own.
struct handoff_key_maker {
    static handoff_key make() noexcept { return {}; }
};
} // namespace detail

/// What a transport reported for one assigned recipient, applied by the
/// spooler after the hand-off completes (or dropped, if it answered not_me).
/// Plain fields, not a recipient_status: a slot is reused for every hand-off.
struct recipient_outcome {
    enum class kind : std::uint8_t { none, sent, failed, deferred };
    kind what = kind::none;
    time_point at{}; ///< sent: when; deferred: the next attempt (the epoch: the retry policy decides)
    delivery_action action = delivery_action::delivered; ///< sent: how far
    std::string reason;
    std::string diagnostic;
};

} // namespace spool
