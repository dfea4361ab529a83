#pragma once

#include <spool/message.hpp>
#include <spool/returned_report.hpp>

#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace spool {

/// What a receiving transport says about one hand-over (MAPI: IXPLogon::StartMessage).
class receive_result {
public:
    enum class kind {
        received, ///< the message is filled: commit it
        nothing,  ///< no mail after all (MAPI: StartMessage without SaveChanges)
        failed,   ///< the transport could not fill it: it is not committed
    };
    static receive_result received() { return receive_result{kind::received, {}}; }
    static receive_result nothing() { return receive_result{kind::nothing, {}}; }
    static receive_result failed(std::string reason) { return receive_result{kind::failed, std::move(reason)}; }

    kind what() const noexcept { return kind_; }
    const std::string& reason() const noexcept { return reason_; }

private:
    receive_result(kind k, std::string reason) : kind_(k), reason_(std::move(reason)) {}
    kind kind_;
    std::string reason_;
};

/// One incoming message being handed over: the transport fills `message()`.
template <class Message>
class reception {
public:
    /// For the spooler: `commit(message)` runs the postprocessors and has the
    /// store commit the message, returning the store's error if it fails.
    template <class Commit>
    reception(Message& message, time_point now, Commit& commit)
        : message_(&message), now_(now), commit_context_(&commit),
          commit_([](void* context, Message& m) -> std::error_code { return (*static_cast<Commit*>(context))(m); }) {}

    Message& message() noexcept { return *message_; }
    time_point now() const noexcept { return now_; }

    /// Commits the filled message now, from inside receive() (MAPI: the
    /// transport's SaveChanges in StartMessage), so that the transport learns
    /// whether the store has it before it lets go of its own copy: on an error
    /// it keeps the mail and answers `failed`, and the mail is taken again on a
    /// later pass. Without a call the spooler commits after receive() answers
    /// `received`, and a store that fails then loses the message. A
    /// postprocessor that discards the message makes this a success that
    /// commits nothing. Once it has succeeded, later calls do nothing.
    std::error_code save() {
        if (saved_) return {};
        if (const std::error_code ec = commit_(commit_context_, *message_)) return ec;
        saved_ = true;
        return {};
    }
    /// Whether save() has succeeded.
    bool saved() const noexcept { return saved_; }

private:
    Message* message_;
    time_point now_;
    // The spooler's commit, behind a plain function pointer: reception is a
    // type transports name, so it cannot carry the spooler's type.
    void* commit_context_;
    std::error_code (*commit_)(void*, Message&);
    bool saved_ = false;
};

/// Given to a signalling transport (one with `on_mail_waiting`): call it when
/// mail is waiting (MAPI: SpoolerNotify(NOTIFY_NEWMAIL)). Safe from any thread.
class mail_signal {
public:
    explicit mail_signal(std::function<void()> raise) : raise_(std::move(raise)) {}
    void operator()() const { raise_(); }

private:
    std::function<void()> raise_;
};

/// One run of a postprocessor on an incoming message before it is committed.
template <class Message>
class postprocessing {
public:
    postprocessing(Message& message, folder_id folder, time_point now) : message_(&message), folder_(folder), now_(now) {}

    Message& message() noexcept { return *message_; }
    const Message& message() const noexcept { return *message_; }
    /// The folder the message will be committed to.
    folder_id folder() const noexcept { return folder_; }
    void reroute(folder_id to) noexcept { folder_ = to; }
    /// The message is not committed at all (MAPI: a hook deleted it).
    void discard() noexcept { discarded_ = true; }
    bool discarded() const noexcept { return discarded_; }
    time_point now() const noexcept { return now_; }
    /// The message is a report about a message this spool sent, as `report`
    /// says (spool::smtp_report_reader finds them): the spooler applies it to
    /// the original before committing this message (docs/returned-reports.md).
    void report_returned(returned_report report) { returned_ = std::move(report); }
    std::optional<returned_report>& returned() noexcept { return returned_; }

private:
    Message* message_;
    folder_id folder_;
    time_point now_;
    bool discarded_ = false;
    std::optional<returned_report> returned_;
};

} // namespace spool
