// expect: spool::Store: the store has `finish`, but not as spool calls it
// A store that declares finish the wrong way.
#define SPOOL_TEST_WRONG_FINISH
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
