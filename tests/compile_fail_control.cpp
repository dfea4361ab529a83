// A valid composition: the compile-fail harness must report that it compiled.
#include <spool/spool.hpp>

spool::spooler<spool::memory_store, spool::memory_transport> sp;
