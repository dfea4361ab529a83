// expect: spool::single_threaded: every transport must be synchronous .*declare no max_in_flight above 1
#include <spool/spool.hpp>

// A synchronous transport that wants several hand-offs at once (on worker threads) cannot be single-threaded.
struct my_pooled_transport {
    using spool_concept = spool::transport_tag;
    static constexpr std::size_t max_in_flight = 8;
    spool::address_types address_types() const;
    spool::transmit_result transmit(spool::transmission<spool::message>&);
};

spool::spooler<spool::memory_store, my_pooled_transport, spool::single_threaded> sp;
