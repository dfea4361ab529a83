// expect: spool::Store: the store has `contents`, but not as spool calls it
// A store that declares contents the wrong way.
#define SPOOL_TEST_WRONG_CONTENTS
#include "store_parts.hpp"

spool::spooler<my_store, spool::memory_transport> sp;
