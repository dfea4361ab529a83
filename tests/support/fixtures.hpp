#pragma once

// Small policies and helpers the tests share. They are real models of the
// concepts, written the way a user would write them.

#include <spool/spool.hpp>

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace spool_test {

inline spool::recipient smtp(std::string address, spool::recipient_kind kind = spool::recipient_kind::to) {
    return {address, address, "SMTP", kind};
}
inline spool::recipient fax(std::string number) { return {number, number, "FAX"}; }

inline spool::message mail(std::vector<spool::recipient> recipients, std::string subject = "hello") {
    spool::message m;
    m.recipients = std::move(recipients);
    m.payload.subject = std::move(subject);
    return m;
}

template <class Alternative>
bool is(const spool::recipient& r) {
    return std::holds_alternative<Alternative>(r.status);
}

/// A transport whose answer a test scripts call by call.
class scripted_transport {
public:
    using spool_concept = spool::transport_tag;
    using script = std::function<spool::transmit_result(spool::transmission<spool::message>&)>;

    scripted_transport(spool::address_types types, script s) : types_(std::move(types)), script_(std::move(s)) {}

    spool::address_types address_types() const { return types_; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        ++*calls_;
        return script_(tx);
    }
    int calls() const { return *calls_; }

private:
    spool::address_types types_;
    script script_;
    std::shared_ptr<int> calls_ = std::make_shared<int>(0);
};

/// A preprocessor that appends its name to a shared log and runs a test's action.
class logging_preprocessor {
public:
    using spool_concept = spool::preprocessor_tag;
    using action = std::function<spool::preprocess_result(spool::preprocessing<spool::message>&)>;

    logging_preprocessor(std::string name, spool::address_types types, std::shared_ptr<std::vector<std::string>> log,
                         action a = {})
        : name_(std::move(name)), types_(std::move(types)), log_(std::move(log)), action_(std::move(a)) {}

    spool::address_types address_types() const { return types_; }
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>& job) {
        log_->push_back(name_);
        return action_ ? action_(job) : spool::preprocess_result::ok();
    }

private:
    std::string name_;
    spool::address_types types_;
    std::shared_ptr<std::vector<std::string>> log_;
    action action_;
};

/// The usual set-up: an in-memory store, one catch-all in-memory transport and
/// a manual clock, composed into a spooler, with a client on it.
struct rig {
    using spooler_type = spool::spooler<spool::memory_store, spool::memory_transport, spool::manual_clock>;
    spool::memory_store store;
    spool::memory_transport transport;
    spool::manual_clock clock;
    spooler_type sp{store, transport, clock};
    spooler_type::client_type client = sp.client();
};

} // namespace spool_test
