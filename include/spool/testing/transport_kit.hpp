#pragma once

// Unit-testing your own Transport or Preprocessor without a spooler: hand it
// one message, as the spooler would, and see what it did.
//
//     my_transport t;
//     spool::message m = ...;
//     auto handed = spool::testing::hand_off(t, m);
//     assert(handed.result.what() == spool::transmit_result::kind::done);
//     assert(handed.sent.size() == 2 && handed.declined.empty());
//
//     auto run = spool::testing::run_preprocessor(my_preprocessor{}, m);
//     assert(run.result.succeeded() && run.message.payload.subject == "[scanned] ...");

#include <spool/address_types.hpp>
#include <spool/concepts.hpp>
#include <spool/message.hpp>
#include <spool/preprocessing.hpp>
#include <spool/transmission.hpp>
#include <spool/transmit_handler.hpp>
#include <spool/detail/handoff_result.hpp>
#include <spool/detail/requirements.hpp>
#include <spool/detail/routing.hpp>

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace spool::testing {

/// What a transport did with one hand-off.
struct hand_off_record {
    transmit_result result = transmit_result::done();
    /// The recipients it reported sent, each with status::sent and the time it gave.
    std::vector<recipient> sent;
    /// The recipients it reported failed, each with status::failed, reason and diagnostic.
    std::vector<recipient> failed;
    /// The recipients it deferred on their own (transmission::deferred), each
    /// with status::deferred: reason, diagnostic, and the next attempt it asked
    /// for (the epoch when it left that to the retry policy).
    std::vector<recipient> deferred;
    /// The recipients it was given and did not report: the spooler would offer
    /// them to the next matching transport (or, after not_me, all of them).
    std::vector<recipient> declined;
};

namespace detail {
// Where an asynchronous transport's completion lands when a test hands off:
// the test waits for it, from whatever thread it comes.
// The key to a transmission, which only the spooler and this kit make.
struct handoff_key_maker {
    static handoff_key make() noexcept { return {}; }
};

class waiting_sink final : public handoff_sink {
public:
    void complete(void*, transmit_result&& r) noexcept override {
        std::lock_guard g{mutex_};
        result_.emplace(std::move(r));
        done_.notify_all();
    }
    transmit_result wait() {
        std::unique_lock l{mutex_};
        done_.wait(l, [&] { return result_.has_value(); });
        return std::move(*result_);
    }

private:
    std::mutex mutex_;
    std::condition_variable done_;
    std::optional<transmit_result> result_;
};
} // namespace detail

/// Hands `m` to `transport` once, as the spooler does: with the recipients at
/// `assigned` (indices into m.recipients, ascending), or by default every
/// recipient not yet settled whose address type the transport takes, at the
/// time `now`. A recipient the transport reports but was not given makes
/// transmission throw std::invalid_argument, as it does under the spooler.
/// An asynchronous transport is waited for until it completes the hand-off,
/// on whatever thread it does.
template <class T, class Message>
    requires Transport<T, Message>
hand_off_record hand_off(T& transport, const Message& m, time_point now = {},
                         std::optional<std::vector<std::size_t>> assigned = std::nullopt) {
    std::vector<std::size_t> chosen;
    if (assigned) {
        chosen = std::move(*assigned);
    } else {
        const spool::address_types types = transport.address_types();
        for (std::size_t i = 0; i < m.recipients.size(); ++i)
            if (!m.recipients[i].settled() && types.matches(m.recipients[i].address_type)) chosen.push_back(i);
    }
    std::vector<recipient_outcome> outcomes(chosen.size());
    transmission<Message> tx(detail::handoff_key_maker::make(), m, chosen, outcomes, now);
    hand_off_record record;
    if constexpr (spool::detail::transport_transmits_later<T, Message>) {
        auto sink = std::make_shared<detail::waiting_sink>();
        transport.async_transmit(tx, transmit_handler{sink, nullptr});
        record.result = sink->wait();
    } else {
        record.result = transport.transmit(tx);
    }
    // The recipients as the spooler would leave them (one applier for both),
    // sorted by what the transport itself reported for each.
    std::vector<recipient_outcome::kind> reported(outcomes.size());
    for (std::size_t k = 0; k < outcomes.size(); ++k) reported[k] = outcomes[k].what;
    Message applied = m;
    std::vector<spool::detail::route_mark> route(m.recipients.size(), spool::detail::done_here);
    spool::detail::apply_handoff_result(applied, {chosen.data(), chosen.size()}, {outcomes.data(), outcomes.size()},
                                        record.result, {{route.data(), route.size()}, {}, 0},
                                        {now, time_point::max(), time_point{}, std::nullopt},
                                        [](unsigned) { return time_point{}; }); // the retry policy's: not decided here
    for (std::size_t k = 0; k < chosen.size(); ++k) {
        const recipient& r = applied.recipients[chosen[k]];
        if (record.result.what() == transmit_result::kind::not_me) record.declined.push_back(m.recipients[chosen[k]]);
        else if (reported[k] == recipient_outcome::kind::sent) record.sent.push_back(r);
        else if (reported[k] == recipient_outcome::kind::failed) record.failed.push_back(r);
        else if (reported[k] == recipient_outcome::kind::deferred) record.deferred.push_back(r);
        else record.declined.push_back(m.recipients[chosen[k]]);
    }
    return record;
}

/// What a preprocessor did with one message.
template <class Message>
struct preprocessor_run {
    preprocess_result result = preprocess_result::ok();
    /// The message as the preprocessor left it.
    Message message;
    /// The recipients it reported undeliverable.
    std::vector<typename preprocessing<Message>::undeliverable_recipient> undeliverable;
    /// Whether its address types say it applies to some recipient of the message
    /// (the spooler runs it only then; this runs it all the same).
    bool applies = false;
};

/// Runs `preprocessor` on a copy of `m` at the time `now`, as the spooler does.
template <class P, class Message>
    requires Preprocessor<P, Message>
preprocessor_run<Message> run_preprocessor(P& preprocessor, Message m, time_point now = {}) {
    preprocessor_run<Message> run;
    const spool::address_types types = preprocessor.address_types();
    for (const recipient& r : m.recipients) run.applies = run.applies || types.matches(r.address_type);
    preprocessing<Message> job(m, now);
    run.result = preprocessor.preprocess(job);
    run.undeliverable = job.undeliverable_recipients();
    run.message = std::move(m);
    return run;
}
/// The same, for a preprocessor made in place.
template <class P, class Message>
    requires(Preprocessor<P, Message> && !std::is_lvalue_reference_v<P>)
preprocessor_run<Message> run_preprocessor(P&& preprocessor, Message m, time_point now = {}) {
    return run_preprocessor(preprocessor, std::move(m), now);
}

} // namespace spool::testing
