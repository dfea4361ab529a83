// expect: spool::Store: the store is missing `contents`
// A store without contents.
#define SPOOL_TEST_WITHOUT_CONTENTS
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
