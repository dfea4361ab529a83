#pragma once

// The outgoing side's second stage (MAPI: the spooler runs registered
// preprocessors on a locked message before any transport sees it): every
// preprocessor whose address types match a recipient still waiting, in
// composed order. A failure fails the recipients still waiting; recipients a
// preprocessor reports undeliverable fail alone.

#include <spool/detail/recipient_state.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/message.hpp>
#include <spool/preprocessing.hpp>

#include <optional>
#include <string>

namespace spool::detail {

/// Runs the composed preprocessors on `m`, then clears its preprocess flag.
template <class Core, class Message>
void preprocess(Core& core, Message& m, time_point now) {
    std::optional<std::string> failure;
    core.for_each_preprocessor([&](auto& p, const spool::address_types& types) {
        if (failure || !preprocessor_applies(types, m)) return;
        preprocessing<Message> job(m, now);
        const preprocess_result result =
            guarded([&] { return p.preprocess(job); },
                    [](const std::string& what) { return preprocess_result::fail("preprocessor threw: " + what); });
        for (const auto& u : job.undeliverable_recipients())
            for (recipient& r : m.recipients)
                if (awaiting_transport(r) && r.address_type == u.address_type && r.address == u.address)
                    fail(r, u.reason, u.diagnostic.empty() ? preprocessing_diagnostic : u.diagnostic);
        if (!result.succeeded()) failure = result.reason();
    });
    if (failure) {
        for (recipient& r : m.recipients)
            if (awaiting_transport(r)) fail(r, "preprocessing failed: " + *failure, preprocessing_diagnostic);
        core.counts().preprocessing_failures.fetch_add(1);
    }
    m.submission = m.submission & ~submit_flags::preprocess;
}

} // namespace spool::detail
