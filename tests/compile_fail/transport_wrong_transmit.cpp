// expect: spool::Transport: the transport has `transmit`, but not as spool calls it
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A transport whose transmit returns bool.
struct my_policy {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const;
    bool transmit(spool::transmission<spool::message>&);
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
