#pragma once

// The completion handler of an asynchronous hand-off. A transport with
// `void async_transmit(spool::transmission<M>&, spool::transmit_handler)`
// starts the hand-off, returns, and later, from any thread, calls the handler
// once with the result, as a Boost.Asio completion handler is called once.
// Asio itself is not needed here: the handler is a plain move-only callable
// of signature void(spool::transmit_result).

#include <spool/transmission.hpp>

#include <memory>
#include <stdexcept>
#include <utility>

namespace spool {

/// Where a completed hand-off's result goes: the spooler's inbox, or the
/// testing kit's. It outlives the spooler for as long as a handler does, so a
/// late completion has somewhere to land. `handoff` is the token the handler
/// was made with; `complete` is called once per hand-off, from any thread.
class handoff_sink {
public:
    virtual void complete(void* handoff, transmit_result&& result) noexcept = 0;

protected:
    ~handoff_sink() = default;
};

class transmit_handler {
public:
    /// For the spooler (and spool::testing): the result goes to `sink`, with `handoff`.
    transmit_handler(std::shared_ptr<handoff_sink> sink, void* handoff) noexcept
        : sink_(std::move(sink)), handoff_(handoff) {}
    transmit_handler(transmit_handler&& other) noexcept
        : sink_(std::move(other.sink_)), handoff_(std::exchange(other.handoff_, nullptr)) {}
    transmit_handler& operator=(transmit_handler&& other) noexcept {
        if (this != &other) {
            abandon();
            sink_ = std::move(other.sink_);
            handoff_ = std::exchange(other.handoff_, nullptr);
        }
        return *this;
    }
    transmit_handler(const transmit_handler&) = delete;
    transmit_handler& operator=(const transmit_handler&) = delete;
    /// A handler dropped without being called completes its hand-off as busy,
    /// so its message is neither lost nor left locked.
    ~transmit_handler() { abandon(); }

    /// Completes the hand-off: the transmission's reports and this result are
    /// the spooler's from here on, and the transport must not touch the
    /// transmission again. Throws std::logic_error when called a second time.
    void operator()(transmit_result result) {
        if (!sink_)
            throw std::logic_error("spool::transmit_handler: this hand-off was already completed; "
                                   "a hand-off completes exactly once");
        const auto sink = std::move(sink_);
        sink->complete(handoff_, std::move(result));
    }

    /// Whether the hand-off still waits for this handler.
    explicit operator bool() const noexcept { return sink_ != nullptr; }

private:
    void abandon() noexcept {
        if (const auto sink = std::move(sink_)) sink->complete(handoff_, transmit_result::abandoned());
    }

    std::shared_ptr<handoff_sink> sink_;
    void* handoff_ = nullptr;
};

} // namespace spool
