// expect: spool::Store: the store is missing `load`
// A store without load.
#define SPOOL_TEST_WITHOUT_LOAD
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
