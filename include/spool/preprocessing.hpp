#pragma once

#include <spool/message.hpp>

#include <string>
#include <utility>
#include <vector>

namespace spool {

/// What a preprocessor or postprocessor says about its run.
class processing_result {
public:
    static processing_result ok() { return processing_result{}; }
    /// A preprocessor's failure: the message cannot be sent, and every unsettled
    /// recipient fails with this reason. A postprocessor's: it is counted, and
    /// the message is committed all the same.
    static processing_result fail(std::string reason) { return processing_result{false, std::move(reason)}; }

    bool succeeded() const noexcept { return ok_; }
    const std::string& reason() const noexcept { return reason_; }

private:
    processing_result() = default; // ok, without a reason to build
    processing_result(bool ok, std::string reason) : ok_(ok), reason_(std::move(reason)) {}
    bool ok_ = true;
    std::string reason_;
};

/// Each name reads naturally in its own role; they are one type.
using preprocess_result = processing_result;
using postprocess_result = processing_result;

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
