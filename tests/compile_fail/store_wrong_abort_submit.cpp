// expect: spool::Store: the store has `abort_submit`, but not as spool calls it
// A store that declares abort_submit the wrong way.
#define SPOOL_TEST_WRONG_ABORT_SUBMIT
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
