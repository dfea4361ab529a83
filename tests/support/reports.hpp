#pragma once

// Helpers for the report tests: a message from a known sender, and the reports a store received.

#include <spool/spool.hpp>

#include <string>
#include <vector>

namespace spool_test {

inline spool::message from_ann(std::vector<spool::recipient> to, std::string subject = "quarterly figures") {
    spool::message m;
    m.recipients = std::move(to);
    m.payload.subject = std::move(subject);
    m.sender = {"Ann", "ann@x", "SMTP"};
    return m;
}

template <class Store>
std::vector<spool::message> reports_in(const Store& store,
                                              spool::folder_id folder = spool::folders::inbox) {
    std::vector<spool::message> out;
    for (auto id : store.contents(folder)) {
        auto m = store.load(id).value();
        if (m.report) out.push_back(m);
    }
    return out;
}

} // namespace spool_test
