// expect: spool::single_threaded: every transport must be synchronous
#include <spool/spool.hpp>

// single_threaded calls transports inline, one at a time: an asynchronous transport cannot be composed.
struct my_async_transport {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const;
    void async_transmit(spool::transmission<spool::message>&, spool::transmit_handler);
};

spool::spooler<spool::memory_store, my_async_transport, spool::single_threaded> sp;
