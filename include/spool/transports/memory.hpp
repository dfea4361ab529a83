#pragma once

#include <spool/address_types.hpp>
#include <spool/message.hpp>
#include <spool/reception.hpp>
#include <spool/tags.hpp>
#include <spool/transmission.hpp>

#include <chrono>
#include <concepts>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace spool {

/// A Transport that delivers into memory, for examples and tests. It can be
/// taken offline (its messaging system "unavailable": transmit returns
/// retry_after) and brought back, told to reject some addresses (failed) or to
/// decline them (left for the next transport). It also receives: arrive()
/// puts mail in its messaging system for the spooler to poll; a message leaves
/// it only once the store has saved it. Copies share one mailbox.
class memory_transport {
public:
    using spool_concept = transport_tag;

    struct delivery {
        message_id message{};
        std::string address_type;
        std::string address;
        std::string delivery_key;
        std::string subject; ///< empty unless the payload is a mail_payload
        std::optional<time_point> deferred_delivery_time;
    };

    explicit memory_transport(spool::address_types types = spool::address_types::any())
        : state_(std::make_shared<state>(std::move(types))) {}

    spool::address_types address_types() const { return state_->types; }

    template <class Message>
    transmit_result transmit(transmission<Message>& tx) {
        std::lock_guard g{state_->mutex};
        ++state_->calls;
        if (state_->offline) return transmit_result::retry_after(state_->retry_after, "messaging system offline");
        for (const recipient& r : tx.recipients()) {
            if (state_->declined.contains(r.address)) continue;
            if (state_->rejected.contains(r.address)) {
                tx.failed(r, "mailbox unavailable", "5.1.1");
                continue;
            }
            delivery d{tx.message().id, r.address_type, r.address, tx.delivery_key(r), {}, tx.message().deferred_delivery_time};
            if constexpr (requires { tx.message().payload.subject; }) d.subject = tx.message().payload.subject;
            state_->deliveries.push_back(std::move(d));
            tx.sent(r);
        }
        return transmit_result::done();
    }

    /// Incoming side: mail waiting in the transport's messaging system. The
    /// spooler polls for it (MAPI LOGON_SP_POLL) and takes it one by one.
    void arrive(spool::message m) {
        std::lock_guard g{state_->mutex};
        state_->incoming.push_back(std::move(m));
    }
    bool mail_waiting() const {
        std::lock_guard g{state_->mutex};
        ++state_->polls;
        return !state_->incoming.empty();
    }
    template <class Message>
        requires std::same_as<Message, spool::message>
    receive_result receive(reception<Message>& handover) {
        {
            std::lock_guard g{state_->mutex};
            if (state_->incoming.empty()) return receive_result::nothing();
            handover.message() = state_->incoming.front();
        }
        // Saved before the mail leaves the messaging system, which keeps it if
        // the store refuses it. Not under the lock: saving runs postprocessors.
        if (const std::error_code ec = handover.save())
            return receive_result::failed("the store refused the message: " + ec.message());
        std::lock_guard g{state_->mutex};
        state_->incoming.erase(state_->incoming.begin());
        return receive_result::received();
    }
    /// How many times the spooler asked whether mail waits.
    std::size_t polls() const {
        std::lock_guard g{state_->mutex};
        return state_->polls;
    }

    /// Until online(), every transmit answers retry_after(delay).
    void offline(std::chrono::seconds delay) {
        std::lock_guard g{state_->mutex};
        state_->offline = true;
        state_->retry_after = delay;
    }
    void online() {
        std::lock_guard g{state_->mutex};
        state_->offline = false;
    }
    void reject(std::string address) {
        std::lock_guard g{state_->mutex};
        state_->rejected.insert(std::move(address));
    }
    void decline(std::string address) {
        std::lock_guard g{state_->mutex};
        state_->declined.insert(std::move(address));
    }

    std::vector<delivery> deliveries() const {
        std::lock_guard g{state_->mutex};
        return state_->deliveries;
    }
    /// How many times transmit was called.
    std::size_t calls() const {
        std::lock_guard g{state_->mutex};
        return state_->calls;
    }

private:
    struct state {
        explicit state(spool::address_types t) : types(std::move(t)) {}
        std::mutex mutex;
        spool::address_types types;
        bool offline = false;
        std::chrono::seconds retry_after{60};
        std::set<std::string> rejected, declined;
        std::vector<delivery> deliveries;
        std::vector<spool::message> incoming;
        std::size_t calls = 0;
        std::size_t polls = 0;
    };
    std::shared_ptr<state> state_;
};

} // namespace spool
