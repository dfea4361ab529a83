#pragma once

// The workload of the durable stores' benchmarks: messages of 1 KiB to one
// recipient, deleted when sent, and a transport that sends each at once (or
// after a set time, synchronously, to hold hand-offs open).

#include <spool/spool.hpp>

#include <chrono>
#include <cstddef>
#include <thread>

namespace spool_bench {

inline constexpr std::size_t row_bytes = 1024;

struct discard_transport {
    using spool_concept = spool::transport_tag;
    std::chrono::milliseconds per_message{0};
    spool::address_types address_types() const { return spool::address_types::any(); }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        if (per_message.count() > 0) std::this_thread::sleep_for(per_message);
        for (const auto& r : tx.recipients()) tx.sent(r);
        return spool::transmit_result::done();
    }
};

inline spool::message one_kib_message() {
    spool::message m;
    m.recipients = {{"A", "a@example.org", "SMTP"}};
    m.payload.subject = "benchmark";
    m.payload.body.assign(row_bytes, 'x');
    m.sent_mail = spool::disposition::delete_after_submit{};
    return m;
}

} // namespace spool_bench
