// expect: spool::Transport: the transport has `async_transmit`, but not as spool calls it
#include <spool/spool.hpp>

// An asynchronous transport whose handler parameter is a plain function.
struct my_policy {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const;
    void async_transmit(spool::transmission<spool::message>&, void (*done)(spool::transmit_result));
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
