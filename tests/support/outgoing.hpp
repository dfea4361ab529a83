#pragma once

// Helpers the tests of the outgoing side share.

#include <spool/spool.hpp>

#include <string>
#include <vector>

namespace spool_test {

inline std::vector<std::string> addresses(const std::vector<spool::memory_transport::delivery>& ds) {
    std::vector<std::string> out;
    for (const auto& d : ds) out.push_back(d.address);
    return out;
}

/// A transport script that sends to every recipient it is given.
inline spool::transmit_result send_all(spool::transmission<spool::message>& tx) {
    for (const auto& r : tx.recipients()) tx.sent(r);
    return spool::transmit_result::done();
}

} // namespace spool_test
