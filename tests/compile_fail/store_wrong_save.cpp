// expect: spool::Store: the store has `save`, but not as spool calls it
// A store that declares save the wrong way.
#define SPOOL_TEST_WRONG_SAVE
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
