// expect: spool::Store: the store has `create`, but not as spool calls it
// A store that declares create the wrong way.
#define SPOOL_TEST_WRONG_CREATE
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
