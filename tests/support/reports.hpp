#pragma once

// Helpers for the report tests: a message from a known sender, and the reports a store received.

#include <spool/spool.hpp>

#include <memory>
#include <set>
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

/// A Postprocessor that takes each incoming message whose subject is
/// `subject` (every message, when it is empty) for a report mailed back, as
/// `report` says (set it once the original's id is known). Copies share it.
struct returned_report_reader {
    using spool_concept = spool::postprocessor_tag;
    std::shared_ptr<spool::returned_report> report = std::make_shared<spool::returned_report>();
    std::string subject;
    spool::postprocess_result postprocess(spool::postprocessing<spool::message>& job) {
        if (subject.empty() || job.message().payload.subject == subject) job.report_returned(*report);
        return spool::postprocess_result::ok();
    }
};

/// A Transport that sends every recipient except those listed in `waiting`,
/// which it defers as a greylisting SMTP server does (450 4.7.1), until they
/// are taken off the list. With `relays`, the others are relayed to a next
/// hop that took the report request over, as spool's SMTP transport reports
/// a server that accepted DSN. Copies share the list.
struct greylisting {
    using spool_concept = spool::transport_tag;
    std::shared_ptr<std::set<std::string>> waiting = std::make_shared<std::set<std::string>>();
    bool relays = false;

    spool::address_types address_types() const { return {"SMTP"}; }
    template <class Message>
    spool::transmit_result transmit(spool::transmission<Message>& tx) {
        for (const auto& r : tx.recipients()) {
            if (waiting->contains(r.address)) tx.deferred(r, "450 4.7.1 <" + r.address + ">: greylisted, try again later", "4.7.1");
            else if (relays) tx.relayed(r, true);
            else tx.sent(r);
        }
        return spool::transmit_result::done();
    }
};

} // namespace spool_test
