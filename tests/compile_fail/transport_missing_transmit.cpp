// expect: spool::Transport: the transport is missing `transmit`. Add `spool::transmit_result transmit\(spool::transmission<M>&\);` or, asynchronous, `void async_transmit\(spool::transmission<M>&, spool::transmit_handler\);` \(M: the store.s message_type\)
#include <spool/spool.hpp>

struct pager {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return {"PAGER"}; }
    // transmit() was spelled wrongly:
    spool::transmit_result send(spool::transmission<spool::message>&) { return spool::transmit_result::done(); }
};

spool::spooler<spool::memory_store, pager> sp;
