// expect: spool::Store: the store is missing `enqueue`
// A store without enqueue.
#define SPOOL_TEST_WITHOUT_ENQUEUE
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
