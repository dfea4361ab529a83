// expect: spool::Transport: the transport has `address_types`, but not as spool calls it
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A transport whose address_types is a string.
struct my_policy {
    using spool_concept = spool::transport_tag;
    std::string address_types() const;
    spool::transmit_result transmit(spool::transmission<spool::message>&);
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
