// expect: spool::Store: the store names no message type
#include <spool/spool.hpp>

struct my_store {
    using spool_concept = spool::store_tag;
};

spool::spooler<my_store, spool::memory_transport> sp;
