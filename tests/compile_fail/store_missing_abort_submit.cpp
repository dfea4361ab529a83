// expect: spool::Store: the store is missing `abort_submit`
// A store without abort_submit.
#define SPOOL_TEST_WITHOUT_ABORT_SUBMIT
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
