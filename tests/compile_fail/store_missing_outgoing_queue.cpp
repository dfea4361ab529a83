// expect: spool::Store: the store is missing `outgoing_queue`
// A store without outgoing_queue.
#define SPOOL_TEST_WITHOUT_OUTGOING_QUEUE
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
