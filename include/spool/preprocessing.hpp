#pragma once

#include <spool/message.hpp>

#include <string>
#include <utility>
#include <vector>

namespace spool {

/// What a preprocessor says about a message.
class preprocess_result {
public:
    static preprocess_result ok() { return preprocess_result{true, {}}; }
    /// The message cannot be sent. The spooler keeps it and marks every
    /// unsettled recipient failed with this reason.
    static preprocess_result fail(std::string reason) { return preprocess_result{false, std::move(reason)}; }

    bool succeeded() const noexcept { return ok_; }
    const std::string& reason() const noexcept { return reason_; }

private:
    preprocess_result(bool ok, std::string reason) : ok_(ok), reason_(std::move(reason)) {}
    bool ok_;
    std::string reason_;
};

/// One preprocessor run on a locked message (MAPI: the PreprocessMessage
/// function). The preprocessor may change the message, and may report
/// recipients it finds undeliverable (they fail with non-delivery status).
template <class Message>
class preprocessing {
public:
    struct undeliverable_recipient {
        std::string address_type;
        std::string address;
        std::string reason;
        std::string diagnostic;
    };

    preprocessing(Message& message, time_point now) : message_(&message), now_(now) {}

    Message& message() noexcept { return *message_; }
    const Message& message() const noexcept { return *message_; }

    /// Recorded by address, not by position, so the preprocessor may also
    /// reorder or edit the recipient table.
    void undeliverable(const recipient& r, std::string reason, std::string diagnostic = {}) {
        undeliverable_.push_back({r.address_type, r.address, std::move(reason), std::move(diagnostic)});
    }

    time_point now() const noexcept { return now_; }

    const std::vector<undeliverable_recipient>& undeliverable_recipients() const noexcept { return undeliverable_; }

private:
    Message* message_;
    time_point now_;
    std::vector<undeliverable_recipient> undeliverable_;
};

} // namespace spool
