// expect: spool::spooler: this type has no spool role
#include <spool/spool.hpp>

// Has every member of a transport, but never said it is one.
struct pager {
    spool::address_types address_types() const { return {"PAGER"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>&) { return spool::transmit_result::done(); }
};

spool::spooler<spool::memory_store, pager> sp;
