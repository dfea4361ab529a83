#pragma once

// A message in the spooler's hands: taken from the queue and locked, its
// recipients routed and handed off, until its outcome is committed. Each
// stage of the outgoing side works on these.

#include <spool/detail/completion.hpp>
#include <spool/detail/routing.hpp>
#include <spool/message.hpp>
#include <spool/run_report.hpp>

#include <algorithm>
#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace spool::detail {

template <class Message>
struct message_job {
    template <class Load>
    message_job(message_id id, time_point now, Load&& load) : done(id, now, std::forward<Load>(load)) {}
    completion<Message> done; // the message, where the store's load put it, and its deadline
    std::error_code error; // of its store writes
    std::vector<route_mark> route;
    std::size_t open = 0;     // hand-offs in flight or waiting for room
    std::size_t unrouted = 0; // recipients no step matches, for the round's end to fail
    std::size_t deferred = 0;
    bool offering = false;    // its recipients are being offered: its round cannot end before that is over
    bool offer_again = false; // a completed hand-off declined some of them: to offer to later steps
    bool changed = false;     // something to write
    bool held = false;        // recipients left as they were, for a destination that is down or a stop
    bool kept = false;        // its outcome's commit failed: kept to be written again
    std::optional<time_point> held_until;
    std::string held_for;     // the destination that is down whose probe comes first (held_until)
    typename std::list<message_job>::iterator self;
};

/// Keeps the earliest time something is due in the pass's report.
inline void note_due(run_report& report, time_point due) {
    report.next_due = report.next_due ? std::min(*report.next_due, due) : due;
}

} // namespace spool::detail
