// expect: spool::Store: the store is missing `finish`
// A store without finish.
#define SPOOL_TEST_WITHOUT_FINISH
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
