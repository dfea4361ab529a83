// expect: spool::Transport: the transport is missing `address_types`
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A transport without address_types.
struct my_policy {
    using spool_concept = spool::transport_tag;
    spool::transmit_result transmit(spool::transmission<spool::message>&);
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
