// expect: spool::Store: the store has `outgoing_queue`, but not as spool calls it
// A store that declares outgoing_queue the wrong way.
#define SPOOL_TEST_WRONG_OUTGOING_QUEUE
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
