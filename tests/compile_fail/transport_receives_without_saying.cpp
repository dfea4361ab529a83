// expect: spool::ReceivingTransport: the transport has `receive` but never says when mail waits
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A transport that receives but neither polls nor signals.
struct my_policy {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const;
    spool::transmit_result transmit(spool::transmission<spool::message>&);
    spool::receive_result receive(spool::reception<spool::message>&);
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
