// expect: spool::Store: the store has `load`, but not as spool calls it
// A store that declares load the wrong way.
#define SPOOL_TEST_WRONG_LOAD
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
