#pragma once

// What differs from one composed transport to another, reduced to a row of
// function pointers made once per spooler: the hand-off stages are written
// once, not instantiated again for every transport type, and each transport
// type adds only these few small functions to a user's build.

#include <spool/detail/guarded.hpp>
#include <spool/detail/requirements.hpp>
#include <spool/detail/routing.hpp>
#include <spool/message.hpp>
#include <spool/transmission.hpp>
#include <spool/transmit_handler.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace spool::detail {

/// The composition's offer order, by transport (not by composed position):
/// the one both hand-off stages route with.
template <class Core>
offer_order<Core::policies::transport_count> composed_offer_order(const Core& core) {
    return offer_order<Core::policies::transport_count>(
        [&](std::size_t slot) { return &core.types_of(Core::policies::transport_position[slot]); });
}

/// Calls a synchronous transmit(). A transport that throws is treated as
/// busy: the message is kept and tried again.
template <class T, class Message>
transmit_result transmit_guarded(T& t, transmission<Message>& tx) {
    return guarded([&] { return t.transmit(tx); },
                   [](const std::string& what) { return transmit_result::busy("transport threw: " + what); });
}

/// Whether T declares `max_in_flight = 1`: it is called one hand-off at a time.
template <class T>
constexpr bool declares_limit_of_one = [] {
    if constexpr (transport_declares_limit<T>) return static_cast<std::size_t>(T::max_in_flight) == 1;
    else return false;
}();

/// Whether T declares a max_in_flight above 1: it wants hand-offs at once.
template <class T>
constexpr bool declares_limit_above_one = [] {
    if constexpr (transport_declares_limit<T>) return static_cast<std::size_t>(T::max_in_flight) > 1;
    else return false;
}();

/// One composed transport, as the hand-off stages call it.
template <class Message>
struct transport_row {
    void* self = nullptr;
    /// Completes later, through a transmit_handler (async_transmit); else transmit() returns the result.
    bool later = false;
    /// Names a destination per recipient (destination()); else it has one.
    bool names_destinations = false;
    /// Its own declared max_in_flight, 0 when it declares none.
    std::size_t declared_limit = 0;
    transmit_result (*transmit)(void*, transmission<Message>&) = nullptr;
    /// Starts an asynchronous hand-off; a throw completes it as busy (the handler, dropped unrun).
    void (*async_transmit)(void*, transmission<Message>&, transmit_handler) = nullptr;
    /// The recipient's destination; empty when the transport cannot name it.
    std::string (*destination)(void*, const recipient&) = nullptr;
    /// Asks it to cut its hand-offs short (a stop), where it can.
    void (*cancel)(void*) = nullptr;
};

template <class Message, class T>
transport_row<Message> row_of(T& t) {
    transport_row<Message> row;
    row.self = &t;
    row.later = transport_transmits_later<T, Message>;
    row.names_destinations = transport_names_destinations<T>;
    if constexpr (transport_declares_limit<T>) row.declared_limit = static_cast<std::size_t>(T::max_in_flight);
    if constexpr (transport_transmits_later<T, Message>) {
        row.async_transmit = [](void* p, transmission<Message>& tx, transmit_handler done) {
            try {
                static_cast<T*>(p)->async_transmit(tx, std::move(done));
            } catch (...) {
                // The handler, dropped unrun, has completed the hand-off as busy.
            }
        };
    } else {
        row.transmit = [](void* p, transmission<Message>& tx) { return transmit_guarded(*static_cast<T*>(p), tx); };
    }
    if constexpr (transport_names_destinations<T>)
        row.destination = [](void* p, const recipient& r) {
            return guarded([&] { return std::string(std::string_view(static_cast<const T*>(p)->destination(r))); },
                           [](const std::string&) { return std::string{}; });
        };
    if constexpr (transport_cancels<T>)
        row.cancel = [](void* p) { guarded([&] { static_cast<T*>(p)->cancel_transmissions(); }, [](const std::string&) {}); };
    return row;
}

} // namespace spool::detail
