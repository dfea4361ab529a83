// expect: spool::Store: the store is missing `create`
// A store without create.
#define SPOOL_TEST_WITHOUT_CREATE
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
