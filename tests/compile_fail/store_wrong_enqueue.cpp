// expect: spool::Store: the store has `enqueue`, but not as spool calls it
// A store that declares enqueue the wrong way.
#define SPOOL_TEST_WRONG_ENQUEUE
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
