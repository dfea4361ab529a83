#pragma once

// Which transport a recipient is offered to, defined once for the spooler's
// rounds and the coupled store's submit: the offer order (MAPI: exact address
// types first, catch-alls after, each group in composed order) and the mark
// that says where each recipient of a round is.

#include <spool/address_types.hpp>
#include <spool/detail/recipient_state.hpp>
#include <spool/message.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace spool::detail {

/// Where a recipient is in a round: the step of the offer order it waits for,
/// or one of the marks below. An enum rather than std::uint8_t because a
/// store through a character type may alias anything, and every loop of a
/// round would then reload what it reads after each store.
enum class route_mark : std::uint8_t {};

inline constexpr route_mark done_here{0xFF}; // not in play, settled, deferred or held in this round
inline constexpr route_mark unrouted{0xFE};  // in play, and no step left matches it
inline constexpr route_mark in_hand{0xFD};   // in a hand-off, in flight or waiting for room
constexpr route_mark route_step(std::size_t step) noexcept { return static_cast<route_mark>(step); }

/// The address types at each step of the offer order, and each transport's
/// step. Transports are numbered 0 to Positions - 1 in composed order.
/// Address types do not change while the spooler runs, so it is made once.
template <std::size_t Positions>
class offer_order {
public:
    static constexpr std::uint8_t not_offered = 0xFF;

    /// `types_at(i)`: the address types of transport i (nullptr: none).
    template <class TypesAt>
    explicit offer_order(TypesAt&& types_at) {
        static_assert(Positions < 0xFD, "spool: too many composed transports");
        step_of_.fill(not_offered);
        for (bool exact : {true, false}) {
            for (std::size_t i = 0; i < Positions; ++i)
                if (const spool::address_types* t = types_at(i); t && t->catch_all() != exact) {
                    step_of_[i] = static_cast<std::uint8_t>(size_);
                    transport_at_[size_] = static_cast<std::uint8_t>(i);
                    steps_[size_++] = t;
                }
            if (exact) exact_steps_ = size_;
        }
    }

    /// Whether transport i matches exact address types (not a catch-all).
    bool exact(std::size_t i) const noexcept { return step_of_[i] < exact_steps_; }

    std::span<const spool::address_types* const> steps() const noexcept { return {steps_.data(), size_}; }
    /// The step of transport i.
    std::size_t step_of(std::size_t i) const noexcept { return step_of_[i]; }
    /// The transport at a step.
    std::size_t transport_at(std::size_t step) const noexcept { return transport_at_[step]; }

private:
    std::array<const spool::address_types*, Positions> steps_{};
    std::array<std::uint8_t, Positions> step_of_{};
    std::array<std::uint8_t, Positions> transport_at_{};
    std::size_t size_ = 0;
    std::size_t exact_steps_ = 0; // the steps before the first catch-all
};

/// The first step from `step` on whose address types match `r`, or unrouted.
inline route_mark next_route(const recipient& r, std::size_t step, std::span<const spool::address_types* const> steps) {
    for (; step < steps.size(); ++step)
        if (steps[step]->matches(r.address_type)) return route_step(step);
    return unrouted;
}

/// Routes each recipient due now once, to the first step that matches it; a
/// transport that declines one passes it to the next (next_route). Offering
/// is then a scan for a step's mark, not a string comparison per transport.
/// Returns how many recipients no step matches.
template <class Message>
std::size_t route_due(std::vector<route_mark>& route, const Message& m, time_point now,
                      std::span<const spool::address_types* const> steps) {
    std::size_t nowhere = 0;
    route.resize(m.recipients.size());
    for (std::size_t i = 0; i < route.size(); ++i) {
        const recipient& r = m.recipients[i];
        const auto* d = std::get_if<status::deferred>(&r.status);
        route[i] = awaiting_transport(r) && (!d || d->next_attempt <= now) ? next_route(r, 0, steps) : done_here;
        nowhere += route[i] == unrouted ? 1 : 0;
    }
    return nowhere;
}

/// The round is over: the `count` recipients still unrouted fail, as no transport took them.
template <class Message>
void fail_unrouted(Message& m, std::span<route_mark> route, std::size_t count) {
    for (std::size_t i = 0; count > 0 && i < route.size(); ++i)
        if (route[i] == unrouted) {
            --count;
            route[i] = done_here;
            recipient& r = m.recipients[i];
            fail(r, "no transport accepted address type '" + r.address_type + "'", no_route_diagnostic);
        }
}

} // namespace spool::detail
